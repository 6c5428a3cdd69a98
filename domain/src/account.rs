//! The answers of a requestor's account webhook, in the terms of the OctoDB auth callbacks
//! it follows: a user ID, `0` for a new user, `-1` not authorized, `-3` an error, and
//! `"pending"` when the decision comes later.

use serde_json::Value;

use super::ids::UserId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountAnswer {
    /// Link this user (new or existing), whatever ID the link was asked for.
    User(UserId),
    /// Link a new user, with an ID the gateway makes.
    NewUser,
    Unauthorized,
    Error,
    /// The backend decides later, through the approval endpoint.
    Pending,
}

impl AccountAnswer {
    /// Reads `answer` as the webhook (or the approval call) gives it: a user ID as a
    /// string or as a positive number, or one of the codes.
    pub fn parse(answer: &Value) -> Result<Self, String> {
        match answer {
            Value::Number(n) => match n.as_i64() {
                Some(0) => Ok(Self::NewUser),
                Some(-1) => Ok(Self::Unauthorized),
                Some(-3) => Ok(Self::Error),
                Some(id) if id > 0 => Ok(Self::User(user(&id.to_string())?)),
                _ => Err(format!("{n} is neither a user ID nor 0, -1 or -3")),
            },
            Value::String(s) if s == "pending" => Ok(Self::Pending),
            Value::String(s) => Ok(Self::User(user(s)?)),
            other => Err(format!(
                "{other} is neither a user ID nor 0, -1, -3 or \"pending\""
            )),
        }
    }
}

fn user(id: &str) -> Result<UserId, String> {
    UserId::parse(id).map_err(|e| format!("user ID {id:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_answer_of_the_callbacks_reads() {
        let parse = |v: Value| AccountAnswer::parse(&v);
        assert_eq!(
            parse(json!("alice")),
            Ok(AccountAnswer::User(UserId::parse("alice").unwrap()))
        );
        assert_eq!(
            parse(json!(42)),
            Ok(AccountAnswer::User(UserId::parse("42").unwrap()))
        );
        assert_eq!(parse(json!(0)), Ok(AccountAnswer::NewUser));
        assert_eq!(parse(json!(-1)), Ok(AccountAnswer::Unauthorized));
        assert_eq!(parse(json!(-3)), Ok(AccountAnswer::Error));
        assert_eq!(parse(json!("pending")), Ok(AccountAnswer::Pending));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            json!(-2),
            json!(1.5),
            json!(null),
            json!(true),
            json!("a b"),
            json!([]),
        ] {
            assert!(AccountAnswer::parse(&bad).is_err(), "{bad}");
        }
    }
}

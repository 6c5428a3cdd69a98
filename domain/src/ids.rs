//! Identifiers that arrive from outside. User IDs follow the Matchmaker rule (letters,
//! digits, `_ - =`); device IDs may also hold base64's `+` and `/` (Adobe clients send a
//! base64 hash of the device), except in the Matchmaker dialect, whose rule is its seed's.
//! Both are bounded so that keys and labels stay small. A `/` cannot be named in a path:
//! such a device uses the dialects that name it in a parameter.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest device or user ID accepted.
pub const MAX_ID_LEN: usize = 128;

/// The IDs `UserId` accepts (and the Matchmaker dialect's device IDs), as a regular
/// expression for the API's description.
pub const USER_ID_PATTERN: &str = "^[A-Za-z0-9_=-]{1,128}$";

/// The IDs `DeviceId` accepts, likewise.
pub const DEVICE_ID_PATTERN: &str = "^[A-Za-z0-9_=+/-]{1,128}$";

fn is_valid_id(s: &str, base64: bool) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'_' | b'-' | b'=')
                || (base64 && matches!(b, b'+' | b'/'))
        })
}

/// An ID that failed validation; which kind tells the caller which error to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("Illegal device ID")]
    Device,
    #[error("Illegal user ID")]
    User,
}

macro_rules! external_id {
    ($(#[$doc:meta])* $name:ident, $err:expr, $base64:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if is_valid_id(s, $base64) { Ok(Self(s.to_owned())) } else { Err($err) }
            }

            /// As the Matchmaker dialect reads IDs: letters, digits, `_ - =` only.
            pub fn parse_matchmaker(s: &str) -> Result<Self, IdError> {
                if is_valid_id(s, false) { Ok(Self(s.to_owned())) } else { Err($err) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                if is_valid_id(&s, $base64) { Ok(Self(s)) } else { Err($err) }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

external_id!(
    /// A device's own identifier, as the device reports it.
    DeviceId,
    IdError::Device,
    true
);
external_id!(
    /// A user's identifier at the requestor or its MVPD.
    UserId,
    IdError::User,
    false
);

/// Requestor names double as Kubernetes object names: RFC 1123 labels.
pub fn is_valid_requestor_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The patterns the API's description gives are the rules themselves.
        #[test]
        fn the_described_patterns_are_the_rules(id in "[A-Za-z0-9_=+/ .-]{0,130}") {
            let user = regex::Regex::new(USER_ID_PATTERN).unwrap();
            let device = regex::Regex::new(DEVICE_ID_PATTERN).unwrap();
            proptest::prop_assert_eq!(user.is_match(&id), is_valid_id(&id, false));
            proptest::prop_assert_eq!(device.is_match(&id), is_valid_id(&id, true));
        }
    }

    #[test]
    fn the_described_patterns_bound_the_length() {
        let device = regex::Regex::new(DEVICE_ID_PATTERN).unwrap();
        assert!(device.is_match(&"a".repeat(MAX_ID_LEN)));
        assert!(!device.is_match(&"a".repeat(MAX_ID_LEN + 1)));
    }

    #[test]
    fn ids_accept_the_matchmaker_alphabet() {
        assert!(DeviceId::parse("roku_42-A=").is_ok());
        assert!(UserId::parse("_guid_lAtpDqR_emDPQB5dcb6iLVP-eBkAC32J2ySHwUsFGjs=").is_ok());
    }

    #[test]
    fn device_ids_accept_base64_hashes_except_in_the_matchmaker_dialect() {
        let hash = "q2Vt+/x9Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==";
        assert!(DeviceId::parse(hash).is_ok());
        assert_eq!(DeviceId::parse_matchmaker(hash), Err(IdError::Device));
        assert!(DeviceId::parse_matchmaker("roku_42-A=").is_ok());
        for user in [hash, "a/b", "a+b"] {
            assert_eq!(UserId::parse(user), Err(IdError::User), "{user}");
        }
    }

    #[test]
    fn ids_reject_other_characters_empty_and_overlong() {
        for bad in ["", "a b", "a\\b", "é", "a.b", "a\0", "a%2F", "a?b"] {
            assert_eq!(DeviceId::parse(bad), Err(IdError::Device), "{bad:?}");
            assert_eq!(UserId::parse(bad), Err(IdError::User), "{bad:?}");
        }
        assert!(DeviceId::parse(&"x".repeat(MAX_ID_LEN)).is_ok());
        assert_eq!(
            DeviceId::parse(&"x".repeat(MAX_ID_LEN + 1)),
            Err(IdError::Device)
        );
    }

    #[test]
    fn deserialising_validates_too() {
        assert!(serde_json::from_str::<DeviceId>("\"ok-1\"").is_ok());
        assert!(serde_json::from_str::<DeviceId>("\"not ok\"").is_err());
    }

    #[test]
    fn requestor_names_are_dns_labels() {
        assert!(is_valid_requestor_name("demo"));
        assert!(is_valid_requestor_name("nbc-sports2"));
        for bad in ["", "Demo", "-a", "a-", "a_b", &"a".repeat(64)] {
            assert!(!is_valid_requestor_name(bad), "{bad:?}");
        }
    }
}

//! The request URI the edge decides on and passes on: the normal form of its path, and
//! without the media token a player put in the query (so neither the origin nor a log line
//! sees it).

use http::StatusCode;
use pingora::proxy::Session;

use crate::api::ApiError;
use linkgate_domain::path::normalise;

/// Puts the request's path in normal form; `Err` when the path is refused.
pub fn normalise_path(session: &mut Session) -> Result<(), ApiError> {
    let uri = &session.req_header().uri;
    let normal = match normalise(uri.path()) {
        Ok(std::borrow::Cow::Borrowed(_)) => return Ok(()),
        Ok(std::borrow::Cow::Owned(normal)) => normal,
        Err(e) => return Err(invalid_path(e)),
    };
    let query = uri.query().map(str::to_owned);
    rewrite(session, &normal, query.as_deref())
}

/// Removes every `name=` parameter from the request's query.
pub fn remove_query_param(session: &mut Session, name: &str) -> Result<(), ApiError> {
    let uri = &session.req_header().uri;
    let Some(query) = uri.query().and_then(|q| without_param(q, name)) else {
        return Ok(());
    };
    let path = uri.path().to_owned();
    rewrite(
        session,
        &path,
        (!query.is_empty()).then_some(query.as_str()),
    )
}

fn rewrite(session: &mut Session, path: &str, query: Option<&str>) -> Result<(), ApiError> {
    let target = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let uri = http::Uri::builder()
        .path_and_query(target)
        .build()
        .map_err(|_| invalid_path("the request target is not a valid URI"))?;
    session.req_header_mut().set_uri(uri);
    Ok(())
}

/// The query without its `name` parameters (compared decoded), or `None` when it has none.
/// The other parameters keep their encoding, byte for byte.
fn without_param(query: &str, name: &str) -> Option<String> {
    let is_named = |pair: &&str| {
        let key = pair.split('=').next().unwrap_or_default();
        url::form_urlencoded::parse(key.as_bytes())
            .next()
            .is_some_and(|(k, _)| k == name)
    };
    if !query.split('&').any(|pair| is_named(&pair)) {
        return None;
    }
    let kept: Vec<&str> = query.split('&').filter(|pair| !is_named(pair)).collect();
    Some(kept.join("&"))
}

/// The refusal names what is wrong, never the path itself.
fn invalid_path(why: impl ToString) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_parameter_goes_in_whatever_encoding() {
        assert_eq!(
            without_param("token=a.b.c&x=1", "token").as_deref(),
            Some("x=1")
        );
        assert_eq!(
            without_param("x=%2F&%74oken=t&y", "token").as_deref(),
            Some("x=%2F&y")
        );
        assert_eq!(
            without_param("token=a&token=b", "token").as_deref(),
            Some("")
        );
        assert_eq!(without_param("tokens=a&x=1", "token"), None);
        assert_eq!(without_param("x=token", "token"), None);
    }
}

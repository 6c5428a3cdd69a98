//! Parameters of a request: the query string and a form or JSON body, read the same way
//! whatever the dialect.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use super::error::ApiError;

/// A query string's parameters, decoded once per request; a value with nothing escaped
/// stays borrowed from the request.
#[derive(Default)]
pub struct Query<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Query<'a> {
    pub fn parse(query: Option<&'a str>) -> Self {
        let Some(query) = query else {
            return Self::default();
        };
        if query.contains(['%', '+']) {
            return Self(url::form_urlencoded::parse(query.as_bytes()).collect());
        }
        // Nothing escaped (the usual case): the pairs are slices of the query, as the
        // decoder would make them, without its decoding pass.
        let pairs = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (Cow::Borrowed(name), Cow::Borrowed(value))
            });
        Self(pairs.collect())
    }

    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_ref())
    }
}

pub struct Input<'q> {
    query: Query<'q>,
    body: Body,
}

enum Body {
    Form(Vec<(String, String)>),
    Json(Map<String, Value>),
}

impl<'q> Input<'q> {
    pub fn parse(query: Query<'q>, headers: &HeaderMap, body: &Bytes) -> Result<Self, ApiError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        let body = match content_type.as_deref() {
            _ if body.is_empty() => Body::Form(Vec::new()),
            Some("application/json") => match serde_json::from_slice(body) {
                Ok(Value::Object(map)) => Body::Json(map),
                Ok(_) => return Err(invalid_body("the JSON body must be an object")),
                Err(e) => return Err(invalid_body(format!("the JSON body is malformed: {e}"))),
            },
            Some("application/x-www-form-urlencoded") | None => Body::Form(form(body)),
            Some(other) => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("bodies are JSON or form-encoded, not {other:?}"),
                ));
            }
        };
        Ok(Self { query, body })
    }

    /// A parameter from the body, else from the query string.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let from_body = match &self.body {
            Body::Form(pairs) => lookup(pairs, name).map(Cow::Borrowed),
            Body::Json(map) => match map.get(name) {
                Some(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
                Some(Value::Number(n)) => Some(Cow::Owned(n.to_string())),
                Some(Value::Bool(b)) => Some(Cow::Owned(b.to_string())),
                _ => None,
            },
        };
        from_body
            .or_else(|| self.query.get(name).map(Cow::Borrowed))
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &'static str) -> Result<Cow<'_, str>, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::missing_parameter(name))
    }

    /// A whole number of seconds.
    pub fn seconds(&self, name: &'static str) -> Result<Option<std::time::Duration>, ApiError> {
        self.get(name)
            .map(|s| {
                s.parse()
                    .map(std::time::Duration::from_secs)
                    .map_err(|e| ApiError::invalid_parameter(name, e))
            })
            .transpose()
    }

    /// A field of a JSON body as it was sent (a list, say); `None` for a form body.
    pub fn json_field(&self, name: &str) -> Option<&Value> {
        match &self.body {
            Body::Json(map) => map.get(name),
            Body::Form(_) => None,
        }
    }

    /// A JSON object of string values (e.g. user metadata); empty when absent.
    pub fn string_map(
        &self,
        name: &'static str,
    ) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
        let Body::Json(map) = &self.body else {
            return Ok(Default::default());
        };
        match map.get(name) {
            None | Some(Value::Null) => Ok(Default::default()),
            Some(Value::Object(obj)) => obj
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(ApiError::invalid_parameter(name, "values must be strings")),
                })
                .collect(),
            Some(_) => Err(ApiError::invalid_parameter(name, "must be an object")),
        }
    }
}

/// One parameter of a query string, without parsing the body.
pub fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v)
}

fn form(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn invalid_body(message: impl Into<Cow<'static, str>>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        h
    }

    #[test]
    fn a_query_reads_as_the_form_decoder_reads_it() {
        for query in [
            "requestor=bench&deviceId=tv",
            "a=1&&b=&c&=d&a=2",
            "x=a=b&y",
            "",
            "&",
            "d=q2Vt%2B%2Fx9&e=a+b&f=%41",
            "resource=%3Crss%3E",
        ] {
            let ours: Vec<(String, String)> = Query::parse(Some(query))
                .0
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let decoder: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            assert_eq!(ours, decoder, "{query:?}");
        }
    }

    #[test]
    fn body_wins_over_query_and_empty_values_are_absent() {
        let body = Bytes::from_static(b"deviceId=from-body&mvpd=");
        let input = Input::parse(
            Query::parse(Some("deviceId=from-query&ttl=60")),
            &headers("application/x-www-form-urlencoded"),
            &body,
        )
        .unwrap();
        assert_eq!(input.get("deviceId").as_deref(), Some("from-body"));
        assert_eq!(input.get("ttl").as_deref(), Some("60"));
        assert_eq!(input.get("mvpd"), None);
        assert_eq!(input.require("code").unwrap_err().code, "missing_parameter");
    }

    #[test]
    fn json_bodies_give_strings_numbers_and_maps() {
        let body =
            Bytes::from_static(br#"{"userId":"u1","ttlSeconds":60,"metadata":{"zip":"10001"}}"#);
        let input = Input::parse(
            Query::default(),
            &headers("application/json; charset=utf-8"),
            &body,
        )
        .unwrap();
        assert_eq!(input.get("userId").as_deref(), Some("u1"));
        assert_eq!(input.get("ttlSeconds").as_deref(), Some("60"));
        assert_eq!(input.string_map("metadata").unwrap()["zip"], "10001");
    }

    #[test]
    fn malformed_or_foreign_bodies_are_refused() {
        let bad = Input::parse(
            Query::default(),
            &headers("application/json"),
            &Bytes::from_static(b"{"),
        );
        assert_eq!(bad.err().unwrap().code, "invalid_body");
        let array = Input::parse(
            Query::default(),
            &headers("application/json"),
            &Bytes::from_static(b"[]"),
        );
        assert_eq!(array.err().unwrap().code, "invalid_body");
        let xml = Input::parse(
            Query::default(),
            &headers("text/xml"),
            &Bytes::from_static(b"<a/>"),
        );
        assert_eq!(
            xml.err().unwrap().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    proptest::proptest! {
        /// Any query and any body, form or JSON, is read or refused with a 4xx, never a panic.
        #[test]
        fn any_query_and_body_is_read_or_refused(
            query in "\\PC{0,64}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
            json in proptest::bool::ANY,
        ) {
            let content_type = if json { "application/json" } else { "application/x-www-form-urlencoded" };
            match Input::parse(Query::parse(Some(&query)), &headers(content_type), &Bytes::from(body)) {
                Ok(input) => {
                    let _ = input.get("deviceId");
                }
                Err(e) => proptest::prop_assert!(e.status.is_client_error()),
            }
        }
    }
}

//! Objects as the API server holds them, read without failing. One object this build cannot
//! read (a field from a newer version during a rolling upgrade, a value out of range) keeps
//! its metadata and the reason, so it never fails the list or the watch of every other.
//! Only objects already stored are read this way: configuration files and the CRD schemas
//! stay strict.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

/// A stored object of kind `K`: read, or unreadable by this build.
#[derive(Clone, Debug)]
pub enum Stored<K> {
    Read(K),
    Unreadable(Box<Unreadable>),
}

/// What is known of an object that could not be read.
#[derive(Clone, Debug)]
pub struct Unreadable {
    pub metadata: ObjectMeta,
    /// Where and why reading failed, e.g. "spec.throttling.perDevice.false: unknown field
    /// `false` …".
    pub reason: String,
}

impl<K> Stored<K> {
    /// The object, or what is known of it and why it could not be read.
    pub fn into_read(self) -> Result<K, Box<Unreadable>> {
        match self {
            Stored::Read(object) => Ok(object),
            Stored::Unreadable(unreadable) => Err(unreadable),
        }
    }
}

impl<'de, K: DeserializeOwned> Deserialize<'de> for Stored<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        match serde_path_to_error::deserialize::<_, K>(&value) {
            Ok(object) => Ok(Stored::Read(object)),
            Err(e) => {
                // Without readable metadata there is nothing to name or report.
                let metadata = value
                    .get("metadata")
                    .map(ObjectMeta::deserialize)
                    .transpose()
                    .map_err(D::Error::custom)?
                    .unwrap_or_default();
                Ok(Stored::Unreadable(Box::new(Unreadable {
                    metadata,
                    reason: e.to_string(),
                })))
            }
        }
    }
}

impl<K: Resource<DynamicType = ()>> Resource for Stored<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        match self {
            Stored::Read(object) => object.meta(),
            Stored::Unreadable(unreadable) => &unreadable.metadata,
        }
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Stored::Read(object) => object.meta_mut(),
            Stored::Unreadable(unreadable) => &mut unreadable.metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Stored;
    use crate::Requestor;
    use kube::ResourceExt;

    fn requestor(throttling: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "linkgate.dev/v1alpha1",
            "kind": "Requestor",
            "metadata": {"name": "acme", "namespace": "tenants", "resourceVersion": "7"},
            "spec": {"backend": {}, "throttling": throttling},
        })
    }

    #[test]
    fn an_object_this_build_cannot_read_keeps_its_name_and_the_place_it_failed() {
        let bad = requestor(serde_json::json!({"perDevice": {"false": true}}));
        let stored: Stored<Requestor> = serde_json::from_value(bad).unwrap();
        assert_eq!(stored.name_any(), "acme");
        let unreadable = stored.into_read().unwrap_err();
        let reason = &unreadable.reason;
        assert_eq!(unreadable.metadata.resource_version.as_deref(), Some("7"));
        assert!(
            reason.starts_with("spec.throttling.perDevice.false: unknown field `false`"),
            "{reason}"
        );
    }

    #[test]
    fn a_list_with_one_unreadable_object_reads_every_other() {
        let good = requestor(serde_json::json!({"perDevice": {"disabled": true}}));
        let bad = requestor(serde_json::json!({"perDevice": {"perSecond": -1}}));
        let list: Vec<Stored<Requestor>> =
            serde_json::from_value(serde_json::json!([good, bad, good])).unwrap();
        let read: Vec<bool> = list.into_iter().map(|s| s.into_read().is_ok()).collect();
        assert_eq!(read, [true, false, true]);
    }
}

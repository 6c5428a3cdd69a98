use std::collections::HashMap;
use std::sync::Arc;

use super::requestor::RequestorPolicy;

/// The requestors the gateway serves, by name, and by the ID their existing Adobe clients
/// send where they declare one.
#[derive(Clone, Debug, Default)]
pub struct Requestors {
    by_name: HashMap<String, Arc<RequestorPolicy>>,
    /// Declared client IDs held by exactly one requestor and equal to no name: an ID two
    /// requestors claim names neither.
    by_client_id: HashMap<String, Arc<RequestorPolicy>>,
}

impl Requestors {
    pub fn get(&self, name: &str) -> Option<&Arc<RequestorPolicy>> {
        self.by_name.get(name)
    }

    /// The requestor a request names: by its name, else by the client ID it declared.
    pub fn find(&self, id: &str) -> Option<&Arc<RequestorPolicy>> {
        self.get(id).or_else(|| self.by_client_id.get(id))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<RequestorPolicy>> {
        self.by_name.values()
    }
}

impl FromIterator<Arc<RequestorPolicy>> for Requestors {
    fn from_iter<I: IntoIterator<Item = Arc<RequestorPolicy>>>(iter: I) -> Self {
        let by_name: HashMap<_, _> = iter.into_iter().map(|p| (p.name.clone(), p)).collect();
        let mut claims: HashMap<&str, Vec<&Arc<RequestorPolicy>>> = HashMap::new();
        for p in by_name.values() {
            if let Some(id) = &p.adobe.requestor_id {
                claims.entry(id).or_default().push(p);
            }
        }
        let by_client_id = claims
            .into_iter()
            .filter(|(id, holders)| holders.len() == 1 && !by_name.contains_key(*id))
            .map(|(id, holders)| (id.to_owned(), Arc::clone(holders[0])))
            .collect();
        Self {
            by_name,
            by_client_id,
        }
    }
}

impl FromIterator<RequestorPolicy> for Requestors {
    fn from_iter<I: IntoIterator<Item = RequestorPolicy>>(iter: I) -> Self {
        iter.into_iter().map(Arc::new).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkgate_crds::RequestorSpec;

    fn requestor(name: &str, client_id: Option<&str>) -> RequestorPolicy {
        let adobe = client_id.map_or(String::new(), |id| {
            format!("\nadobe: {{requestorId: {id}}}")
        });
        let spec: RequestorSpec = serde_yaml_ng::from_str(&format!(
            "backend: {{apiKeySecretRef: {{name: x, key: y}}}}{adobe}"
        ))
        .unwrap();
        let secrets = |_: &linkgate_crds::SecretKeyRef| Some(b"k".to_vec());
        RequestorPolicy::from_spec(name, &spec, &secrets, crate::tenancy::Bounds::default())
            .unwrap()
    }

    #[test]
    fn a_requestor_is_found_by_its_name_or_its_declared_client_id() {
        let all: Requestors = [
            requestor("espn", Some("ESPN")),
            requestor("nbc", Some("NBCU")),
            requestor("fox", Some("NBCU")),
            requestor("abc", Some("espn")),
            requestor("plain", None),
        ]
        .into_iter()
        .collect();
        assert_eq!(all.find("ESPN").unwrap().name, "espn");
        assert_eq!(
            all.find("espn").unwrap().name,
            "espn",
            "a name wins over an ID"
        );
        assert!(all.find("NBCU").is_none(), "claimed twice: neither");
        assert_eq!(all.find("plain").unwrap().name, "plain");
        assert!(all.get("ESPN").is_none(), "get is by name only");
    }
}

//! What the edge derives from a configuration snapshot: limiters per requestor and the
//! content route table.

use std::collections::HashMap;
use std::sync::Arc;

use super::throttle::Limiters;
use linkgate_domain::requestor::RequestorPolicy;
use linkgate_domain::requestors::Requestors;

pub struct EdgePlan {
    limiters: HashMap<String, Limiters>,
    /// Longest prefix first, so the most specific route wins.
    routes: Vec<(Arc<RequestorPolicy>, usize)>,
}

impl EdgePlan {
    /// The plan for `requestors`, keeping the limiter state of `previous` for every limit
    /// that did not change, so an edit to one tenant leaves every other budget as it was.
    pub fn new(requestors: &Requestors, previous: Option<&EdgePlan>) -> Self {
        let limiters = requestors
            .iter()
            .map(|p| {
                let kept = previous.and_then(|plan| plan.limiters(&p.name));
                (p.name.clone(), Limiters::carry(&p.throttling, kept))
            })
            .collect();
        let mut routes: Vec<(Arc<RequestorPolicy>, usize)> = requestors
            .iter()
            .flat_map(|p| (0..p.routes.len()).map(move |i| (Arc::clone(p), i)))
            .collect();
        routes.sort_by_key(|(p, i)| std::cmp::Reverse(p.routes[*i].prefix.len()));
        Self { limiters, routes }
    }

    pub fn limiters(&self, requestor: &str) -> Option<&Limiters> {
        self.limiters.get(requestor)
    }

    /// The content route serving `path` (its requestor and its index among the
    /// requestor's routes): its prefix matches whole path segments.
    pub fn content_route(&self, path: &str) -> Option<(&Arc<RequestorPolicy>, usize)> {
        self.routes.iter().find_map(|(p, i)| {
            let prefix = p.routes[*i].prefix.trim_end_matches('/');
            let rest = path.strip_prefix(prefix)?;
            (rest.is_empty() || rest.starts_with('/') || prefix.is_empty()).then_some((p, *i))
        })
    }

    /// Forgets idle limiter keys.
    pub fn retain_recent(&self) {
        self.limiters.values().for_each(Limiters::retain_recent);
    }

    /// Limiter keys held now, across requestors.
    pub fn throttle_keys(&self) -> usize {
        self.limiters.values().map(Limiters::keys).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkgate_crds::RequestorSpec;

    fn requestors() -> Requestors {
        let secrets = |_: &linkgate_crds::SecretKeyRef| Some(b"k".to_vec());
        [("a", "[{prefix: /news, upstream: {host: o, port: 1}}, {prefix: /news/live, upstream: {host: o, port: 2}}]"),
         ("b", "[{prefix: /sport/, upstream: {host: o, port: 3}}]")]
            .into_iter()
            .map(|(name, routes)| {
                let spec: RequestorSpec = serde_yaml_ng::from_str(&format!(
                    "backend: {{apiKeySecretRef: {{name: x, key: y}}}}\nroutes: {routes}"
                ))
                .unwrap();
                RequestorPolicy::from_spec(name, &spec, &secrets, linkgate_domain::tenancy::Bounds::default()).unwrap()
            })
            .collect()
    }

    #[test]
    fn the_longest_whole_segment_prefix_wins() {
        let plan = EdgePlan::new(&requestors(), None);
        let port = |path| plan.content_route(path).map(|(p, i)| p.routes[i].port);
        assert_eq!(port("/news/live/1.ts"), Some(2));
        assert_eq!(port("/news/1.ts"), Some(1));
        assert_eq!(port("/news"), Some(1));
        assert_eq!(port("/newsroom"), None);
        assert_eq!(port("/sport/x"), Some(3));
        assert_eq!(port("/other"), None);
        assert_eq!(plan.content_route("/sport/x").unwrap().0.name, "b");
        assert!(plan.limiters("a").is_some() && plan.limiters("zzz").is_none());
    }
}

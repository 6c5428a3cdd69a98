//! Degraded access is an outage bypass: every rule set, changed or lifted is said in the
//! log and counted, and the rules configured are a gauge an alert can watch.

use std::collections::BTreeMap;

use crate::metrics::Metrics;
use linkgate_domain::degradation::Degradation;
use linkgate_domain::requestors::Requestors;

/// The rules of `requestors`, by requestor and MVPD.
fn rules(requestors: &Requestors) -> BTreeMap<(String, String), Degradation> {
    requestors
        .iter()
        .flat_map(|p| {
            p.mvpds.iter().filter_map(move |m| {
                let d = m.degradation.clone()?;
                Some(((p.name.clone(), m.id.clone()), d))
            })
        })
        .collect()
}

/// Says and counts how the rules of `after` differ from those of `before` (none, at start).
pub fn audit(before: Option<&Requestors>, after: &Requestors, metrics: &Metrics) {
    let old = before.map(rules).unwrap_or_default();
    let new = rules(after);
    for (key, d) in &old {
        if new.get(key) != Some(d) {
            let (requestor, mvpd) = key;
            let rule = d.rule.as_str();
            metrics.degradation(requestor, mvpd, rule, false);
            if !new.contains_key(key) {
                tracing::warn!(requestor, mvpd, rule, "degraded access lifted");
            }
        }
    }
    for (key, d) in &new {
        if old.get(key) != Some(d) {
            let (requestor, mvpd) = key;
            let rule = d.rule.as_str();
            metrics.degradation(requestor, mvpd, rule, true);
            let until_ms = d.until.map(|t| t.unix_millis());
            tracing::warn!(requestor, mvpd, rule, until_ms, "degraded access set");
        }
    }
}

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

fn rule_name(d: &Degradation) -> &'static str {
    match d.rule {
        linkgate_domain::degradation::DegradationRule::AuthnAll => "authnAll",
        linkgate_domain::degradation::DegradationRule::AuthzAll => "authzAll",
        linkgate_domain::degradation::DegradationRule::AuthzNone => "authzNone",
    }
}

/// Says and counts how the rules of `after` differ from those of `before` (none, at start).
pub fn audit(before: Option<&Requestors>, after: &Requestors, metrics: &Metrics) {
    let old = before.map(rules).unwrap_or_default();
    let new = rules(after);
    for ((requestor, mvpd), d) in &old {
        if new.get(&(requestor.clone(), mvpd.clone())) != Some(d) {
            metrics.degradation(requestor, mvpd, rule_name(d), false);
            if !new.contains_key(&(requestor.clone(), mvpd.clone())) {
                tracing::warn!(
                    requestor,
                    mvpd,
                    rule = rule_name(d),
                    "degraded access lifted"
                );
            }
        }
    }
    for ((requestor, mvpd), d) in &new {
        if old.get(&(requestor.clone(), mvpd.clone())) != Some(d) {
            metrics.degradation(requestor, mvpd, rule_name(d), true);
            let until = d.until.map(|t| t.unix_millis());
            tracing::warn!(
                requestor,
                mvpd,
                rule = rule_name(d),
                until_ms = until,
                "degraded access set"
            );
        }
    }
}

//! Authorization decisions: what an MVPD's decision point says about resources.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// The decision about one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub resource: String,
    pub authorized: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Static rules, as test MVPDs use.
pub fn static_decisions(
    allow_all: bool,
    allow: &HashSet<String>,
    resources: &[String],
) -> Vec<Decision> {
    resources
        .iter()
        .map(|r| {
            let authorized = allow_all || allow.contains(r);
            Decision {
                resource: r.clone(),
                authorized,
                reason: (!authorized).then(|| "not in the package".to_owned()),
            }
        })
        .collect()
}

/// One decision per asked resource, in the order asked: a resource the decision point did
/// not answer about is not authorized; answers about resources not asked are ignored.
pub fn complete(asked: &[String], answered: Vec<Decision>) -> Vec<Decision> {
    asked
        .iter()
        .map(|r| {
            answered
                .iter()
                .find(|d| &d.resource == r)
                .cloned()
                .unwrap_or_else(|| Decision {
                    resource: r.clone(),
                    authorized: false,
                    reason: Some("the decision point gave no answer".into()),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn static_rules_allow_listed_or_all() {
        let allow = HashSet::from(["news".to_owned()]);
        let d = static_decisions(false, &allow, &names(&["news", "sports"]));
        assert!(d[0].authorized && !d[1].authorized);
        assert!(d[1].reason.is_some());
        assert!(static_decisions(true, &HashSet::new(), &names(&["x"]))[0].authorized);
    }

    #[test]
    fn missing_answers_are_denials_and_extra_ones_are_ignored() {
        let answered = vec![
            Decision {
                resource: "b".into(),
                authorized: true,
                reason: None,
            },
            Decision {
                resource: "zzz".into(),
                authorized: true,
                reason: None,
            },
        ];
        let d = complete(&names(&["a", "b"]), answered);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].resource.as_str(), d[0].authorized), ("a", false));
        assert_eq!((d[1].resource.as_str(), d[1].authorized), ("b", true));
    }
}

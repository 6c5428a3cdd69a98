//! Degraded access: a programmer's rule answering for an MVPD while it is down, in force
//! until its end time.

pub use linkgate_crds::DegradationRule;
use linkgate_crds::DegradationSpec;

use crate::policy_error::PolicyError;
use crate::time::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Degradation {
    pub rule: DegradationRule,
    pub until: Option<Timestamp>,
}

impl Degradation {
    pub fn from_spec(mvpd: &str, spec: &DegradationSpec) -> Result<Self, PolicyError> {
        let until = spec
            .until
            .as_deref()
            .map(|until| {
                until
                    .parse::<jiff::Timestamp>()
                    .map(|t| Timestamp::from_unix_millis(t.as_millisecond()))
                    .map_err(|e| PolicyError::Degradation {
                        id: mvpd.to_owned(),
                        reason: format!("until {until:?} is not an RFC 3339 time: {e}"),
                    })
            })
            .transpose()?;
        Ok(Self {
            rule: spec.rule,
            until,
        })
    }

    /// The rule, while it is in force at `now`.
    pub fn in_force(&self, now: Timestamp) -> Option<DegradationRule> {
        self.until
            .is_none_or(|until| now < until)
            .then_some(self.rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_holds_until_its_end_time() {
        let spec = DegradationSpec {
            rule: DegradationRule::AuthzAll,
            until: Some("2026-12-06T18:00:00Z".into()),
        };
        let d = Degradation::from_spec("cable-co", &spec).unwrap();
        let end = Timestamp::from_unix_millis(1_796_580_000_000);
        assert_eq!(d.until, Some(end));
        let before = Timestamp::from_unix_millis(end.unix_millis() - 1);
        assert_eq!(d.in_force(before), Some(DegradationRule::AuthzAll));
        assert_eq!(d.in_force(end), None);
        let open = DegradationSpec {
            until: None,
            ..spec
        };
        let d = Degradation::from_spec("cable-co", &open).unwrap();
        assert_eq!(d.in_force(end), Some(DegradationRule::AuthzAll));
        let bad = DegradationSpec {
            rule: DegradationRule::AuthzNone,
            until: Some("tomorrow".into()),
        };
        assert!(Degradation::from_spec("cable-co", &bad).is_err());
    }
}

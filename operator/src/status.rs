//! Requestor status as a pure function of the validation outcome and the previous status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use linkgate_domain::requestor::PolicyError;

pub const VALID: &str = "Valid";
pub const READY: &str = "Ready";
/// The reason of a Requestor refused for routing a path an older one holds.
pub const ROUTE_CONFLICT: &str = "RouteConflict";
/// The reason of a Requestor refused for declaring the Adobe requestor ID an older one holds.
pub const REQUESTOR_ID_CONFLICT: &str = "RequestorIdConflict";

/// A stable, CamelCase reason for each way a spec can be wrong.
pub fn reason(e: &PolicyError) -> &'static str {
    match e {
        PolicyError::BadName(_) => "InvalidName",
        PolicyError::CodeFormat(_) | PolicyError::CodeTtl(_) => "InvalidCodePolicy",
        PolicyError::DuplicateMvpd(_) | PolicyError::BadMvpdId(_) => "InvalidMvpd",
        PolicyError::UnknownMvpd { .. } => "UnknownMvpd",
        PolicyError::BadDecision { .. } => "InvalidDecisionPoint",
        PolicyError::BadOidc { .. } => "InvalidOidc",
        PolicyError::BadSaml { .. } => "InvalidSaml",
        PolicyError::Degradation { .. } => "InvalidDegradation",
        PolicyError::TempPassSignIn(_) => "InvalidTempPass",
        PolicyError::MissingSecret { .. } => "MissingSecret",
        PolicyError::EmptyApiKey => "EmptyApiKey",
        PolicyError::NoBackendCredential => "NoBackendCredential",
        PolicyError::StatementKey(_) => "InvalidStatementKey",
        PolicyError::Key(_) => "InvalidSigningKey",
        PolicyError::VerificationUri(_) => "InvalidVerificationUri",
        PolicyError::Access(_) => "InvalidAccessPolicy",
        PolicyError::AccountWebhook(_) => "InvalidAccountWebhook",
        PolicyError::Adobe(_) => "InvalidAdobeCompatibility",
        PolicyError::Branding(_) => "InvalidBranding",
        PolicyError::ForeignSecret(_) => "ForeignSecret",
        PolicyError::RouteHeld(_) => ROUTE_CONFLICT,
        PolicyError::RequestorIdHeld { .. } => REQUESTOR_ID_CONFLICT,
    }
}

/// `Valid` and `Ready` for `generation`, keeping each condition's transition time when
/// its status did not change.
pub fn conditions(
    validation: &Result<(), PolicyError>,
    generation: Option<i64>,
    previous: &[Condition],
    now: &Time,
) -> Vec<Condition> {
    let (status, why, message) = match validation {
        Ok(()) => ("True", "SpecValid", "the spec is valid".to_owned()),
        Err(e) => ("False", reason(e), e.to_string()),
    };
    // Ready carries Valid's reason, so `kubectl get requestors` shows why without `-o yaml`.
    let ready = if validation.is_ok() {
        ("True", "Serving", "proxies serve this requestor".to_owned())
    } else {
        ("False", why, format!("not served: {message}"))
    };
    [(VALID, (status, why, message)), (READY, ready)]
        .into_iter()
        .map(|(kind, (status, reason, message))| {
            let since = previous
                .iter()
                .find(|c| c.type_ == kind && c.status == status)
                .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
            Condition {
                type_: kind.to_owned(),
                status: status.to_owned(),
                reason: reason.to_owned(),
                message,
                observed_generation: generation,
                last_transition_time: since,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    #[test]
    fn a_valid_spec_is_valid_and_ready() {
        let c = conditions(&Ok(()), Some(3), &[], &at("2026-11-24T10:00:00Z"));
        assert_eq!((c[0].type_.as_str(), c[0].status.as_str()), (VALID, "True"));
        assert_eq!((c[1].type_.as_str(), c[1].status.as_str()), (READY, "True"));
        assert!(c.iter().all(|c| c.observed_generation == Some(3)));
    }

    #[test]
    fn an_invalid_spec_says_why() {
        let err = Err(PolicyError::MissingSecret {
            what: "backend.apiKeySecretRef".into(),
            name: "acme".into(),
            key: "apiKey".into(),
        });
        let c = conditions(&err, Some(1), &[], &at("2026-11-24T10:00:00Z"));
        assert_eq!(c[0].status, "False");
        assert_eq!(c[0].reason, "MissingSecret");
        assert!(c[0].message.contains("\"acme\""));
        assert_eq!(
            (c[1].status.as_str(), c[1].reason.as_str()),
            ("False", "MissingSecret")
        );
        assert!(c[1].message.contains("\"acme\""), "{}", c[1].message);
    }

    #[test]
    fn transition_times_move_only_on_transitions() {
        let first = conditions(&Ok(()), Some(1), &[], &at("2026-11-24T10:00:00Z"));
        let same = conditions(&Ok(()), Some(2), &first, &at("2026-11-24T11:00:00Z"));
        assert_eq!(same[0].last_transition_time, at("2026-11-24T10:00:00Z"));
        let broken = conditions(
            &Err(PolicyError::EmptyApiKey),
            Some(3),
            &same,
            &at("2026-11-24T12:00:00Z"),
        );
        assert_eq!(broken[0].last_transition_time, at("2026-11-24T12:00:00Z"));
    }
}

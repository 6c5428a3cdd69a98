//! The media-token keys the operator manages for a requestor whose spec names none: when to
//! make one, when to retire one, and how one is made. Pure; `key_secret` does the I/O.

use std::collections::BTreeSet;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use linkgate_crds::{ManagedKeyStatus, MediaTokenPolicy, SecretKeyRef};

/// Why a key is made, as told in Events and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChange {
    /// There was no usable signing key (none yet, or its Secret lost it).
    Created,
    /// The signing key reached its rotation age.
    Rotated,
}

impl KeyChange {
    /// The Event reason.
    pub fn reason(self) -> &'static str {
        match self {
            KeyChange::Created => "KeyCreated",
            KeyChange::Rotated => "KeyRotated",
        }
    }

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            KeyChange::Created => "created",
            KeyChange::Rotated => "rotated",
        }
    }
}

/// What the managed keys should be now.
#[derive(Debug)]
pub struct Plan {
    /// The keys to list in status, newest (signing) first.
    pub keys: Vec<ManagedKeyStatus>,
    /// A key to generate and store before the status names it: its ID and why.
    pub new_key: Option<(String, KeyChange)>,
    /// When the plan changes next by itself (a rotation or a retirement).
    pub next_change: Timestamp,
}

/// The Secret holding a requestor's managed keys.
pub fn secret_name(requestor: &str) -> String {
    // Named as a Secret meant for the requestor must be.
    format!("{requestor}.media-keys")
}

/// The Secret data key holding key `id`'s PEM.
pub fn data_key(id: &str) -> String {
    format!("{id}.pem")
}

/// Plans the managed keys of `requestor` from the status's `current` keys, the data keys
/// its Secret still has (`stored`), and the policy, at `now`. A rotated-out key stays
/// listed until its last token has expired on a proxy whose clock runs up to `clock_skew`
/// ahead of ours.
pub fn plan(
    requestor: &str,
    current: &[ManagedKeyStatus],
    stored: &BTreeSet<String>,
    policy: &MediaTokenPolicy,
    clock_skew: Duration,
    now: Timestamp,
) -> Plan {
    // Status times have whole seconds: plan in them, so what is written is what was planned.
    let now = whole_seconds(now);
    let mut keys: Vec<ManagedKeyStatus> = current
        .iter()
        .filter(|k| stored.contains(&k.secret_ref.key))
        .filter(|k| k.retire_at.as_ref().is_none_or(|t| t.0 > now))
        .cloned()
        .collect();
    let change = match keys.first() {
        Some(signer) if signer.retire_at.is_none() => {
            (rotation_due(signer, policy) <= now).then_some(KeyChange::Rotated)
        }
        _ => Some(KeyChange::Created),
    };
    let new_key = change.map(|change| {
        let skew = i64::try_from(clock_skew.as_secs()).unwrap_or(i64::MAX);
        // A token's `exp` is rounded up to the whole second after its issue time plus TTL.
        let retire_at = Time(seconds(
            now.as_second()
                .saturating_add(1)
                .saturating_add(i64::from(policy.ttl_seconds))
                .saturating_add(skew),
        ));
        for old in keys.iter_mut().filter(|k| k.retire_at.is_none()) {
            old.retire_at = Some(retire_at.clone());
        }
        let id = unique_id(requestor, now, current);
        keys.insert(
            0,
            ManagedKeyStatus {
                id: id.clone(),
                secret_ref: SecretKeyRef {
                    name: secret_name(requestor),
                    key: data_key(&id),
                },
                created_at: Time(now),
                retire_at: None,
            },
        );
        (id, change)
    });
    let next_change = keys
        .iter()
        .filter_map(|k| k.retire_at.as_ref().map(|t| t.0))
        .chain(keys.first().map(|signer| rotation_due(signer, policy)))
        .min()
        .unwrap_or(Timestamp::MAX);
    Plan {
        keys,
        new_key,
        next_change,
    }
}

/// A fresh Ed25519 private key as PKCS#8 PEM.
pub fn generate_pem() -> Result<String, ed25519_dalek::pkcs8::Error> {
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    Ok(key.to_pkcs8_pem(LineEnding::LF)?.to_string())
}

fn rotation_due(signer: &ManagedKeyStatus, policy: &MediaTokenPolicy) -> Timestamp {
    let rotation = i64::try_from(policy.key_rotation_seconds).unwrap_or(i64::MAX);
    seconds(signer.created_at.0.as_second().saturating_add(rotation))
}

/// `<requestor>-<unix seconds>`: sorts by age; a later second is taken when one was
/// already used (two keys made within a second).
fn unique_id(requestor: &str, now: Timestamp, taken: &[ManagedKeyStatus]) -> String {
    (now.as_second()..)
        .map(|s| format!("{requestor}-{s}"))
        .find(|id| taken.iter().all(|k| &k.id != id))
        .expect("an unbounded range has a free second")
}

fn seconds(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap_or(Timestamp::MAX)
}

fn whole_seconds(t: Timestamp) -> Timestamp {
    seconds(t.as_second())
}

#[cfg(test)]
mod tests {
    use linkgate_domain::media_token::{ISSUER, MediaClaims, MediaKeys};
    use linkgate_domain::time;

    use super::*;

    const DAY: i64 = 24 * 3600;
    const SKEW: Duration = Duration::from_secs(60);

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn policy(rotation: u64, ttl: u32) -> MediaTokenPolicy {
        MediaTokenPolicy {
            ttl_seconds: ttl,
            signing_keys: Vec::new(),
            key_rotation_seconds: rotation,
        }
    }

    fn key(id: &str, created: i64, retire: Option<i64>) -> ManagedKeyStatus {
        ManagedKeyStatus {
            id: id.into(),
            secret_ref: SecretKeyRef {
                name: "acme.media-keys".into(),
                key: data_key(id),
            },
            created_at: Time(at(created)),
            retire_at: retire.map(|s| Time(at(s))),
        }
    }

    fn stored(keys: &[&ManagedKeyStatus]) -> BTreeSet<String> {
        keys.iter().map(|k| data_key(&k.id)).collect()
    }

    fn run(current: &[ManagedKeyStatus], stored: &BTreeSet<String>, now: i64) -> Plan {
        plan(
            "acme",
            current,
            stored,
            &policy(30 * DAY as u64, 420),
            SKEW,
            at(now),
        )
    }

    #[test]
    fn without_a_key_one_is_created_and_signs() {
        let now = 1_800_000_000;
        let p = run(&[], &BTreeSet::new(), now);
        assert_eq!(
            p.new_key,
            Some(("acme-1800000000".into(), KeyChange::Created))
        );
        assert_eq!(p.keys, vec![key("acme-1800000000", now, None)]);
        assert_eq!(p.next_change, at(now + 30 * DAY));
    }

    #[test]
    fn a_fresh_key_is_left_alone() {
        let k = key("acme-1800000000", 1_800_000_000, None);
        let p = run(
            std::slice::from_ref(&k),
            &stored(&[&k]),
            1_800_000_000 + DAY,
        );
        assert_eq!(p.new_key, None);
        assert_eq!(p.keys, vec![k]);
        assert_eq!(p.next_change, at(1_800_000_000 + 30 * DAY));
    }

    #[test]
    fn an_old_key_is_rotated_out_and_verifies_until_its_tokens_expired() {
        let old = key("acme-1800000000", 1_800_000_000, None);
        let now = 1_800_000_000 + 30 * DAY;
        let p = run(std::slice::from_ref(&old), &stored(&[&old]), now);
        let new = format!("acme-{now}");
        assert_eq!(p.new_key, Some((new.clone(), KeyChange::Rotated)));
        // Issued up to a second after `now`, living 420 s, on a clock up to 60 s ahead.
        let retire = now + 1 + 420 + 60;
        assert_eq!(
            p.keys,
            vec![
                key(&new, now, None),
                key("acme-1800000000", 1_800_000_000, Some(retire)),
            ]
        );
        assert_eq!(p.next_change, at(retire));
    }

    #[test]
    fn a_retired_key_is_removed_once_past_its_time() {
        let signer = key("acme-1800000100", 1_800_000_100, None);
        let old = key("acme-1800000000", 1_800_000_000, Some(1_800_000_580));
        let current = [signer.clone(), old.clone()];
        let before = run(&current, &stored(&[&signer, &old]), 1_800_000_579);
        assert_eq!(before.keys, current);
        assert_eq!(before.next_change, at(1_800_000_580));
        let after = run(&current, &stored(&[&signer, &old]), 1_800_000_580);
        assert_eq!(after.new_key, None);
        assert_eq!(after.keys, vec![signer]);
        assert_eq!(after.next_change, at(1_800_000_100 + 30 * DAY));
    }

    #[test]
    fn a_signing_key_the_secret_lost_is_replaced() {
        let signer = key("acme-1800000100", 1_800_000_100, None);
        let old = key("acme-1800000000", 1_800_000_000, Some(1_800_000_580));
        let now = 1_800_000_200;
        let p = run(&[signer, old.clone()], &stored(&[&old]), now);
        assert_eq!(p.new_key, Some((format!("acme-{now}"), KeyChange::Created)));
        assert_eq!(p.keys, vec![key(&format!("acme-{now}"), now, None), old]);
    }

    #[test]
    fn a_retiring_key_the_secret_lost_is_only_dropped() {
        let signer = key("acme-1800000100", 1_800_000_100, None);
        let old = key("acme-1800000000", 1_800_000_000, Some(1_800_000_580));
        let p = run(&[signer.clone(), old], &stored(&[&signer]), 1_800_000_200);
        assert_eq!(p.new_key, None);
        assert_eq!(p.keys, vec![signer]);
    }

    #[test]
    fn key_ids_stay_unique_within_a_second() {
        let now = 1_800_000_000;
        let lost = key("acme-1800000000", now, None);
        let p = run(std::slice::from_ref(&lost), &BTreeSet::new(), now);
        assert_eq!(
            p.new_key,
            Some(("acme-1800000001".into(), KeyChange::Created))
        );
    }

    #[test]
    fn sub_second_times_are_planned_in_whole_seconds() {
        let now: Timestamp = "2027-01-15T08:00:00.75Z".parse().unwrap();
        let p = plan("acme", &[], &BTreeSet::new(), &policy(2, 1), SKEW, now);
        assert_eq!(
            p.keys[0].created_at.0,
            "2027-01-15T08:00:00Z".parse().unwrap()
        );
        assert_eq!(p.next_change, "2027-01-15T08:00:02Z".parse().unwrap());
    }

    #[test]
    fn a_huge_rotation_period_never_rotates() {
        let k = key("acme-1800000000", 1_800_000_000, None);
        let p = plan(
            "acme",
            std::slice::from_ref(&k),
            &stored(&[&k]),
            &policy(u64::MAX, 420),
            SKEW,
            at(1_900_000_000),
        );
        assert_eq!(p.new_key, None);
        assert_eq!(p.next_change, Timestamp::MAX);
    }

    #[test]
    fn generated_keys_load_in_the_gateway_and_sign() {
        let (first, second) = (generate_pem().unwrap(), generate_pem().unwrap());
        assert_ne!(first, second, "every key is fresh");
        let keys = MediaKeys::from_private_pems([
            ("acme-2", first.as_bytes()),
            ("acme-1", second.as_bytes()),
        ])
        .unwrap();
        assert!(keys.can_sign());
        let kids: Vec<_> = keys.jwks().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, ["acme-2", "acme-1"]);
        let claims = MediaClaims {
            iss: ISSUER.into(),
            aud: "acme".into(),
            sub: "alice".into(),
            dev: "tv".into(),
            res: "news".into(),
            mvpd: None,
            iat: 1_800_000_000,
            exp: 1_800_000_420,
            jti: "1".into(),
        };
        let token = keys.sign(&claims).unwrap();
        let now = time::Timestamp::from_unix_millis(1_800_000_001_000);
        assert_eq!(keys.verify(&token, "acme", "news", now), Ok(claims));
    }
}

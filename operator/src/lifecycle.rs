//! The life of a DeviceLink as a pure function of its spec and the time: what to collect,
//! what phase it is in, and when to look again. No I/O, so every rule is tested here.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use linkgate_crds::{CodeStateSpec, DeviceLinkPhase, DeviceLinkSpec};

/// How long a revocation of a link without users is kept, so that a late copy of the link
/// (another region's, a proxy's delayed write) finds the tombstone instead of resurrecting it.
pub const TOMBSTONE_RETENTION: SignedDuration = SignedDuration::from_mins(5);

/// How often an object holding only spent TempPass windows is looked at again.
const SPENT_PASSES_LOOK_AGAIN: SignedDuration = SignedDuration::from_hours(24);

/// What the operator should do with a DeviceLink now.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing has expired: only the status may need writing.
    Keep(Outlook),
    /// Something expired: write this spec back (conditionally), then the status.
    Replace(Box<DeviceLinkSpec>, Outlook),
    /// Nothing live is left, or the tombstone has served its time: delete the object.
    Delete,
}

/// The status of a link that stays, and when it next changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlook {
    pub phase: DeviceLinkPhase,
    /// When the link ends: the latest user's authentication once linked, the code's expiry
    /// before, or, for a tombstone, its end.
    pub expires_at: Timestamp,
    /// The next moment the plan changes (an earlier user may drop before the latest).
    pub next_change: Timestamp,
}

/// What to do with the link whose spec is `spec`, as of `now`.
pub fn plan(spec: &DeviceLinkSpec, now: Timestamp) -> Plan {
    if let Some(revoked_at) = &spec.revoked_at {
        // A tombstone stays whole, so it can answer for everything it revoked.
        let end = latest_authn(spec).unwrap_or(revoked_at.0 + TOMBSTONE_RETENTION);
        return if end <= now {
            passes_only(spec, now)
        } else {
            Plan::Keep(Outlook {
                phase: DeviceLinkPhase::Revoked,
                expires_at: end,
                next_change: end,
            })
        };
    }
    let mut live = spec.clone();
    live.code.take_if(|code| code.expires_at.0 <= now);
    live.users.retain(|user| user.authn_expires_at.0 > now);
    if live.users.is_empty() {
        // The device's tokens end with its last user.
        live.credential = None;
    }
    let code_expiry = live.code.as_ref().map(|code| code.expires_at.0);
    // A linked device ends with its last sign-in, whatever code it may still hold.
    let Some(expires_at) = latest_authn(&live).or(code_expiry) else {
        return passes_only(spec, now);
    };
    let earliest_authn = live.users.iter().map(|u| u.authn_expires_at.0).min();
    let outlook = Outlook {
        phase: phase(&live),
        expires_at,
        next_change: earliest(code_expiry, earliest_authn).unwrap_or(expires_at),
    };
    if live == *spec {
        Plan::Keep(outlook)
    } else {
        Plan::Replace(Box::new(live), outlook)
    }
}

/// A device with neither link nor code left: deleted, unless it has TempPass windows, which
/// stay (a spent one is what keeps it spent) until the requestor's backend resets them.
fn passes_only(spec: &DeviceLinkSpec, now: Timestamp) -> Plan {
    let ends = spec.temp_passes.iter().map(|p| p.ends_at.0);
    let Some(expires_at) = ends.clone().max() else {
        return Plan::Delete;
    };
    let kept = DeviceLinkSpec {
        code: None,
        users: Vec::new(),
        credential: None,
        revoked_at: None,
        ..spec.clone()
    };
    let outlook = Outlook {
        phase: DeviceLinkPhase::TempPass,
        expires_at,
        // Nothing changes once every window has ended, until a reset (a write) wakes it.
        next_change: ends
            .filter(|end| *end > now)
            .min()
            .unwrap_or(now + SPENT_PASSES_LOOK_AGAIN),
    };
    if kept == *spec {
        Plan::Keep(outlook)
    } else {
        Plan::Replace(Box::new(kept), outlook)
    }
}

/// The phase of a link that is not revoked and holds only live things.
fn phase(live: &DeviceLinkSpec) -> DeviceLinkPhase {
    if !live.users.is_empty() {
        DeviceLinkPhase::Linked
    } else if live.code.as_ref().is_some_and(|code| {
        matches!(
            code.state,
            CodeStateSpec::Pending | CodeStateSpec::Approving
        )
    }) {
        DeviceLinkPhase::Pending
    } else {
        // A spent (redeemed or refused) code whose users are gone: kept only so that a
        // device-code poll learns the outcome; nothing usable is left.
        DeviceLinkPhase::Expired
    }
}

fn latest_authn(spec: &DeviceLinkSpec) -> Option<Timestamp> {
    spec.users.iter().map(|u| u.authn_expires_at.0).max()
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.into_iter().chain(b).min()
}

/// The status timestamp as the API writes it: whole seconds, so that a status read back
/// compares equal to the one planned.
pub fn status_time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use linkgate_crds::{LinkedUserSpec, PendingCodeSpec};

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn code(expires: i64, state: CodeStateSpec) -> PendingCodeSpec {
        PendingCodeSpec {
            hash: "0".repeat(64),
            id: "c1".into(),
            issued_at: MicroTime(at(-600)),
            expires_at: MicroTime(at(expires)),
            mvpd: None,
            device_type: None,
            requested_from: None,
            session: None,
            device_code: None,
            state,
            awaiting: None,
        }
    }

    fn user(id: &str, expires: i64) -> LinkedUserSpec {
        LinkedUserSpec {
            user_id: id.into(),
            mvpd: Some("test-mvpd".into()),
            linked_at: MicroTime(at(-600)),
            authn_expires_at: MicroTime(at(expires)),
            metadata: BTreeMap::new(),
        }
    }

    fn link() -> DeviceLinkSpec {
        DeviceLinkSpec {
            requestor: "demo".into(),
            device_id: "tv".into(),
            code: None,
            users: vec![],
            credential: None,
            revoked_at: None,
            origin_region: None,
            revision: None,
            temp_passes: vec![],
        }
    }

    fn window(mvpd: &str, ends: i64) -> linkgate_crds::TempPassWindowSpec {
        linkgate_crds::TempPassWindowSpec {
            mvpd: mvpd.into(),
            started_at: MicroTime(at(-600)),
            ends_at: MicroTime(at(ends)),
        }
    }

    #[test]
    fn temp_pass_windows_outlive_the_link_code_and_tombstone() {
        // A spent window and an open one, beside an expired code and users.
        let spec = DeviceLinkSpec {
            code: Some(code(-1, CodeStateSpec::Pending)),
            users: vec![user("alice", -1)],
            temp_passes: vec![window("spent", -60), window("open", 120)],
            ..link()
        };
        let Plan::Replace(kept, outlook) = plan(&spec, at(0)) else {
            panic!("expected a replace: {:?}", plan(&spec, at(0)));
        };
        assert_eq!((kept.code.as_ref(), kept.users.len()), (None, 0));
        assert_eq!(kept.temp_passes, spec.temp_passes);
        assert_eq!(outlook.phase, DeviceLinkPhase::TempPass);
        assert_eq!(outlook.next_change, at(120));
        // Once both have ended the object stays as it is, looked at now and then.
        let Plan::Keep(outlook) = plan(&kept, at(500)) else {
            panic!("expected a keep");
        };
        assert_eq!(outlook.expires_at, at(120));
        assert!(outlook.next_change > at(500));
        // A revoked link's tombstone, once served, leaves the windows.
        let tombstone = DeviceLinkSpec {
            users: vec![user("alice", -1)],
            revoked_at: Some(MicroTime(at(-3600))),
            temp_passes: vec![window("spent", -60)],
            ..link()
        };
        let Plan::Replace(kept, _) = plan(&tombstone, at(0)) else {
            panic!("expected a replace");
        };
        assert_eq!((kept.revoked_at.as_ref(), kept.users.len()), (None, 0));
        assert_eq!(kept.temp_passes.len(), 1);
        // Reset (removed) windows leave nothing: the object goes.
        let reset = DeviceLinkSpec {
            temp_passes: vec![],
            ..kept.as_ref().clone()
        };
        assert_eq!(plan(&reset, at(0)), Plan::Delete);
    }

    #[test]
    fn an_expired_code_is_removed_and_the_users_stay() {
        let spec = DeviceLinkSpec {
            code: Some(code(-1, CodeStateSpec::Redeemed)),
            users: vec![user("alice", 3600)],
            ..link()
        };
        let Plan::Replace(kept, outlook) = plan(&spec, at(0)) else {
            panic!("expected a replace: {:?}", plan(&spec, at(0)));
        };
        assert_eq!(kept.code, None);
        assert_eq!(kept.users, spec.users);
        assert_eq!(outlook.phase, DeviceLinkPhase::Linked);
        assert_eq!(outlook.expires_at, at(3600));
    }

    #[test]
    fn a_code_expiring_exactly_now_is_expired() {
        let spec = DeviceLinkSpec {
            code: Some(code(0, CodeStateSpec::Pending)),
            ..link()
        };
        assert_eq!(plan(&spec, at(0)), Plan::Delete);
    }

    #[test]
    fn expired_users_are_removed_and_live_ones_kept() {
        let spec = DeviceLinkSpec {
            users: vec![user("gone", -5), user("alice", 60), user("bob", 600)],
            ..link()
        };
        let Plan::Replace(kept, outlook) = plan(&spec, at(0)) else {
            panic!("expected a replace");
        };
        let ids: Vec<_> = kept.users.iter().map(|u| u.user_id.as_str()).collect();
        assert_eq!(ids, ["alice", "bob"]);
        // The status tells the latest authentication; the next look is at the earliest.
        assert_eq!(outlook.expires_at, at(600));
        assert_eq!(outlook.next_change, at(60));
    }

    #[test]
    fn the_device_credential_goes_with_the_last_user() {
        let credential = Some(linkgate_crds::DeviceCredentialSpec {
            family: "0".repeat(32),
            refresh_sequence: 3,
        });
        let spec = DeviceLinkSpec {
            code: Some(code(60, CodeStateSpec::Redeemed)),
            users: vec![user("alice", -1)],
            credential: credential.clone(),
            ..link()
        };
        let Plan::Replace(kept, _) = plan(&spec, at(0)) else {
            panic!("expected a replace");
        };
        assert_eq!(kept.credential, None);
        let spec = DeviceLinkSpec {
            users: vec![user("alice", -1), user("bob", 60)],
            credential: credential.clone(),
            ..link()
        };
        let Plan::Replace(kept, _) = plan(&spec, at(0)) else {
            panic!("expected a replace");
        };
        assert_eq!(kept.credential, credential, "bob's device keeps its tokens");
    }

    #[test]
    fn all_users_expired_and_no_code_deletes_the_link() {
        let spec = DeviceLinkSpec {
            users: vec![user("alice", -60), user("bob", -1)],
            ..link()
        };
        assert_eq!(plan(&spec, at(0)), Plan::Delete);
        assert_eq!(plan(&link(), at(0)), Plan::Delete);
    }

    #[test]
    fn a_live_pending_code_is_pending_until_it_expires() {
        // Waiting for a user, or for the requestor's approval of one.
        for state in [CodeStateSpec::Pending, CodeStateSpec::Approving] {
            let spec = DeviceLinkSpec {
                code: Some(code(30, state)),
                ..link()
            };
            let outlook = Outlook {
                phase: DeviceLinkPhase::Pending,
                expires_at: at(30),
                next_change: at(30),
            };
            assert_eq!(plan(&spec, at(0)), Plan::Keep(outlook), "{state:?}");
        }
    }

    #[test]
    fn a_linked_device_expires_with_its_latest_user_not_its_code() {
        let spec = DeviceLinkSpec {
            code: Some(code(30, CodeStateSpec::Redeemed)),
            users: vec![user("alice", 600)],
            ..link()
        };
        let Plan::Keep(outlook) = plan(&spec, at(0)) else {
            panic!("nothing expired");
        };
        assert_eq!(outlook.phase, DeviceLinkPhase::Linked);
        assert_eq!(outlook.expires_at, at(600));
        // The code is still collected when it expires.
        assert_eq!(outlook.next_change, at(30));
    }

    #[test]
    fn a_spent_code_without_users_is_expired() {
        let spec = DeviceLinkSpec {
            code: Some(code(30, CodeStateSpec::Denied)),
            users: vec![user("alice", -1)],
            ..link()
        };
        let Plan::Replace(kept, outlook) = plan(&spec, at(0)) else {
            panic!("the expired user goes");
        };
        assert!(kept.users.is_empty());
        assert_eq!(outlook.phase, DeviceLinkPhase::Expired);
        assert_eq!(outlook.expires_at, at(30));
    }

    #[test]
    fn a_revoked_link_with_a_live_user_is_kept_whole_as_a_tombstone() {
        let spec = DeviceLinkSpec {
            code: Some(code(-10, CodeStateSpec::Redeemed)),
            users: vec![user("gone", -5), user("alice", 120)],
            revoked_at: Some(MicroTime(at(-1))),
            ..link()
        };
        let outlook = Outlook {
            phase: DeviceLinkPhase::Revoked,
            expires_at: at(120),
            next_change: at(120),
        };
        assert_eq!(plan(&spec, at(0)), Plan::Keep(outlook));
    }

    #[test]
    fn a_revoked_link_whose_users_all_expired_is_deleted() {
        let spec = DeviceLinkSpec {
            users: vec![user("alice", -5), user("bob", -1)],
            revoked_at: Some(MicroTime(at(-2))),
            ..link()
        };
        assert_eq!(plan(&spec, at(0)), Plan::Delete);
    }

    #[test]
    fn a_revoked_link_without_users_is_kept_for_the_retention() {
        let spec = DeviceLinkSpec {
            revoked_at: Some(MicroTime(at(0))),
            ..link()
        };
        let end = at(0) + TOMBSTONE_RETENTION;
        let Plan::Keep(outlook) = plan(&spec, at(10)) else {
            panic!("a fresh tombstone stays");
        };
        assert_eq!(
            (outlook.phase, outlook.expires_at),
            (DeviceLinkPhase::Revoked, end)
        );
        assert_eq!(plan(&spec, end), Plan::Delete);
    }

    #[test]
    fn status_times_are_whole_seconds() {
        let t = at(5) + SignedDuration::from_millis(750);
        assert_eq!(status_time(t), Time(at(5)));
    }
}

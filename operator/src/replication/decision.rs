//! What to do with a local write for a peer: the same rule in every region, so that all
//! of them keep the copy with the greatest revision, whatever order copies arrive in.

use linkgate_crds::{DeviceLinkSpec, Revision};

/// The fate of one push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    /// The peer has no such link.
    Create,
    /// The peer's copy is an older write.
    Replace,
    /// The peer holds this write already.
    Skip,
    /// The peer holds a newer write: the local copy is the stale one.
    Pull,
}

/// Decides for a local write of revision `ours` against the peer's copy (`None`: absent).
/// A tombstone is a write like any other, so a later one replaces a link and an earlier
/// link can never replace it. A peer copy without a readable revision cannot be ordered
/// against anything; it is older than every revisioned write. A newer peer copy is taken
/// here, so that a region holding a stale copy of its own does not keep it.
pub fn decide(ours: &Revision, remote: Option<&DeviceLinkSpec>) -> Push {
    let Some(remote) = remote else {
        return Push::Create;
    };
    let theirs: Option<Revision> = remote.revision.as_deref().and_then(|r| r.parse().ok());
    match theirs {
        Some(theirs) if theirs == *ours => Push::Skip,
        Some(theirs) if theirs > *ours => Push::Pull,
        _ => Push::Replace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn rev(s: &str) -> Revision {
        s.parse().unwrap()
    }

    fn link(revision: &str) -> DeviceLinkSpec {
        DeviceLinkSpec {
            requestor: "demo".into(),
            device_id: "tv".into(),
            code: None,
            users: Vec::new(),
            credential: None,
            revoked_at: None,
            origin_region: Some("a".into()),
            revision: Some(revision.into()),
            temp_passes: Vec::new(),
        }
    }

    fn tombstone(revision: &str) -> DeviceLinkSpec {
        DeviceLinkSpec {
            revoked_at: Some(MicroTime(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
            ..link(revision)
        }
    }

    #[test]
    fn an_absent_peer_copy_is_created() {
        assert_eq!(decide(&rev("1000-0-a"), None), Push::Create);
    }

    #[test]
    fn a_newer_local_write_replaces() {
        assert_eq!(
            decide(&rev("2000-0-a"), Some(&link("1000-0-b"))),
            Push::Replace
        );
        // Same millisecond: the counter, then the region decide.
        assert_eq!(
            decide(&rev("1000-1-a"), Some(&link("1000-0-b"))),
            Push::Replace
        );
        assert_eq!(
            decide(&rev("1000-0-b"), Some(&link("1000-0-a"))),
            Push::Replace
        );
    }

    #[test]
    fn the_same_write_is_skipped() {
        assert_eq!(
            decide(&rev("1000-0-a"), Some(&link("1000-0-a"))),
            Push::Skip
        );
    }

    #[test]
    fn an_older_local_write_is_replaced_by_the_peer_copy() {
        assert_eq!(
            decide(&rev("1000-0-a"), Some(&link("2000-0-b"))),
            Push::Pull
        );
        assert_eq!(
            decide(&rev("1000-0-a"), Some(&link("1000-0-b"))),
            Push::Pull
        );
    }

    #[test]
    fn a_newer_tombstone_replaces_a_link() {
        let ours = rev("3000-0-b");
        assert_eq!(decide(&ours, Some(&link("2000-0-a"))), Push::Replace);
    }

    #[test]
    fn a_stale_link_never_replaces_a_tombstone() {
        // The link written in c before it learnt of b's revocation.
        assert_eq!(
            decide(&rev("2000-0-c"), Some(&tombstone("3000-0-b"))),
            Push::Pull
        );
    }

    #[test]
    fn an_unrevisioned_peer_copy_is_older_than_any_write() {
        let mut unordered = link("1-0-a");
        unordered.revision = None;
        assert_eq!(decide(&rev("1-0-a"), Some(&unordered)), Push::Replace);
        unordered.revision = Some("garbage".into());
        assert_eq!(decide(&rev("1-0-a"), Some(&unordered)), Push::Replace);
    }
}

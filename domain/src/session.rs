//! Whether a device is authenticated, and as whom.
//!
//! A user entry authenticates the device while it has not expired and its MVPD is still
//! one the requestor allows (allow and block lists can change after linking).

use super::link::{DeviceLink, LinkedUser};
use super::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Authn<'a> {
    /// The most recently linked user whose authentication is valid.
    Authenticated(&'a LinkedUser),
    /// Users were linked through allowed MVPDs, but every authentication has expired.
    Expired(&'a LinkedUser),
    /// No usable link.
    Missing,
}

pub fn authn<'a>(
    link: Option<&'a DeviceLink>,
    now: Timestamp,
    mvpd_allowed: impl Fn(&str) -> bool,
) -> Authn<'a> {
    let usable = link
        .into_iter()
        .flat_map(|l| &l.users)
        .filter(|u| u.mvpd.as_deref().is_none_or(&mvpd_allowed));
    let (mut live, mut expired): (Option<&LinkedUser>, Option<&LinkedUser>) = (None, None);
    for user in usable {
        let slot = if user.is_authenticated(now) {
            &mut live
        } else {
            &mut expired
        };
        if slot.is_none_or(|best| user.linked_at > best.linked_at) {
            *slot = Some(user);
        }
    }
    match (live, expired) {
        (Some(user), _) => Authn::Authenticated(user),
        (None, Some(user)) => Authn::Expired(user),
        (None, None) => Authn::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{DeviceId, UserId};

    fn user(id: &str, mvpd: Option<&str>, linked: i64, expires: i64) -> LinkedUser {
        LinkedUser {
            user: UserId::parse(id).unwrap(),
            mvpd: mvpd.map(Into::into),
            linked_at: Timestamp::from_unix_millis(linked),
            authn_expires_at: Timestamp::from_unix_millis(expires),
            metadata: Default::default(),
        }
    }

    fn link(users: Vec<LinkedUser>) -> DeviceLink {
        DeviceLink {
            credential: None,
            requestor: "demo".into(),
            device: DeviceId::parse("tv").unwrap(),
            users,
        }
    }

    const NOW: Timestamp = Timestamp::from_unix_millis(500);
    fn any(_: &str) -> bool {
        true
    }

    #[test]
    fn no_link_is_missing() {
        assert_eq!(authn(None, NOW, any), Authn::Missing);
    }

    #[test]
    fn the_latest_live_user_wins() {
        let l = link(vec![
            user("old", Some("m"), 1, 1_000),
            user("new", Some("m"), 2, 1_000),
            user("gone", Some("m"), 3, 100),
        ]);
        assert!(
            matches!(authn(Some(&l), NOW, any), Authn::Authenticated(u) if u.user.as_str() == "new")
        );
    }

    #[test]
    fn expired_users_are_reported_as_expired() {
        let l = link(vec![user("a", Some("m"), 1, 100)]);
        assert!(matches!(authn(Some(&l), NOW, any), Authn::Expired(_)));
    }

    #[test]
    fn a_user_of_a_blocked_mvpd_does_not_authenticate() {
        let l = link(vec![
            user("a", Some("blocked"), 1, 1_000),
            user("b", None, 0, 1_000),
        ]);
        let allowed = |m: &str| m != "blocked";
        assert!(
            matches!(authn(Some(&l), NOW, allowed), Authn::Authenticated(u) if u.user.as_str() == "b")
        );
        let only_blocked = link(vec![user("a", Some("blocked"), 1, 1_000)]);
        assert_eq!(authn(Some(&only_blocked), NOW, allowed), Authn::Missing);
    }
}

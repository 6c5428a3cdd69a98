//! Device links: which users a device is linked to, and until when.
//!
//! The rules follow Matchmaker (seed 000): one user per device unless the requestor allows
//! several; an expired authentication frees the device as if the user had never linked it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::device_token::DeviceCredential;
use super::ids::{DeviceId, UserId};
use super::time::Timestamp;

/// One device of one requestor and its linked users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceLink {
    pub requestor: String,
    pub device: DeviceId,
    #[serde(deserialize_with = "exactly_sized")]
    pub users: Vec<LinkedUser>,
    /// The device's own credential, once it has exchanged its device secret for tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<DeviceCredential>,
}

/// A list read back at its own length: serde grows a `Vec` from JSON by doubling from
/// four, which for the one user of most devices held 264 bytes nobody used, in every
/// stored link.
fn exactly_sized<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<LinkedUser>, D::Error> {
    let mut users = Vec::<LinkedUser>::deserialize(d)?;
    users.shrink_to_fit();
    Ok(users)
}

/// A user linked to a device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedUser {
    pub user: UserId,
    /// The MVPD the user signed in with; `None` for an account link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvpd: Option<String>,
    pub linked_at: Timestamp,
    pub authn_expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl LinkedUser {
    pub fn is_authenticated(&self, now: Timestamp) -> bool {
        now < self.authn_expires_at
    }
}

/// Why a link or unlink was refused. The messages are Matchmaker's, verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("This device has already been registered to you!")]
    AlreadyRegisteredToYou,
    #[error("Another user has already registered this device")]
    RegisteredToAnotherUser,
    #[error("No user belongs to this device")]
    NoUserOnDevice,
    #[error("Multiple users allowed and no user_id is present")]
    UserIdRequired,
}

impl DeviceLink {
    /// Users whose authentication is still valid at `now`.
    pub fn live_users(&self, now: Timestamp) -> impl Iterator<Item = &LinkedUser> {
        self.users.iter().filter(move |u| u.is_authenticated(now))
    }

    /// When the last authentication expires: after this the link is garbage.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.users.iter().map(|u| u.authn_expires_at).max()
    }
}

/// Links `user` to the device whose current link is `existing`.
pub fn add_user(
    existing: Option<&DeviceLink>,
    requestor: &str,
    device: &DeviceId,
    allow_multiple: bool,
    user: LinkedUser,
    now: Timestamp,
) -> Result<DeviceLink, LinkError> {
    let mut users: Vec<LinkedUser> = existing
        .map(|link| link.live_users(now).cloned().collect())
        .unwrap_or_default();
    // A device's credential outlives no link: once every user has expired, whoever links
    // the device next starts a new one.
    let credential = existing
        .filter(|_| !users.is_empty())
        .and_then(|link| link.credential.clone());
    let already = users.iter().position(|u| u.user == user.user);
    match (allow_multiple, already) {
        (true, Some(_)) => return Err(LinkError::AlreadyRegisteredToYou),
        (true, None) => users.push(user),
        // Linking again as the same user renews the authentication.
        (false, Some(i)) => users[i] = user,
        (false, None) if users.is_empty() => users.push(user),
        (false, None) => return Err(LinkError::RegisteredToAnotherUser),
    }
    Ok(DeviceLink {
        requestor: requestor.to_owned(),
        device: device.clone(),
        users,
        credential,
    })
}

/// Which users to unlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlink<'a> {
    /// One named user.
    User(&'a UserId),
    /// The device's user, which must be unambiguous (Matchmaker's rule when no user is named).
    TheUser,
    /// Every user of the device (logout of the device itself).
    Everyone,
}

/// Removes users from a link; `Ok(None)` means no user is left and the link goes away.
pub fn remove_users(
    existing: Option<&DeviceLink>,
    allow_multiple: bool,
    which: Unlink<'_>,
    now: Timestamp,
) -> Result<Option<DeviceLink>, LinkError> {
    let Some(link) = existing.filter(|l| l.live_users(now).next().is_some()) else {
        return Err(LinkError::NoUserOnDevice);
    };
    let keep: Vec<LinkedUser> = match which {
        Unlink::TheUser if allow_multiple => return Err(LinkError::UserIdRequired),
        Unlink::TheUser | Unlink::Everyone => Vec::new(),
        Unlink::User(user) => {
            if !link.live_users(now).any(|u| &u.user == user) {
                return Err(LinkError::NoUserOnDevice);
            }
            link.live_users(now)
                .filter(|u| &u.user != user)
                .cloned()
                .collect()
        }
    };
    Ok((!keep.is_empty()).then(|| DeviceLink {
        users: keep,
        ..link.clone()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);

    fn device() -> DeviceId {
        DeviceId::parse("tv-1").unwrap()
    }

    fn user(id: &str, expires: i64) -> LinkedUser {
        LinkedUser {
            user: UserId::parse(id).unwrap(),
            mvpd: Some("test-mvpd".into()),
            linked_at: T0,
            authn_expires_at: Timestamp::from_unix_millis(expires),
            metadata: BTreeMap::new(),
        }
    }

    fn link(users: Vec<LinkedUser>) -> DeviceLink {
        DeviceLink {
            requestor: "demo".into(),
            device: device(),
            users,
            credential: None,
        }
    }

    const LATER: i64 = 2_000_000;

    #[test]
    fn a_link_read_back_holds_no_spare_room() {
        let stored = serde_json::to_vec(&link(vec![user("alice", LATER)])).unwrap();
        let read: DeviceLink = serde_json::from_slice(&stored).unwrap();
        assert_eq!(read, link(vec![user("alice", LATER)]));
        assert_eq!(read.users.capacity(), 1, "one user, room for one");
    }

    #[test]
    fn first_user_links_a_free_device() {
        let l = add_user(None, "demo", &device(), false, user("alice", LATER), T0).unwrap();
        assert_eq!(l.users.len(), 1);
        assert_eq!(l.expires_at(), Some(Timestamp::from_unix_millis(LATER)));
    }

    #[test]
    fn single_user_device_refuses_a_second_user() {
        let existing = link(vec![user("alice", LATER)]);
        let err = add_user(
            Some(&existing),
            "demo",
            &device(),
            false,
            user("bob", LATER),
            T0,
        );
        assert_eq!(err, Err(LinkError::RegisteredToAnotherUser));
    }

    #[test]
    fn same_user_relinking_renews_authentication() {
        let existing = link(vec![user("alice", LATER)]);
        let renewed = add_user(
            Some(&existing),
            "demo",
            &device(),
            false,
            user("alice", LATER * 2),
            T0,
        )
        .unwrap();
        assert_eq!(renewed.users, vec![user("alice", LATER * 2)]);
    }

    #[test]
    fn expired_user_frees_the_device() {
        let existing = link(vec![user("alice", T0.unix_millis())]);
        let l = add_user(
            Some(&existing),
            "demo",
            &device(),
            false,
            user("bob", LATER),
            T0,
        )
        .unwrap();
        assert_eq!(l.users, vec![user("bob", LATER)]);
    }

    #[test]
    fn multi_user_device_adds_users_but_not_twice() {
        let existing = link(vec![user("alice", LATER)]);
        let l = add_user(
            Some(&existing),
            "demo",
            &device(),
            true,
            user("bob", LATER),
            T0,
        )
        .unwrap();
        assert_eq!(l.users.len(), 2);
        let again = add_user(Some(&l), "demo", &device(), true, user("bob", LATER), T0);
        assert_eq!(again, Err(LinkError::AlreadyRegisteredToYou));
    }

    #[test]
    fn the_device_s_credential_stays_with_a_live_link_only() {
        let credential = Some(DeviceCredential::new_family([1; 16]));
        let live = DeviceLink {
            credential: credential.clone(),
            ..link(vec![user("alice", LATER)])
        };
        let more = add_user(Some(&live), "demo", &device(), true, user("bob", LATER), T0);
        assert_eq!(more.unwrap().credential, credential);
        let fewer = remove_users(Some(&live), false, Unlink::Everyone, T0);
        assert_eq!(fewer, Ok(None), "no link, no credential");
        let expired = DeviceLink {
            credential,
            ..link(vec![user("alice", T0.unix_millis())])
        };
        let next = add_user(
            Some(&expired),
            "demo",
            &device(),
            false,
            user("eve", LATER),
            T0,
        );
        assert_eq!(next.unwrap().credential, None);
    }

    #[test]
    fn unlink_on_single_user_device_needs_no_user_id() {
        let existing = link(vec![user("alice", LATER)]);
        assert_eq!(
            remove_users(Some(&existing), false, Unlink::TheUser, T0),
            Ok(None)
        );
    }

    #[test]
    fn unlink_on_multi_user_device_needs_a_user_id() {
        let existing = link(vec![user("alice", LATER), user("bob", LATER)]);
        assert_eq!(
            remove_users(Some(&existing), true, Unlink::TheUser, T0),
            Err(LinkError::UserIdRequired)
        );
        let bob = UserId::parse("bob").unwrap();
        let left = remove_users(Some(&existing), true, Unlink::User(&bob), T0)
            .unwrap()
            .unwrap();
        assert_eq!(left.users, vec![user("alice", LATER)]);
        assert_eq!(
            remove_users(Some(&existing), true, Unlink::Everyone, T0),
            Ok(None)
        );
    }

    #[test]
    fn unlinking_nobody_is_an_error() {
        assert_eq!(
            remove_users(None, false, Unlink::TheUser, T0),
            Err(LinkError::NoUserOnDevice)
        );
        let expired = link(vec![user("alice", T0.unix_millis())]);
        assert_eq!(
            remove_users(Some(&expired), false, Unlink::Everyone, T0),
            Err(LinkError::NoUserOnDevice)
        );
        let existing = link(vec![user("alice", LATER)]);
        let carol = UserId::parse("carol").unwrap();
        assert_eq!(
            remove_users(Some(&existing), true, Unlink::User(&carol), T0),
            Err(LinkError::NoUserOnDevice)
        );
    }
}

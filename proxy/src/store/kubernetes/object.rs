//! One device as a `DeviceLink` object: its live code and its link, in one object, so
//! every store operation is a single-object write the API server can make conditional.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::ObjectMeta;
use linkgate_crds::{
    AwaitingUserSpec, CodeStateSpec, DeviceCredentialSpec, DeviceLinkSpec, LinkedUserSpec,
    PendingCodeSpec, SessionParamsSpec, TempPassWindowSpec,
};
use sha2::{Digest, Sha256};

use crate::store::LinkKey;
use linkgate_domain::code::{AwaitingUser, CodeRecord, CodeState, SessionParams};
use linkgate_domain::device_token::DeviceCredential;
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::{DeviceLink, LinkedUser};
use linkgate_domain::temp_pass::TempPass;
use linkgate_domain::time::Timestamp;

/// What the store keeps of one object.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: LinkKey,
    /// The object's `resourceVersion`: the version conditional writes name.
    pub version: u64,
    pub object: Arc<linkgate_crds::DeviceLink>,
    pub code: Option<CodeRecord>,
    /// The link, while it has users and is not revoked.
    pub link: Option<Arc<DeviceLink>>,
    pub passes: Vec<TempPass>,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("DeviceLink {0} has no name or resourceVersion")]
    Metadata(String),
    #[error("DeviceLink {name}: {what}")]
    Invalid { name: String, what: String },
}

/// The object name of a device: device IDs may hold characters object names cannot, so
/// the name carries a digest of the ID (the spec keeps the ID itself).
pub fn object_name(requestor: &str, device: &DeviceId) -> String {
    let digest = Sha256::digest(device.as_str().as_bytes());
    format!("{requestor}.{}", hex::encode(&digest[..16]))
}

/// Reads an object the API server returned.
pub fn entry(object: linkgate_crds::DeviceLink) -> Result<Entry, ObjectError> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let version = object
        .metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ObjectError::Metadata(name.clone()))?;
    let invalid = |what: String| ObjectError::Invalid {
        name: name.clone(),
        what,
    };
    let spec = &object.spec;
    let device = DeviceId::parse(&spec.device_id).map_err(|e| invalid(e.to_string()))?;
    let key = LinkKey::new(&spec.requestor, &device);
    let code = spec
        .code
        .as_ref()
        .map(|c| code_record(spec, &device, c))
        .transpose()
        .map_err(invalid)?;
    let link = if spec.revoked_at.is_none() && !spec.users.is_empty() {
        let users = spec
            .users
            .iter()
            .map(linked_user)
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
        Some(Arc::new(DeviceLink {
            requestor: spec.requestor.clone(),
            device,
            users,
            credential: spec.credential.as_ref().map(|c| DeviceCredential {
                family: c.family.clone(),
                refresh_seq: c.refresh_sequence,
            }),
        }))
    } else {
        None
    };
    let passes = spec.temp_passes.iter().map(temp_pass).collect();
    Ok(Entry {
        key,
        version,
        object: Arc::new(object),
        code,
        link,
        passes,
    })
}

/// A new object for a device that has none.
pub fn new_object(requestor: &str, device: &DeviceId) -> linkgate_crds::DeviceLink {
    linkgate_crds::DeviceLink {
        metadata: ObjectMeta {
            name: Some(object_name(requestor, device)),
            ..ObjectMeta::default()
        },
        spec: DeviceLinkSpec {
            requestor: requestor.to_owned(),
            device_id: device.as_str().to_owned(),
            code: None,
            users: Vec::new(),
            credential: None,
            revoked_at: None,
            origin_region: None,
            revision: None,
            temp_passes: Vec::new(),
        },
        status: None,
    }
}

/// Whether the object holds nothing worth keeping, so that a write leaving it so deletes it.
pub fn holds_nothing(spec: &DeviceLinkSpec) -> bool {
    spec.code.is_none()
        && spec.users.is_empty()
        && spec.revoked_at.is_none()
        && spec.temp_passes.is_empty()
}

/// Puts the device's window at its MVPD (`None`: removes the window at `mvpd`).
pub fn write_pass(spec: &mut DeviceLinkSpec, mvpd: &str, pass: Option<&TempPass>) {
    spec.temp_passes.retain(|p| p.mvpd != mvpd);
    spec.temp_passes.extend(pass.map(|p| TempPassWindowSpec {
        mvpd: p.mvpd.clone(),
        started_at: micro(p.started_at),
        ends_at: micro(p.ends_at),
    }));
}

fn temp_pass(spec: &TempPassWindowSpec) -> TempPass {
    TempPass {
        mvpd: spec.mvpd.clone(),
        started_at: timestamp(&spec.started_at),
        ends_at: timestamp(&spec.ends_at),
    }
}

pub fn code_spec(code: &CodeRecord) -> PendingCodeSpec {
    PendingCodeSpec {
        hash: code.hash.to_string(),
        id: code.id.clone(),
        issued_at: micro(code.issued_at),
        expires_at: micro(code.expires_at),
        mvpd: code.mvpd.clone(),
        device_type: code.device_type.clone(),
        requested_from: code.requested_from.map(|net| net.to_string()),
        session: code.session.as_ref().map(|s| SessionParamsSpec {
            domain: s.domain.clone(),
            redirect_url: s.redirect_url.clone(),
        }),
        device_code: code.device_code.map(|h| h.to_string()),
        state: match code.state {
            CodeState::Pending => CodeStateSpec::Pending,
            CodeState::Redeemed => CodeStateSpec::Redeemed,
            CodeState::Denied => CodeStateSpec::Denied,
            CodeState::Approving => CodeStateSpec::Approving,
        },
        awaiting: code.awaiting.as_ref().map(|a| AwaitingUserSpec {
            user_id: a.user.as_str().to_owned(),
            mvpd: a.mvpd.clone(),
            metadata: a.metadata.clone(),
        }),
    }
}

/// The spec fields a link writes: its users and the device's credential.
pub fn write_link(spec: &mut DeviceLinkSpec, link: &DeviceLink) {
    spec.users = link.users.iter().map(user_spec).collect();
    spec.credential = link.credential.as_ref().map(|c| DeviceCredentialSpec {
        family: c.family.clone(),
        refresh_sequence: c.refresh_seq,
    });
}

fn user_spec(user: &LinkedUser) -> LinkedUserSpec {
    LinkedUserSpec {
        user_id: user.user.as_str().to_owned(),
        mvpd: user.mvpd.clone(),
        linked_at: micro(user.linked_at),
        authn_expires_at: micro(user.authn_expires_at),
        metadata: user.metadata.clone(),
    }
}

pub fn micro(t: Timestamp) -> MicroTime {
    MicroTime(jiff::Timestamp::from_millisecond(t.unix_millis()).unwrap_or(jiff::Timestamp::MAX))
}

fn timestamp(t: &MicroTime) -> Timestamp {
    Timestamp::from_unix_millis(t.0.as_millisecond())
}

fn code_record(
    spec: &DeviceLinkSpec,
    device: &DeviceId,
    code: &PendingCodeSpec,
) -> Result<CodeRecord, String> {
    let hash = code.hash.parse().map_err(|e| format!("code hash: {e}"))?;
    let device_code = code
        .device_code
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| format!("device code hash: {e}"))?;
    Ok(CodeRecord {
        hash,
        id: code.id.clone(),
        requestor: spec.requestor.clone(),
        device: device.clone(),
        issued_at: timestamp(&code.issued_at),
        expires_at: timestamp(&code.expires_at),
        mvpd: code.mvpd.clone(),
        device_type: code.device_type.clone(),
        // Only shown to people: an unreadable one is left out rather than the code lost.
        requested_from: code.requested_from.as_deref().and_then(|n| n.parse().ok()),
        session: code.session.as_ref().map(|s| {
            Box::new(SessionParams {
                domain: s.domain.clone(),
                redirect_url: s.redirect_url.clone(),
            })
        }),
        device_code,
        state: match code.state {
            CodeStateSpec::Pending => CodeState::Pending,
            CodeStateSpec::Redeemed => CodeState::Redeemed,
            CodeStateSpec::Denied => CodeState::Denied,
            CodeStateSpec::Approving => CodeState::Approving,
        },
        awaiting: code
            .awaiting
            .as_ref()
            .map(|a| -> Result<Box<AwaitingUser>, String> {
                Ok(Box::new(AwaitingUser {
                    user: UserId::parse(&a.user_id).map_err(|e| e.to_string())?,
                    mvpd: a.mvpd.clone(),
                    metadata: a.metadata.clone(),
                }))
            })
            .transpose()?,
    })
}

fn linked_user(user: &LinkedUserSpec) -> Result<LinkedUser, String> {
    Ok(LinkedUser {
        user: UserId::parse(&user.user_id).map_err(|e| e.to_string())?,
        mvpd: user.mvpd.clone(),
        linked_at: timestamp(&user.linked_at),
        authn_expires_at: timestamp(&user.authn_expires_at),
        metadata: user.metadata.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use linkgate_domain::code::CodeHash;

    fn device() -> DeviceId {
        DeviceId::parse("Living_Room=TV-1").unwrap()
    }

    #[test]
    fn names_are_valid_object_names_and_differ_per_device() {
        let a = object_name("demo", &device());
        assert!(a.starts_with("demo."));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.')
        );
        assert_ne!(
            a,
            object_name("demo", &DeviceId::parse("living_room=TV-1").unwrap())
        );
    }

    #[test]
    fn a_code_and_users_read_back_exactly_as_written() {
        let code = CodeRecord {
            hash: CodeHash::from_bytes([7; 32]),
            id: "c-1".into(),
            requestor: "demo".into(),
            device: device(),
            issued_at: Timestamp::from_unix_millis(1_700_000_000_123),
            expires_at: Timestamp::from_unix_millis(1_700_001_800_123),
            mvpd: Some("mvpd".into()),
            device_type: Some("tv".into()),
            requested_from: Some("2001:db8:7::/48".parse().unwrap()),
            session: Some(Box::new(SessionParams {
                domain: Some("www.demo-tv.example".into()),
                redirect_url: Some("https://www.demo-tv.example/done".into()),
            })),
            device_code: Some(CodeHash::from_bytes([9; 32])),
            // Held for approval: the held user must come back too.
            state: CodeState::Approving,
            awaiting: Some(Box::new(AwaitingUser {
                user: UserId::parse("u-2").unwrap(),
                mvpd: Some("mvpd".into()),
                metadata: BTreeMap::from([("plan".into(), "basic".into())]),
            })),
        };
        let user = LinkedUser {
            user: UserId::parse("u-1").unwrap(),
            mvpd: Some("mvpd".into()),
            linked_at: Timestamp::from_unix_millis(1_700_000_000_456),
            authn_expires_at: Timestamp::from_unix_millis(1_800_000_000_789),
            metadata: BTreeMap::from([("zip".into(), "10001".into())]),
        };
        let link = DeviceLink {
            requestor: "demo".into(),
            device: device(),
            users: vec![user],
            credential: Some(DeviceCredential::new_family([3; 16])),
        };
        let mut object = new_object("demo", &device());
        object.metadata.resource_version = Some("42".into());
        object.spec.code = Some(code_spec(&code));
        write_link(&mut object.spec, &link);
        // Through JSON, as the API server stores it.
        let object = serde_json::from_value(serde_json::to_value(&object).unwrap()).unwrap();
        let entry = entry(object).unwrap();
        assert_eq!(entry.version, 42);
        assert_eq!(entry.key, LinkKey::new("demo", &device()));
        assert_eq!(entry.code, Some(code));
        assert_eq!(entry.link.as_deref(), Some(&link));
    }

    #[test]
    fn a_revoked_object_has_no_link() {
        let mut object = new_object("demo", &device());
        object.metadata.resource_version = Some("1".into());
        object.spec.users = vec![user_spec(&LinkedUser {
            user: UserId::parse("u").unwrap(),
            mvpd: None,
            linked_at: Timestamp::from_unix_millis(0),
            authn_expires_at: Timestamp::from_unix_millis(i64::from(u32::MAX)),
            metadata: BTreeMap::new(),
        })];
        object.spec.revoked_at = Some(micro(Timestamp::from_unix_millis(5)));
        assert!(entry(object).unwrap().link.is_none());
    }

    #[test]
    fn objects_without_a_version_or_with_bad_ids_are_refused() {
        assert!(matches!(
            entry(new_object("demo", &device())),
            Err(ObjectError::Metadata(_))
        ));
        let mut object = new_object("demo", &device());
        object.metadata.resource_version = Some("1".into());
        object.spec.device_id = "a b".into();
        assert!(matches!(entry(object), Err(ObjectError::Invalid { .. })));
    }
}

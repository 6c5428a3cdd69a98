//! The store's rules, written once for every backend: from what the store holds (a
//! [`View`]), the request and the time, the change one device's record undergoes, or the
//! refusal. A backend turns the change into its own writes, makes them durable and
//! publishes them; it decides nothing.
//!
//! Every change touches one device (its code and its link), which is what lets a backend
//! like the API server, with conditional writes of single objects, keep them atomic.

use super::{LinkKey, Result, StoreError};
use linkgate_domain::code::{AwaitingUser, CodeHash, CodeRecord, CodeState};
use linkgate_domain::link::DeviceLink;
use linkgate_domain::time::Timestamp;

/// What the rules need to see of a store.
pub trait View {
    /// The code with this hash, when exactly one device shows it.
    fn code(&self, hash: &CodeHash) -> Option<&CodeRecord>;

    /// Whether a device other than `device` shows a code with this hash that is live at `now`.
    fn code_shown_elsewhere(&self, hash: &CodeHash, device: &LinkKey, now: Timestamp) -> bool;

    /// The version of the device's link, while it has one.
    fn link_version(&self, key: &LinkKey) -> Option<u64>;
}

/// What becomes of one part of a device's record.
#[derive(Clone, Debug, PartialEq)]
pub enum Slot<T> {
    Keep,
    Put(T),
    Clear,
}

/// The change of one device's record: its code (a device shows at most one) and its link.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceChange {
    pub device: LinkKey,
    pub code: Slot<CodeRecord>,
    pub link: Slot<DeviceLink>,
}

/// A new code for its device, replacing the device's previous one; refused while another
/// device shows a live code with the same hash.
pub fn issue_code(view: &impl View, code: CodeRecord, now: Timestamp) -> Result<DeviceChange> {
    let device = LinkKey::new(&code.requestor, &code.device);
    if view.code_shown_elsewhere(&code.hash, &device, now) {
        return Err(StoreError::CodeTaken);
    }
    Ok(DeviceChange {
        device,
        code: Slot::Put(code),
        link: Slot::Keep,
    })
}

/// Withdraws a code; `None` when there is none.
pub fn delete_code(view: &impl View, hash: &CodeHash) -> Option<DeviceChange> {
    let code = view.code(hash)?;
    Some(DeviceChange {
        device: device_of(code),
        code: Slot::Clear,
        link: Slot::Keep,
    })
}

/// Moves a code to `state`, holding `awaiting`; `None` when there is no such code.
pub fn set_code_state(
    view: &impl View,
    hash: &CodeHash,
    state: CodeState,
    awaiting: Option<AwaitingUser>,
) -> Option<DeviceChange> {
    let code = view.code(hash)?;
    Some(DeviceChange {
        device: device_of(code),
        code: Slot::Put(CodeRecord {
            state,
            awaiting: awaiting.map(Box::new),
            ..code.clone()
        }),
        link: Slot::Keep,
    })
}

/// Spends a pending or approving code of the link's device and writes the link, which must
/// still be at `expected`. A device code still has to learn the outcome, so its code is
/// kept, marked used, until the device exchanges it.
pub fn redeem(
    view: &impl View,
    hash: &CodeHash,
    expected: Option<u64>,
    link: DeviceLink,
) -> Result<DeviceChange> {
    let code = code_of_device(view, hash, &link, |s| s.is_redeemable())?;
    let code = match code.device_code {
        Some(_) => Slot::Put(CodeRecord {
            state: CodeState::Redeemed,
            awaiting: None,
            ..code.clone()
        }),
        None => Slot::Clear,
    };
    with_link(view, code, expected, link)
}

/// Removes the used code of the link's device and writes the link (now holding the
/// credential the code was exchanged for), which must still be at `expected`.
pub fn exchange(
    view: &impl View,
    hash: &CodeHash,
    expected: Option<u64>,
    link: DeviceLink,
) -> Result<DeviceChange> {
    code_of_device(view, hash, &link, |s| s == CodeState::Redeemed)?;
    with_link(view, Slot::Clear, expected, link)
}

/// Writes a link if the stored one is still at `expected` (`None`: there is none).
pub fn put_link(view: &impl View, expected: Option<u64>, link: DeviceLink) -> Result<DeviceChange> {
    with_link(view, Slot::Keep, expected, link)
}

/// Removes (revokes) a link that is still at `expected`.
pub fn revoke(view: &impl View, key: &LinkKey, expected: u64) -> Result<DeviceChange> {
    if view.link_version(key) != Some(expected) {
        return Err(StoreError::Conflict);
    }
    Ok(DeviceChange {
        device: key.clone(),
        code: Slot::Keep,
        link: Slot::Clear,
    })
}

/// Whether a link has no user left whose sign-in is still good at `now`.
pub fn link_expired(link: &DeviceLink, now: Timestamp) -> bool {
    link.expires_at().is_none_or(|at| at <= now)
}

fn device_of(code: &CodeRecord) -> LinkKey {
    LinkKey::new(&code.requestor, &code.device)
}

/// The code with this hash, if it was issued to the link's device and is in a state `ok`
/// accepts; a conflict otherwise (it was spent, withdrawn or moved on meanwhile).
fn code_of_device<'v>(
    view: &'v impl View,
    hash: &CodeHash,
    link: &DeviceLink,
    ok: impl Fn(CodeState) -> bool,
) -> Result<&'v CodeRecord> {
    view.code(hash)
        .filter(|c| ok(c.state) && c.requestor == link.requestor && c.device == link.device)
        .ok_or(StoreError::Conflict)
}

fn with_link(
    view: &impl View,
    code: Slot<CodeRecord>,
    expected: Option<u64>,
    link: DeviceLink,
) -> Result<DeviceChange> {
    let device = LinkKey::of(&link);
    if view.link_version(&device) != expected {
        return Err(StoreError::Conflict);
    }
    Ok(DeviceChange {
        device,
        code,
        link: Slot::Put(link),
    })
}

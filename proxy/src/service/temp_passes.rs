//! TempPass windows as the entitlement checks see them: a device's open window at a TempPass
//! MVPD stands in for a sign-in there; a spent one refuses until the backend resets it.

use std::sync::Arc;

use super::Error;
use crate::store::{LinkKey, Store};
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::LinkedUser;
use linkgate_domain::requestor::{Mvpd, RequestorPolicy};
use linkgate_domain::temp_pass::{PassWrite, TempPass};
use linkgate_domain::time::Clock;

/// The user a device stands for during its window, one per TempPass MVPD (whose rules
/// answer its decisions): nobody signed in.
const TEMP_PASS_USER: &str = "temppass-";

pub struct TempPasses {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl TempPasses {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The allowed TempPass MVPD `id`.
    pub fn mvpd<'p>(p: &'p RequestorPolicy, id: &str) -> Option<&'p Mvpd> {
        p.allowed_mvpds()
            .find(|m| m.id == id && m.temp_pass.is_some())
    }

    /// Whether the requestor offers a TempPass at all.
    fn offered(p: &RequestorPolicy) -> bool {
        p.allowed_mvpds().any(|m| m.temp_pass.is_some())
    }

    /// The device's standing at `asked` (or, unnamed, at any TempPass MVPD): its open
    /// window as a user; none when it has had no window there; refused once the window
    /// it had there has ended.
    pub async fn standing(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        asked: Option<&str>,
    ) -> Result<Option<LinkedUser>, Error> {
        // No store read where no window could be: most requestors have no TempPass.
        let none_here = match asked {
            Some(m) => Self::mvpd(p, m).is_none(),
            None => !Self::offered(p),
        };
        if none_here {
            return Ok(None);
        }
        let now = self.clock.now();
        let passes = self
            .store
            .temp_passes(&LinkKey::new(&p.name, device))
            .await?;
        let mut held = passes
            .iter()
            .filter(|pass| asked.is_none_or(|m| pass.mvpd == m))
            .filter(|pass| Self::mvpd(p, &pass.mvpd).is_some());
        match held.clone().find(|pass| pass.is_open(now)) {
            Some(open) => Ok(Some(user(open))),
            None if asked.is_some() && held.next().is_some() => Err(Error::TempPassSpent),
            None => Ok(None),
        }
    }

    /// The device's open windows, as users.
    pub async fn open_windows(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
    ) -> Result<Vec<LinkedUser>, Error> {
        if !Self::offered(p) {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let passes = self
            .store
            .temp_passes(&LinkKey::new(&p.name, device))
            .await?;
        Ok(passes
            .iter()
            .filter(|pass| pass.is_open(now) && Self::mvpd(p, &pass.mvpd).is_some())
            .map(user)
            .collect())
    }

    /// Opens the device's window at the TempPass `mvpd`, or finds the one it has: the
    /// window as a user while it is open, refused once it has ended.
    pub async fn open(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        mvpd: &Mvpd,
    ) -> Result<LinkedUser, Error> {
        let duration = mvpd
            .temp_pass
            .ok_or(Error::MvpdNotAllowed(mvpd.id.clone()))?;
        let now = self.clock.now();
        let write = PassWrite::Open { now, duration };
        let pass = self.write(p, device, &mvpd.id, write).await?;
        match pass {
            Some(pass) if pass.is_open(now) => Ok(user(&pass)),
            _ => Err(Error::TempPassSpent),
        }
    }

    /// Ends the device's open window at `mvpd` (a logout); `false` when none was open.
    pub async fn end(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        mvpd: &str,
    ) -> Result<bool, Error> {
        let now = self.clock.now();
        let after = self.write(p, device, mvpd, PassWrite::End { now }).await?;
        Ok(after.is_some_and(|pass| pass.ends_at == now))
    }

    /// Forgets the device's window at `mvpd` (a TempPass MVPD now or once), so that it may
    /// open another; `false` when it had none.
    pub async fn reset(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        mvpd: &str,
    ) -> Result<bool, Error> {
        let key = LinkKey::new(&p.name, device);
        let had = self
            .store
            .temp_passes(&key)
            .await?
            .iter()
            .any(|pass| pass.mvpd == mvpd);
        if had {
            self.write(p, device, mvpd, PassWrite::Reset).await?;
        }
        Ok(had)
    }

    async fn write(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        mvpd: &str,
        write: PassWrite,
    ) -> Result<Option<TempPass>, Error> {
        let key = LinkKey::new(&p.name, device);
        Ok(self.store.write_temp_pass(&key, mvpd, write).await?)
    }
}

/// A window as the user it lets in.
fn user(pass: &TempPass) -> LinkedUser {
    LinkedUser {
        user: UserId::parse(&format!("{TEMP_PASS_USER}{}", pass.mvpd))
            .expect("MVPD IDs are valid in user IDs"),
        mvpd: Some(pass.mvpd.clone()),
        linked_at: pass.started_at,
        authn_expires_at: pass.ends_at,
        metadata: Default::default(),
    }
}

//! TempPass: an MVPD that lets a device in for a while without anyone signing in. Each
//! device gets one window per such MVPD; once it has ended it stays spent, kept beside the
//! device's link (not in it, so neither a logout nor expiry frees it), until the
//! requestor's backend resets it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One device's window at one TempPass MVPD.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TempPass {
    pub mvpd: String,
    pub started_at: Timestamp,
    pub ends_at: Timestamp,
}

impl TempPass {
    pub fn is_open(&self, now: Timestamp) -> bool {
        now < self.ends_at
    }
}

/// A change to a device's window at one MVPD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassWrite {
    /// Opens a window of `duration` from `now`, unless the device has had one.
    Open { now: Timestamp, duration: Duration },
    /// Ends an open window at `now` (the device logged out of it): it stays spent.
    End { now: Timestamp },
    /// Forgets the window, so the device may open another.
    Reset,
}

impl PassWrite {
    /// What the write makes of the window stored at `mvpd`: `None` when it changes nothing,
    /// else the window to keep (`Some(None)`: none).
    pub fn apply(self, mvpd: &str, stored: Option<&TempPass>) -> Option<Option<TempPass>> {
        match (self, stored) {
            (PassWrite::Open { now, duration }, None) => Some(Some(TempPass {
                mvpd: mvpd.to_owned(),
                started_at: now,
                ends_at: now.after(duration),
            })),
            (PassWrite::End { now }, Some(pass)) if pass.is_open(now) => Some(Some(TempPass {
                ends_at: now,
                ..pass.clone()
            })),
            (PassWrite::Reset, Some(_)) => Some(None),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_unix_millis(millis)
    }

    #[test]
    fn a_window_opens_once_and_is_never_opened_again() {
        let open = PassWrite::Open {
            now: at(1_000),
            duration: MINUTE,
        };
        let pass = open.apply("temp", None).unwrap().unwrap();
        assert_eq!((pass.started_at, pass.ends_at), (at(1_000), at(61_000)));
        assert!(pass.is_open(at(60_999)));
        assert!(!pass.is_open(at(61_000)));
        // Neither while it is open nor after it has ended.
        let again = PassWrite::Open {
            now: at(99_000),
            duration: MINUTE,
        };
        assert_eq!(again.apply("temp", Some(&pass)), None);
    }

    #[test]
    fn ending_keeps_the_window_spent_and_a_reset_forgets_it() {
        let pass = TempPass {
            mvpd: "temp".into(),
            started_at: at(0),
            ends_at: at(60_000),
        };
        let ended = PassWrite::End { now: at(5_000) }
            .apply("temp", Some(&pass))
            .unwrap()
            .unwrap();
        assert_eq!(ended.ends_at, at(5_000));
        assert!(!ended.is_open(at(5_000)));
        // An ended window ends no further; nothing to end is no change.
        assert_eq!(
            PassWrite::End { now: at(9_000) }.apply("temp", Some(&ended)),
            None
        );
        assert_eq!(PassWrite::End { now: at(9_000) }.apply("temp", None), None);
        assert_eq!(PassWrite::Reset.apply("temp", Some(&ended)), Some(None));
        assert_eq!(PassWrite::Reset.apply("temp", None), None);
    }
}

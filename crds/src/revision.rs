//! The revision that orders writes of one DeviceLink across regions: a hybrid logical clock
//! reading (wall-clock milliseconds, and a counter for writes that the clock alone cannot
//! order) with the writing region as the last tie-break. Every region compares two copies
//! of a link the same way, so they all keep the same one.

use std::fmt;
use std::str::FromStr;

/// `<milliseconds>-<counter>-<region>`, e.g. `1764067200000-0-eu-west`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision {
    /// Wall-clock time of the write, or of the latest write it follows if that is later.
    pub millis: u64,
    /// Orders writes within one millisecond, or after a write stamped by a clock ahead.
    pub counter: u32,
    /// The region that wrote.
    pub region: String,
}

impl Revision {
    /// The revision of a write made at `now_millis` in `region` on top of `previous`: always
    /// greater than `previous`, even when this region's clock is behind the one that
    /// stamped it.
    pub fn next(previous: Option<&Revision>, now_millis: u64, region: &str) -> Self {
        match previous {
            Some(p) if p.millis >= now_millis => Self {
                millis: p.millis,
                counter: p.counter.saturating_add(1),
                region: region.to_owned(),
            },
            _ => Self {
                millis: now_millis,
                counter: 0,
                region: region.to_owned(),
            },
        }
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.millis, self.counter, self.region)
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("revision {0:?} is not <milliseconds>-<counter>-<region>")]
pub struct RevisionError(String);

impl FromStr for Revision {
    type Err = RevisionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RevisionError(s.to_owned());
        let mut parts = s.splitn(3, '-');
        let millis = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let counter = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let region = parts.next().filter(|r| is_region(r)).ok_or_else(bad)?;
        Ok(Self {
            millis,
            counter,
            region: region.to_owned(),
        })
    }
}

/// Region names are DNS labels: they end up in object names and label values.
pub fn is_region(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(s: &str) -> Revision {
        s.parse().unwrap()
    }

    #[test]
    fn later_writes_win_then_the_counter_then_the_region() {
        assert!(rev("2000-0-a") > rev("1999-9-z"));
        assert!(rev("2000-1-a") > rev("2000-0-z"));
        assert!(rev("2000-1-b") > rev("2000-1-a"));
        // Numbers compare as numbers, not as text.
        assert!(rev("10000-0-a") > rev("9999-0-a"));
        assert!(rev("5-10-a") > rev("5-9-a"));
    }

    #[test]
    fn a_write_always_follows_the_one_it_replaces_even_behind_a_fast_clock() {
        let first = Revision::next(None, 1_000, "eu");
        assert_eq!(first.to_string(), "1000-0-eu");
        // Another region's clock is far behind: its write still orders after.
        let second = Revision::next(Some(&first), 1, "us");
        assert!(second > first);
        assert_eq!(second.to_string(), "1000-1-us");
        let third = Revision::next(Some(&second), 2_000, "eu");
        assert_eq!(third.to_string(), "2000-0-eu");
    }

    #[test]
    fn regions_may_hold_dashes_and_text_round_trips() {
        let r = rev("1764067200000-3-eu-west-1");
        assert_eq!(r.region, "eu-west-1");
        assert_eq!(r.to_string().parse::<Revision>().unwrap(), r);
        for bad in ["", "1-2", "x-0-eu", "1-x-eu", "1-2-", "1-2-EU", "1-2-eu-"] {
            assert!(bad.parse::<Revision>().is_err(), "{bad}");
        }
    }
}

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since the Unix epoch (the unit the Adobe dialect speaks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down: a JWT `iat`.
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Whole seconds since the epoch, rounded up: a JWT `exp` (whole seconds) that never ends
    /// a token before the lifetime it was announced with.
    pub const fn unix_secs_ceil(self) -> i64 {
        self.0.div_euclid(1000) + (self.0.rem_euclid(1000) > 0) as i64
    }

    /// Saturating: a TTL can never wrap a timestamp around.
    pub fn after(self, ttl: Duration) -> Self {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(millis))
    }

    /// Time left until `deadline`, zero once it has passed.
    pub fn until(self, deadline: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(deadline.0.saturating_sub(self.0)).unwrap_or(0))
    }
}

/// Where "now" comes from; injected so that expiry is testable without sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock tests move by hand (here and in the crates built on these rules).
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn at(millis: i64) -> Self {
        Self(std::sync::atomic::AtomicI64::new(millis))
    }

    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).expect("small duration");
        self.0
            .fetch_add(millis, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_saturates_and_until_never_goes_negative() {
        let t = Timestamp::from_unix_millis(1_000);
        assert_eq!(t.after(Duration::from_secs(2)).unix_millis(), 3_000);
        assert_eq!(
            Timestamp::from_unix_millis(i64::MAX - 1).after(Duration::from_secs(1)),
            Timestamp::from_unix_millis(i64::MAX)
        );
        assert_eq!(t.until(Timestamp::from_unix_millis(500)), Duration::ZERO);
        assert_eq!(
            t.until(Timestamp::from_unix_millis(1_250)),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(10);
        assert_eq!(clock.now().unix_millis(), 10);
        clock.advance(Duration::from_millis(5));
        assert_eq!(clock.now().unix_millis(), 15);
    }
}

//! The time boundary: embassy-time's monotonic clock and the wall clock the
//! core needs, in one small file.
//!
//! A device rarely knows the date at boot. The application provisions it (a
//! build-time or first-boot value, an RTC) or learns it later (SNTP) and
//! calls [`WallClock::set`]; until then [`WallClock::now`] is `None` and
//! every time-dependent check in the core fails closed (token validation
//! answers 503 "clock not set", never "valid").
//!
//! The wall clock is stored as an offset from embassy-time's monotonic
//! [`Instant`], so it advances with the monotonic clock and a later `set`
//! (SNTP correction) simply replaces the offset.

use core::cell::Cell;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_time::Instant;
use mcpauth_core::time::UnixTime;

/// Wall-clock time derived from embassy-time plus a provisioned offset.
///
/// `const`-constructible so it can live in a `static` shared by the server
/// and an SNTP task. 24 bytes of RAM.
pub struct WallClock {
    /// Unix seconds at monotonic second 0, once known.
    offset: Mutex<CriticalSectionRawMutex, Cell<Option<u64>>>,
}

impl core::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WallClock")
            .field("now", &self.now())
            .finish()
    }
}

impl Default for WallClock {
    fn default() -> Self {
        Self::unknown()
    }
}

impl WallClock {
    /// A clock that does not know the time yet.
    pub const fn unknown() -> Self {
        WallClock {
            offset: Mutex::new(Cell::new(None)),
        }
    }

    /// The wall-clock time is `now` at this instant.
    pub fn set(&self, now: UnixTime) {
        self.set_at(now, Instant::now());
    }

    /// The wall-clock time was `time` at monotonic instant `at` (SNTP: the
    /// instant the reply arrived).
    pub fn set_at(&self, time: UnixTime, at: Instant) {
        let offset = time.secs().saturating_sub(at.as_secs());
        self.offset.lock(|c| c.set(Some(offset)));
    }

    /// Forget the time (e.g. the RTC lost power): validation fails closed
    /// again until the next [`WallClock::set`].
    pub fn clear(&self) {
        self.offset.lock(|c| c.set(None));
    }

    /// The current wall-clock time, or `None` while unknown.
    pub fn now(&self) -> Option<UnixTime> {
        let offset = self.offset.lock(Cell::get)?;
        Some(UnixTime(offset.saturating_add(Instant::now().as_secs())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // embassy-time's std driver: the monotonic clock cannot be stepped, so
    // each check allows the second it may tick.
    fn within(got: Option<UnixTime>, expected: u64) -> bool {
        got.is_some_and(|t| (expected..=expected + 1).contains(&t.secs()))
    }

    #[test]
    fn unknown_until_set_then_follows_the_monotonic_clock() {
        let clock = WallClock::unknown();
        assert_eq!(clock.now(), None);
        clock.set(UnixTime(1_800_000_000));
        assert!(within(clock.now(), 1_800_000_000));
        // An SNTP reply stamped at monotonic second 0 said 2_000_000_000.
        clock.set_at(UnixTime(2_000_000_000), Instant::from_secs(0));
        assert!(within(
            clock.now(),
            2_000_000_000 + Instant::now().as_secs()
        ));
        clock.clear();
        assert_eq!(clock.now(), None);
    }
}

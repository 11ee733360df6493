//! Wall-clock time as the core sees it: an argument, never a call.

/// Seconds since the Unix epoch (UTC), as supplied by the host.
///
/// The core never reads a clock. A host that does not know the time (a device
/// before SNTP) passes `None` wherever an `Option<UnixTime>` is asked for, and
/// every time-dependent check then fails closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// The number of whole seconds since the epoch.
    pub const fn secs(self) -> u64 {
        self.0
    }

    /// `self + secs`, saturating instead of overflowing.
    pub const fn plus(self, secs: u64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }
}

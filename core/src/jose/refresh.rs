//! When a resource server re-fetches its issuer's JWKS.
//!
//! An issuer rotates its signing key and keeps publishing the old public key
//! until every token it signed has expired, then retires it. A resource
//! server that validates tokens offline follows by fetching the JWKS again:
//! at once when a token names a `kid` it does not know (a new key), and
//! periodically (retired keys disappear). Tokens with made-up `kid`s cost
//! nothing but a lookup: fetches they prompt are spaced
//! ([`JwksRefreshSchedule::unknown_kid_spacing_secs`]), and a failed fetch
//! is retried no sooner than [`JwksRefreshSchedule::retry_secs`].
//!
//! Pure bookkeeping on a monotonic clock in seconds that the host reads;
//! the host does the fetching (an HTTP or TLS client) and the swapping.

/// Default least time between two fetches prompted by unknown `kid`s.
pub const DEFAULT_UNKNOWN_KID_SPACING_SECS: u64 = 30;
/// Default period of the routine fetch.
pub const DEFAULT_JWKS_REFRESH_SECS: u64 = 3600;
/// Default wait before retrying a failed routine fetch.
pub const DEFAULT_JWKS_RETRY_SECS: u64 = 60;

/// Why a fetch is considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReason {
    /// The routine fetch (new keys, retired keys).
    Periodic,
    /// A presented token names a `kid` the key set does not hold.
    UnknownKid,
}

/// Bookkeeping of JWKS fetches; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksRefreshSchedule {
    /// Period of the routine fetch, seconds.
    pub period_secs: u64,
    /// Least time between fetches prompted by unknown `kid`s, seconds
    /// (tokens with made-up `kid`s must not make the server fetch in a loop).
    pub unknown_kid_spacing_secs: u64,
    /// Least time between a failed routine fetch and the next, seconds.
    pub retry_secs: u64,
    last_attempt: Option<u64>,
    last_success: Option<u64>,
}

impl Default for JwksRefreshSchedule {
    fn default() -> Self {
        JwksRefreshSchedule::new()
    }
}

impl JwksRefreshSchedule {
    /// The default schedule; the first routine fetch is due at once.
    pub const fn new() -> JwksRefreshSchedule {
        JwksRefreshSchedule {
            period_secs: DEFAULT_JWKS_REFRESH_SECS,
            unknown_kid_spacing_secs: DEFAULT_UNKNOWN_KID_SPACING_SECS,
            retry_secs: DEFAULT_JWKS_RETRY_SECS,
            last_attempt: None,
            last_success: None,
        }
    }

    /// A schedule whose keys were fetched (or provisioned) at `now`: the
    /// first routine fetch is due a period later.
    pub fn fetched_at(mut self, now: u64) -> JwksRefreshSchedule {
        self.last_attempt = Some(now);
        self.last_success = Some(now);
        self
    }

    /// Whether to fetch now, at monotonic time `now` (seconds), for `reason`.
    pub fn is_due(&self, now: u64, reason: RefreshReason) -> bool {
        let since = |t: Option<u64>| t.map(|t| now.saturating_sub(t));
        let since_attempt = since(self.last_attempt);
        match reason {
            RefreshReason::UnknownKid => {
                since_attempt.is_none_or(|s| s >= self.unknown_kid_spacing_secs)
            }
            RefreshReason::Periodic => {
                let rested = since_attempt.is_none_or(|s| s >= self.retry_secs);
                let stale = since(self.last_success).is_none_or(|s| s >= self.period_secs);
                rested && stale
            }
        }
    }

    /// Seconds from `now` until the routine fetch is next due (0: now).
    pub fn periodic_due_in(&self, now: u64) -> u64 {
        let after =
            |t: Option<u64>, wait: u64| t.map_or(0, |t| t.saturating_add(wait).saturating_sub(now));
        after(self.last_success, self.period_secs).max(after(self.last_attempt, self.retry_secs))
    }

    /// Record a fetch attempt at `now` and whether it produced a usable key
    /// set.
    pub fn record(&mut self, now: u64, succeeded: bool) {
        self.last_attempt = Some(now);
        if succeeded {
            self.last_success = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kids_are_spaced() {
        let mut s = JwksRefreshSchedule::new().fetched_at(100);
        assert!(!s.is_due(110, RefreshReason::UnknownKid));
        assert!(s.is_due(130, RefreshReason::UnknownKid));
        s.record(130, false);
        assert!(
            !s.is_due(159, RefreshReason::UnknownKid),
            "a failure counts too"
        );
        assert!(s.is_due(160, RefreshReason::UnknownKid));
    }

    #[test]
    fn routine_fetches_follow_the_period_and_retry_after_failures() {
        let mut s = JwksRefreshSchedule::new();
        assert!(s.is_due(0, RefreshReason::Periodic), "nothing fetched yet");
        assert_eq!(s.periodic_due_in(0), 0);
        s.record(0, true);
        assert!(!s.is_due(3599, RefreshReason::Periodic));
        assert_eq!(s.periodic_due_in(1000), 2600);
        assert!(s.is_due(3600, RefreshReason::Periodic));
        s.record(3600, false);
        assert!(!s.is_due(3659, RefreshReason::Periodic), "retry spacing");
        assert_eq!(s.periodic_due_in(3600), 60);
        assert!(s.is_due(3660, RefreshReason::Periodic));
        // A clock that reads earlier than the last fetch never underflows.
        assert!(!s.is_due(10, RefreshReason::Periodic));
    }
}

//! Budgets of the metadata-document fetcher ([`crate::cimd`]): how many
//! fetches may run at once, to one host, for one requester, and which hosts
//! recently failed. Every table is bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpauth_core::oauth::{MetadataFetchError, peer_bucket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Fetches in flight at once, whoever asked: a flood of slow documents
/// holds at most this many sockets and tasks.
pub const MAX_CONCURRENT_FETCHES: usize = 16;
/// Fetches in flight to one host: one slow host cannot take every fetch
/// slot, whatever URLs on it are named.
pub const MAX_FETCHES_PER_HOST: usize = 2;
/// Fetches one host may receive per [`BUDGET_WINDOW`]: cache-busting URLs
/// (`?1`, `?2`, …) on one host cannot make mcpauth fetch in bulk, or be
/// used to flood a third party.
pub const FETCHES_PER_HOST: u32 = 30;
/// Fetches one requester (client address, IPv6 by /64) may cause per
/// [`BUDGET_WINDOW`]: one peer cannot make mcpauth contact hosts in bulk.
pub const FETCHES_PER_REQUESTER: u32 = 30;
/// The window of the per-host and per-requester budgets.
pub const BUDGET_WINDOW: Duration = Duration::from_secs(60);
/// Hosts and requesters tracked at once (memory bound); past it the oldest
/// window is forgotten.
pub const MAX_TRACKED: usize = 4096;
/// How long a host that did not answer (no connection, no TLS, timeout) or
/// resolves to a forbidden address is refused without trying, whatever
/// path or query a URL on it has.
pub const HOST_FAILURE_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

/// Counts per key in a fixed window, at most [`MAX_TRACKED`] keys.
#[derive(Debug)]
struct Windows<K>(HashMap<K, Window>);

impl<K: std::hash::Hash + Eq + Clone> Windows<K> {
    fn new() -> Self {
        Windows(HashMap::new())
    }

    fn has_room(&self, key: &K, limit: u32, now: Instant) -> bool {
        self.0
            .get(key)
            .is_none_or(|w| now.duration_since(w.start) >= BUDGET_WINDOW || w.count < limit)
    }

    fn count(&mut self, key: &K, now: Instant) {
        if !self.0.contains_key(key) && self.0.len() >= MAX_TRACKED {
            self.0
                .retain(|_, w| now.duration_since(w.start) < BUDGET_WINDOW);
            if self.0.len() >= MAX_TRACKED
                && let Some(oldest) = self
                    .0
                    .iter()
                    .min_by_key(|(_, w)| w.start)
                    .map(|(k, _)| k.clone())
            {
                self.0.remove(&oldest);
            }
        }
        let w = self.0.entry(key.clone()).or_insert(Window {
            start: now,
            count: 0,
        });
        if now.duration_since(w.start) >= BUDGET_WINDOW {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        w.count += 1;
    }
}

#[derive(Debug)]
struct State {
    hosts: Windows<String>,
    requesters: Windows<IpAddr>,
    in_flight: HashMap<String, usize>,
    failed_hosts: HashMap<String, (MetadataFetchError, Instant)>,
}

/// The fetcher's budgets.
#[derive(Debug, Clone)]
pub struct FetchBudget {
    state: Arc<Mutex<State>>,
    concurrent: Arc<Semaphore>,
}

/// Permission for one fetch; gives its place back when dropped.
#[derive(Debug)]
pub struct FetchTicket {
    host: String,
    state: Arc<Mutex<State>>,
    _concurrent: OwnedSemaphorePermit,
}

impl Drop for FetchTicket {
    fn drop(&mut self) {
        if let Ok(mut state) = self.state.lock()
            && let Some(n) = state.in_flight.get_mut(&self.host)
        {
            *n -= 1;
            if *n == 0 {
                state.in_flight.remove(&self.host);
            }
        }
    }
}

impl Default for FetchBudget {
    fn default() -> Self {
        FetchBudget::new()
    }
}

impl FetchBudget {
    /// Fresh budgets.
    pub fn new() -> FetchBudget {
        FetchBudget {
            state: Arc::new(Mutex::new(State {
                hosts: Windows::new(),
                requesters: Windows::new(),
                in_flight: HashMap::new(),
                failed_hosts: HashMap::new(),
            })),
            concurrent: Arc::new(Semaphore::new(MAX_CONCURRENT_FETCHES)),
        }
    }

    /// A ticket for fetching from `host` (lowercase `host:port`) on behalf
    /// of `requester`, or why not: the host's remembered failure, or
    /// [`MetadataFetchError::Busy`] when a budget is spent. Never waits.
    pub fn admit(
        &self,
        host: &str,
        requester: Option<IpAddr>,
        now: Instant,
    ) -> Result<FetchTicket, MetadataFetchError> {
        let mut state = self.state.lock().map_err(|_| MetadataFetchError::Busy)?;
        if let Some(&(error, until)) = state.failed_hosts.get(host) {
            if until > now {
                return Err(error);
            }
            state.failed_hosts.remove(host);
        }
        let host_key = host.to_owned();
        let requester = requester.map(peer_bucket);
        let room = state.hosts.has_room(&host_key, FETCHES_PER_HOST, now)
            && requester.is_none_or(|r| state.requesters.has_room(&r, FETCHES_PER_REQUESTER, now))
            && state.in_flight.get(host).copied().unwrap_or(0) < MAX_FETCHES_PER_HOST;
        if !room {
            return Err(MetadataFetchError::Busy);
        }
        let permit = self
            .concurrent
            .clone()
            .try_acquire_owned()
            .map_err(|_| MetadataFetchError::Busy)?;
        state.hosts.count(&host_key, now);
        if let Some(r) = requester {
            state.requesters.count(&r, now);
        }
        *state.in_flight.entry(host_key.clone()).or_insert(0) += 1;
        Ok(FetchTicket {
            host: host_key,
            state: self.state.clone(),
            _concurrent: permit,
        })
    }

    /// Remember the outcome of a fetch from `host`: a host that did not
    /// answer, or may not be contacted, is refused for [`HOST_FAILURE_TTL`]
    /// without trying again.
    pub fn record(&self, host: &str, outcome: Result<(), MetadataFetchError>, now: Instant) {
        let Err(error @ (MetadataFetchError::Unreachable | MetadataFetchError::Forbidden)) =
            outcome
        else {
            return;
        };
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if !state.failed_hosts.contains_key(host) && state.failed_hosts.len() >= MAX_TRACKED {
            state.failed_hosts.retain(|_, (_, until)| *until > now);
            if state.failed_hosts.len() >= MAX_TRACKED
                && let Some(soonest) = state
                    .failed_hosts
                    .iter()
                    .min_by_key(|(_, (_, until))| *until)
                    .map(|(k, _)| k.clone())
            {
                state.failed_hosts.remove(&soonest);
            }
        }
        state
            .failed_hosts
            .insert(host.to_owned(), (error, now + HOST_FAILURE_TTL));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    #[test]
    fn per_host_in_flight_and_failures_by_host() {
        let b = FetchBudget::new();
        let now = Instant::now();
        let t1 = b
            .admit("slow.example:443", ip("192.0.2.1"), now)
            .expect("first");
        let t2 = b
            .admit("slow.example:443", ip("192.0.2.2"), now)
            .expect("second");
        assert_eq!(
            b.admit("slow.example:443", ip("192.0.2.3"), now).err(),
            Some(MetadataFetchError::Busy)
        );
        assert!(b.admit("other.example:443", ip("192.0.2.3"), now).is_ok());
        drop(t1);
        let t3 = b
            .admit("slow.example:443", ip("192.0.2.3"), now)
            .expect("a place freed");
        drop((t2, t3));
        b.record(
            "slow.example:443",
            Err(MetadataFetchError::Unreachable),
            now,
        );
        assert_eq!(
            b.admit("slow.example:443", ip("192.0.2.4"), now).err(),
            Some(MetadataFetchError::Unreachable),
            "remembered for the host, whatever the URL"
        );
        let later = now + HOST_FAILURE_TTL + Duration::from_secs(1);
        assert!(b.admit("slow.example:443", ip("192.0.2.4"), later).is_ok());
        // A document that was fetched but refused is not a host failure.
        b.record("bad.example:443", Err(MetadataFetchError::BadResponse), now);
        assert!(b.admit("bad.example:443", ip("192.0.2.4"), now).is_ok());
    }

    #[test]
    fn per_requester_and_per_host_windows() {
        let b = FetchBudget::new();
        let now = Instant::now();
        for i in 0..FETCHES_PER_REQUESTER {
            drop(
                b.admit(&format!("h{i}.example:443"), ip("2001:db8:1:2::1"), now)
                    .expect("within"),
            );
        }
        // Another address of the same /64 shares the budget.
        assert_eq!(
            b.admit("x.example:443", ip("2001:db8:1:2::ffff"), now)
                .err(),
            Some(MetadataFetchError::Busy)
        );
        assert!(b.admit("x.example:443", ip("2001:db8:1:3::1"), now).is_ok());
        let later = now + BUDGET_WINDOW;
        assert!(
            b.admit("y.example:443", ip("2001:db8:1:2::1"), later)
                .is_ok()
        );

        let b = FetchBudget::new();
        for i in 0..FETCHES_PER_HOST {
            drop(
                b.admit("busy.example:443", ip(&format!("198.51.100.{i}")), now)
                    .expect("within"),
            );
        }
        assert_eq!(
            b.admit("busy.example:443", ip("203.0.113.1"), now).err(),
            Some(MetadataFetchError::Busy)
        );
    }

    #[test]
    fn concurrency_is_bounded_overall() {
        let b = FetchBudget::new();
        let now = Instant::now();
        let held: Vec<_> = (0..MAX_CONCURRENT_FETCHES)
            .map(|i| {
                b.admit(&format!("h{i}.example:443"), None, now)
                    .expect("within")
            })
            .collect();
        assert_eq!(
            b.admit("one-more.example:443", None, now).err(),
            Some(MetadataFetchError::Busy)
        );
        drop(held);
        assert!(b.admit("one-more.example:443", None, now).is_ok());
    }

    #[test]
    fn tables_are_bounded() {
        let b = FetchBudget::new();
        let now = Instant::now();
        for i in 0..MAX_TRACKED + 10 {
            let host = format!("h{i}.example:443");
            drop(b.admit(&host, None, now).expect("admit"));
            b.record(&host, Err(MetadataFetchError::Unreachable), now);
        }
        let state = b.state.lock().expect("lock");
        assert!(state.hosts.0.len() <= MAX_TRACKED);
        assert!(state.failed_hosts.len() <= MAX_TRACKED);
    }
}

//! Login throttling: failed sign-ins counted per username and per peer IP in
//! one bounded table, in fixed windows.
//!
//! The table is local to one instance (a shared database would make every
//! password attempt a write). It holds at most [`ThrottleConfig::capacity`]
//! entries; when full, expired windows go first, then the oldest window, so a
//! flood of usernames can displace old counters but never grow memory.

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::net::IpAddr;

use spin::Mutex;

/// Limits of login throttling. Each bounds password guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failed sign-ins allowed per username per window.
    pub per_user: u32,
    /// Failed sign-ins allowed per peer IP per window.
    pub per_ip: u32,
    /// Window length in seconds.
    pub window_secs: u64,
    /// Entries kept (memory bound).
    pub capacity: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            per_user: 5,
            per_ip: 20,
            window_secs: 15 * 60,
            capacity: 4096,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    User(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: u64,
    failures: u32,
}

/// The throttle table.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    config: ThrottleConfig,
    table: Mutex<BTreeMap<Key, Window>>,
}

/// Usernames are compared case-insensitively and truncated, so that
/// `Alice`/`alice` share a counter and a huge name costs nothing.
fn user_key(username: &str) -> Key {
    let mut s = String::new();
    for c in username.chars().take(64) {
        s.extend(c.to_lowercase());
    }
    Key::User(s)
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        LoginThrottle {
            config,
            table: Mutex::new(BTreeMap::new()),
        }
    }

    /// `Err(seconds until retry)` if the user or the IP is locked out.
    pub fn check(&self, username: &str, peer: Option<IpAddr>, now: u64) -> Result<(), u64> {
        let t = self.table.lock();
        let mut wait = 0;
        let mut probe = |key: Key, limit: u32| {
            if let Some(w) = t.get(&key) {
                let end = w.start.saturating_add(self.config.window_secs);
                if end > now && w.failures >= limit {
                    wait = wait.max(end - now);
                }
            }
        };
        probe(user_key(username), self.config.per_user);
        if let Some(ip) = peer {
            probe(Key::Ip(ip), self.config.per_ip);
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    /// Count a failed sign-in.
    pub fn record_failure(&self, username: &str, peer: Option<IpAddr>, now: u64) {
        let mut t = self.table.lock();
        self.bump(&mut t, user_key(username), now);
        if let Some(ip) = peer {
            self.bump(&mut t, Key::Ip(ip), now);
        }
    }

    /// Forget the user's failures after a successful sign-in.
    pub fn record_success(&self, username: &str) {
        self.table.lock().remove(&user_key(username));
    }

    fn bump(&self, t: &mut BTreeMap<Key, Window>, key: Key, now: u64) {
        let window = self.config.window_secs;
        if let Some(w) = t.get_mut(&key) {
            if w.start.saturating_add(window) <= now {
                *w = Window {
                    start: now,
                    failures: 0,
                };
            }
            w.failures = w.failures.saturating_add(1);
            return;
        }
        if self.config.capacity == 0 {
            return;
        }
        if t.len() >= self.config.capacity {
            t.retain(|_, w| w.start.saturating_add(window) > now);
        }
        if t.len() >= self.config.capacity {
            let oldest = t
                .iter()
                .min_by_key(|(_, w)| w.start)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                t.remove(&k);
            }
        }
        t.insert(
            key,
            Window {
                start: now,
                failures: 1,
            },
        );
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.lock().len()
    }
}

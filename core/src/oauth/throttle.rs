//! Throttling of the unauthenticated authorization endpoints, in bounded
//! tables of fixed windows:
//!
//! - **Sign-in failures**, counted three ways so that no single peer can
//!   lock anybody else out:
//!   - per (username, peer): [`ThrottleConfig::per_user_and_ip`] failures
//!     lock *that pair* out for the rest of the window — a guesser at one
//!     address is stopped, the real user elsewhere is not;
//!   - per peer across usernames: [`ThrottleConfig::per_ip`] failures lock
//!     the peer out (spraying many usernames);
//!   - per username across peers: past [`ThrottleConfig::per_user`]
//!     failures (a distributed attack) attempts on the name are *spaced*,
//!     one per [`ThrottleConfig::per_user_spacing_secs`]. One peer
//!     contributes at most `per_user_and_ip` failures to this counter per
//!     window, so with `per_user` above that it takes many peers to reach
//!     the ceiling at all.
//! - **The user is never locked out by others**: a peer where the username
//!   signed in successfully within [`ThrottleConfig::known_peer_secs`] is
//!   not subject to the username's brake (only to its own per-pair and
//!   per-peer limits), so an attacker failing the password every few
//!   seconds cannot keep the real user waiting at home. A user at a new
//!   address during such an attack waits out the spacing.
//! - **Authorization requests** (`GET /authorize`, each of which stores a
//!   pending request): [`ThrottleConfig::authorize_per_ip`] per
//!   [`ThrottleConfig::authorize_window_secs`] per peer, so one peer cannot
//!   fill the pending table.
//!
//! A *peer* is an IPv4 address or an IPv6 /64 ([`peer_bucket`]): one IPv6
//! host commonly holds a whole /64, and would otherwise be endless peers.
//!
//! The tables are local to one instance (a shared database would make every
//! password attempt a write). Each holds at most [`ThrottleConfig::capacity`]
//! entries: per-peer counters (which any request can create), per-username
//! brakes (only failed sign-ins create them) and known peers (only
//! successful sign-ins create them) live in separate tables, so a flood of
//! cheap requests from rotating addresses can never evict a username's
//! brake. When the peer table is full, expired windows go first, then the
//! oldest; when the username table is full, expired windows go first, then
//! the oldest username *not* braking, and only if every one is braking, the
//! oldest. Memory never grows.

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::net::IpAddr;

use crate::sync::Mutex;

/// Limits of the throttle. Each bounds guessing or flooding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failed sign-ins allowed per (username, peer) per window; then that
    /// pair is locked out until the window ends.
    pub per_user_and_ip: u32,
    /// Failed sign-ins allowed per peer (any usernames) per window; then
    /// the peer is locked out until the window ends.
    pub per_ip: u32,
    /// Failed sign-ins per username (any peers) per window after which
    /// attempts on it from peers it never signed in from are spaced by
    /// `per_user_spacing_secs` (distributed guessing).
    pub per_user: u32,
    /// Spacing between attempts on a username past `per_user` failures.
    pub per_user_spacing_secs: u64,
    /// Sign-in window length in seconds.
    pub window_secs: u64,
    /// How long a peer where a username signed in successfully stays exempt
    /// from that username's brake (seconds).
    pub known_peer_secs: u64,
    /// Authorization requests (pending requests created) per peer per
    /// `authorize_window_secs`.
    pub authorize_per_ip: u32,
    /// Authorization-request window length in seconds.
    pub authorize_window_secs: u64,
    /// Entries kept in each of the three tables (per-peer counters,
    /// per-username brakes, known peers): the memory bound.
    pub capacity: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            per_user_and_ip: 5,
            per_ip: 20,
            per_user: 50,
            per_user_spacing_secs: 10,
            window_secs: 15 * 60,
            known_peer_secs: 30 * 24 * 3600,
            authorize_per_ip: 60,
            authorize_window_secs: 60,
            capacity: 4096,
        }
    }
}

/// The peer a throttle counts: an IPv4 address, or the /64 of an IPv6
/// address (IPv4-mapped IPv6 addresses are IPv4). One IPv6 host usually
/// owns a whole /64 and could otherwise rotate through endless addresses.
pub fn peer_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
    }
}

/// Per-peer counters (any request may create one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PeerKey {
    /// Failures of one username from one peer (`None`: unknown peer).
    UserAt(String, Option<IpAddr>),
    /// Failures from one peer.
    Failures(IpAddr),
    /// Authorization requests from one peer.
    Authorize(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: u64,
    length: u64,
    count: u32,
    last: u64,
}

impl Window {
    fn new(now: u64, length: u64) -> Window {
        Window {
            start: now,
            length,
            count: 0,
            last: now,
        }
    }

    fn end(&self) -> u64 {
        self.start.saturating_add(self.length)
    }

    /// Count one event, restarting the window if it is over.
    fn bump(&mut self, now: u64) {
        if self.end() <= now {
            *self = Window::new(now, self.length);
        }
        self.count = self.count.saturating_add(1);
        self.last = now;
    }
}

#[derive(Debug, Default)]
struct Tables {
    peers: BTreeMap<PeerKey, Window>,
    users: BTreeMap<String, Window>,
    /// (username, peer) → time of the last successful sign-in there.
    known: BTreeMap<(String, IpAddr), u64>,
}

/// The throttle tables.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    config: ThrottleConfig,
    tables: Mutex<Tables>,
}

/// Usernames are compared case-insensitively and truncated, so that
/// `Alice`/`alice` share a counter and a huge name costs nothing.
fn normalize(username: &str) -> String {
    let mut s = String::new();
    for c in username.chars().take(64) {
        s.extend(c.to_lowercase());
    }
    s
}

/// Make room for one more entry in a full `table`: expired windows go
/// first, then the oldest entry `evictable` allows, then the oldest.
fn make_room<K: Ord + Clone>(
    table: &mut BTreeMap<K, Window>,
    capacity: usize,
    now: u64,
    evictable: impl Fn(&Window) -> bool,
) {
    if table.len() < capacity {
        return;
    }
    table.retain(|_, w| w.end() > now);
    if table.len() < capacity {
        return;
    }
    let oldest = |only_evictable: bool| {
        table
            .iter()
            .filter(|(_, w)| !only_evictable || evictable(w))
            .min_by_key(|(_, w)| w.start)
            .map(|(k, _)| k.clone())
    };
    if let Some(k) = oldest(true).or_else(|| oldest(false)) {
        table.remove(&k);
    }
}

/// Count one event for `key`, making room if the table is full.
fn bump<K: Ord + Clone>(
    table: &mut BTreeMap<K, Window>,
    key: K,
    length: u64,
    capacity: usize,
    now: u64,
    evictable: impl Fn(&Window) -> bool,
) {
    if let Some(w) = table.get_mut(&key) {
        w.bump(now);
        return;
    }
    if capacity == 0 {
        return;
    }
    make_room(table, capacity, now, evictable);
    let mut w = Window::new(now, length);
    w.bump(now);
    table.insert(key, w);
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        LoginThrottle {
            config,
            tables: Mutex::new(Tables::default()),
        }
    }

    /// `Err(seconds until retry)` if a sign-in as `username` from `peer` may
    /// not be attempted now.
    pub fn check(&self, username: &str, peer: Option<IpAddr>, now: u64) -> Result<(), u64> {
        let c = &self.config;
        let user = normalize(username);
        let peer = peer.map(peer_bucket);
        let t = self.tables.lock();
        let live = |w: &&Window| w.end() > now;
        let mut wait = 0;
        if let Some(w) = t
            .peers
            .get(&PeerKey::UserAt(user.clone(), peer))
            .filter(live)
            && w.count >= c.per_user_and_ip
        {
            wait = wait.max(w.end() - now);
        }
        if let Some(ip) = peer
            && let Some(w) = t.peers.get(&PeerKey::Failures(ip)).filter(live)
            && w.count >= c.per_ip
        {
            wait = wait.max(w.end() - now);
        }
        let known = peer.is_some_and(|ip| {
            t.known
                .get(&(user.clone(), ip))
                .is_some_and(|at| at.saturating_add(c.known_peer_secs) > now)
        });
        if !known
            && let Some(w) = t.users.get(&user).filter(live)
            && w.count >= c.per_user
        {
            let next = w.last.saturating_add(c.per_user_spacing_secs);
            wait = wait.max(next.saturating_sub(now));
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    /// Count a failed sign-in.
    pub fn record_failure(&self, username: &str, peer: Option<IpAddr>, now: u64) {
        let c = &self.config;
        let user = normalize(username);
        let peer = peer.map(peer_bucket);
        let mut t = self.tables.lock();
        let any = |_: &Window| true;
        let pair = PeerKey::UserAt(user.clone(), peer);
        bump(&mut t.peers, pair, c.window_secs, c.capacity, now, any);
        if let Some(ip) = peer {
            let key = PeerKey::Failures(ip);
            bump(&mut t.peers, key, c.window_secs, c.capacity, now, any);
        }
        // A braking username is the last to go.
        let per_user = c.per_user;
        let not_braking = |w: &Window| w.count < per_user;
        bump(
            &mut t.users,
            user,
            c.window_secs,
            c.capacity,
            now,
            not_braking,
        );
    }

    /// After a successful sign-in as `username` at `peer`: forget that
    /// pair's failures, and remember the peer as one the user signs in
    /// from (it then passes the username's brake). The peer-wide and
    /// username-wide counters stay: a success must not reset a distributed
    /// attack's brake for everybody else.
    pub fn record_success(&self, username: &str, peer: Option<IpAddr>, now: u64) {
        let user = normalize(username);
        let peer = peer.map(peer_bucket);
        let mut t = self.tables.lock();
        t.peers.remove(&PeerKey::UserAt(user.clone(), peer));
        let Some(ip) = peer else {
            return;
        };
        let key = (user, ip);
        if !t.known.contains_key(&key) && t.known.len() >= self.config.capacity {
            let ttl = self.config.known_peer_secs;
            t.known.retain(|_, at| at.saturating_add(ttl) > now);
            if t.known.len() >= self.config.capacity {
                let oldest = t
                    .known
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    t.known.remove(&k);
                }
            }
        }
        if self.config.capacity > 0 {
            t.known.insert(key, now);
        }
    }

    /// Count an authorization request from `peer`; `Err(seconds until
    /// retry)` (and nothing counted) if the peer is over its limit. Unknown
    /// peers are not limited here (the pending table's own bound holds).
    pub fn allow_authorization_request(&self, peer: Option<IpAddr>, now: u64) -> Result<(), u64> {
        let Some(ip) = peer.map(peer_bucket) else {
            return Ok(());
        };
        let c = &self.config;
        let key = PeerKey::Authorize(ip);
        let mut t = self.tables.lock();
        if let Some(w) = t.peers.get(&key).filter(|w| w.end() > now)
            && w.count >= c.authorize_per_ip
        {
            return Err(w.end() - now);
        }
        bump(
            &mut t.peers,
            key,
            c.authorize_window_secs,
            c.capacity,
            now,
            |_| true,
        );
        Ok(())
    }

    /// Entries of the largest table (each is bounded by the capacity).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let t = self.tables.lock();
        t.peers.len().max(t.users.len()).max(t.known.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_700_000_000;

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([203, 0, 113, n]))
    }

    #[test]
    fn one_peer_cannot_lock_a_user_out_elsewhere() {
        let t = LoginThrottle::new(ThrottleConfig::default());
        for i in 0..5 {
            assert_eq!(t.check("alice", ip(1), T + i), Ok(()));
            t.record_failure("alice", ip(1), T + i);
        }
        assert_eq!(t.check("alice", ip(1), T + 5), Err(15 * 60 - 5));
        assert_eq!(t.check("ALICE", ip(1), T + 5), Err(15 * 60 - 5));
        assert_eq!(t.check("alice", ip(2), T + 5), Ok(()), "the user elsewhere");
        assert_eq!(t.check("bob", ip(1), T + 5), Ok(()), "the peer, other user");
        assert_eq!(t.check("alice", ip(1), T + 15 * 60), Ok(()), "window over");
    }

    #[test]
    fn a_peer_spraying_usernames_is_locked_out() {
        let t = LoginThrottle::new(ThrottleConfig::default());
        for i in 0..20 {
            t.record_failure(&alloc::format!("user{i}"), ip(1), T);
        }
        assert!(t.check("someone-new", ip(1), T + 1).is_err());
        assert_eq!(t.check("someone-new", ip(2), T + 1), Ok(()));
    }

    #[test]
    fn a_distributed_attack_spaces_attempts_without_locking() {
        let t = LoginThrottle::new(ThrottleConfig::default());
        for n in 0..10u8 {
            for _ in 0..5 {
                t.record_failure("alice", ip(n), T);
            }
        }
        // 50 failures from 10 addresses: a new address waits the spacing,
        // then gets its attempt.
        assert_eq!(t.check("alice", ip(99), T), Err(10));
        assert_eq!(t.check("alice", ip(99), T + 10), Ok(()));
        t.record_failure("alice", ip(99), T + 10);
        assert_eq!(t.check("alice", ip(98), T + 15), Err(5));
        assert_eq!(t.check("alice", ip(98), T + 20), Ok(()));
    }

    #[test]
    fn success_clears_only_the_pair() {
        let t = LoginThrottle::new(ThrottleConfig::default());
        for _ in 0..4 {
            t.record_failure("alice", ip(1), T);
        }
        t.record_success("alice", ip(1), T);
        t.record_failure("alice", ip(1), T);
        assert_eq!(t.check("alice", ip(1), T), Ok(()), "counter restarted");
    }

    #[test]
    fn authorization_requests_per_peer() {
        let t = LoginThrottle::new(ThrottleConfig {
            authorize_per_ip: 3,
            ..ThrottleConfig::default()
        });
        for _ in 0..3 {
            assert_eq!(t.allow_authorization_request(ip(1), T), Ok(()));
        }
        assert_eq!(t.allow_authorization_request(ip(1), T + 1), Err(59));
        assert_eq!(t.allow_authorization_request(ip(2), T + 1), Ok(()));
        assert_eq!(t.allow_authorization_request(None, T + 1), Ok(()));
        assert_eq!(t.allow_authorization_request(ip(1), T + 60), Ok(()));
    }

    fn v6(last: u16) -> Option<IpAddr> {
        Some(IpAddr::from([0x2001, 0xdb8, 0, 7, 0, 0, 0, last]))
    }

    /// Issue 14 finding 2: one IPv6 host holds a whole /64; every address
    /// in it is the same peer.
    #[test]
    fn ipv6_peers_are_counted_per_64() {
        let t = LoginThrottle::new(ThrottleConfig::default());
        for i in 0..20u16 {
            t.record_failure(&alloc::format!("user{i}"), v6(i), T);
        }
        assert!(t.check("someone-new", v6(999), T + 1).is_err(), "same /64");
        let other_64 = Some(IpAddr::from([0x2001, 0xdb8, 0, 8, 0, 0, 0, 1]));
        assert_eq!(t.check("someone-new", other_64, T + 1), Ok(()));

        let t = LoginThrottle::new(ThrottleConfig {
            authorize_per_ip: 3,
            ..ThrottleConfig::default()
        });
        for i in 0..3u16 {
            assert_eq!(t.allow_authorization_request(v6(i), T), Ok(()));
        }
        assert!(t.allow_authorization_request(v6(1000), T).is_err());
    }

    /// Issue 14 finding 2: cheap authorization requests from rotating
    /// addresses (each a table entry) must not evict a username's brake.
    #[test]
    fn authorization_floods_do_not_reset_the_per_user_brake() {
        let t = LoginThrottle::new(ThrottleConfig::default());
        for n in 0..10u8 {
            for _ in 0..5 {
                t.record_failure("alice", ip(n), T);
            }
        }
        assert_eq!(t.check("alice", ip(99), T + 1), Err(9));
        for i in 0..5000u32 {
            let addr = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            let _ = t.allow_authorization_request(Some(addr), T + 1);
        }
        assert_eq!(t.check("alice", ip(99), T + 1), Err(9), "brake survives");
    }

    /// Issue 14 finding 2: failures spread over thousands of usernames do
    /// not evict the brake of a username under attack either.
    #[test]
    fn username_floods_do_not_reset_a_braking_user() {
        let t = LoginThrottle::new(ThrottleConfig::default());
        for n in 0..10u8 {
            for _ in 0..5 {
                t.record_failure("alice", ip(n), T);
            }
        }
        for i in 0..5000u32 {
            let addr = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            t.record_failure(&alloc::format!("u{i}"), Some(addr), T + 1);
        }
        assert!(t.check("alice", ip(99), T + 2).is_err(), "brake survives");
    }

    /// Issue 14 finding 3, on a virtual clock: an attacker failing alice's
    /// password every 10 s from ever new addresses keeps the username
    /// braked, yet alice, at an address where she signed in before, is
    /// never made to wait.
    #[test]
    fn an_attacker_failing_every_10_s_never_locks_out_a_known_user() {
        let t = LoginThrottle::new(ThrottleConfig::default());
        let home = v6(1);
        assert_eq!(t.check("alice", home, T), Ok(()));
        t.record_success("alice", home, T);
        let mut attacker = 0u32;
        let mut attacker_refused = 0;
        for second in 0..2 * 3600u64 {
            let now = T + 1000 + second;
            // The attacker tries every 5 s; past 50 failures the brake lets
            // one through every 10 s.
            if second % 5 == 0 {
                attacker += 1;
                let addr = Some(IpAddr::from((0xc000_0000 + attacker).to_be_bytes()));
                match t.check("alice", addr, now) {
                    Ok(()) => t.record_failure("alice", addr, now),
                    Err(_) => attacker_refused += 1,
                }
            }
            if second % 7 == 3 {
                assert_eq!(t.check("alice", home, now), Ok(()), "at {second} s");
            }
        }
        assert!(attacker_refused > 0, "the attacker was braked");
    }

    #[test]
    fn bounded() {
        let t = LoginThrottle::new(ThrottleConfig {
            capacity: 8,
            ..ThrottleConfig::default()
        });
        for i in 0..100u8 {
            t.record_failure(&alloc::format!("user{i}"), ip(i), T + u64::from(i));
            let _ = t.allow_authorization_request(ip(i), T + u64::from(i));
        }
        assert!(t.len() <= 8);
    }
}

//! Rate limit for open dynamic client registration (RFC 7591), the first
//! thing a flood hits: every registration is a write to the client table.
//! Fixed windows per peer and overall, in a bounded table. A peer is an
//! IPv4 address or an IPv6 /64 ([`peer_bucket`], as for the sign-in
//! throttle), so one IPv6 host cannot rotate through its addresses to spend
//! the global budget. Storage is bounded separately: the server prunes
//! clients no user ever authorized ([`super::ServerConfig::unused_client_ttl`],
//! [`super::ServerConfig::max_unused_clients`]).
//!
//! Both hosts use it: `mcpauth serve` with [`RegistrationLimiter::default`],
//! a standalone device with [`RegistrationLimiter::device`].

use alloc::collections::BTreeMap;
use core::net::IpAddr;

use super::RegistrationPolicy;
use super::throttle::peer_bucket;
use crate::sync::Mutex;
use crate::time::UnixTime;

/// Registration limits: a [`RegistrationPolicy`].
#[derive(Debug)]
pub struct RegistrationLimiter {
    per_ip: u32,
    global: u32,
    window_secs: u64,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    window_start: u64,
    global: u32,
    per_ip: BTreeMap<IpAddr, u32>,
}

impl Default for RegistrationLimiter {
    /// 60 registrations per peer (IPv4 address, IPv6 /64) and 600 overall
    /// per minute; 10 000 peers tracked.
    /// (Behind a reverse proxy every peer is the proxy: the per-IP limit then
    /// acts as a global one.)
    fn default() -> Self {
        RegistrationLimiter::new(60, 600, 60, 10_000)
    }
}

impl RegistrationLimiter {
    /// `per_ip` and `global` registrations per `window_secs`, tracking at
    /// most `capacity` addresses (past that, unknown addresses are refused
    /// until the window ends).
    pub fn new(per_ip: u32, global: u32, window_secs: u64, capacity: usize) -> Self {
        RegistrationLimiter {
            per_ip,
            global,
            window_secs: window_secs.max(1),
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    /// The budget of a standalone device: 3 registrations per peer and 16
    /// overall per 10 minutes, 16 peers tracked. With a client table that
    /// keeps 8 never-used clients (host-embassy's `authorization_server`),
    /// one peer registers at most 6 clients in any 10 minutes (two
    /// windows), too few to evict a client someone else registered before
    /// its sign-in page (10 minutes) expires.
    pub fn device() -> Self {
        RegistrationLimiter::new(3, 16, 600, 16)
    }
}

impl RegistrationPolicy for RegistrationLimiter {
    fn allow_registration(&self, peer: Option<IpAddr>, now: Option<UnixTime>) -> bool {
        let Some(now) = now else { return false };
        let mut s = self.state.lock();
        let window = now.secs() / self.window_secs;
        if s.window_start != window {
            s.window_start = window;
            s.global = 0;
            s.per_ip.clear();
        }
        if s.global >= self.global {
            return false;
        }
        if let Some(ip) = peer.map(peer_bucket) {
            if !s.per_ip.contains_key(&ip) && s.per_ip.len() >= self.capacity {
                return false;
            }
            let n = s.per_ip.entry(ip).or_insert(0);
            if *n >= self.per_ip {
                return false;
            }
            *n += 1;
        }
        s.global += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_global_windows() {
        let l = RegistrationLimiter::new(2, 3, 60, 10);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        let t = Some(UnixTime(600));
        assert!(l.allow_registration(a, t));
        assert!(l.allow_registration(a, t));
        assert!(!l.allow_registration(a, t), "per-IP limit");
        assert!(l.allow_registration(b, t));
        assert!(!l.allow_registration(b, t), "global limit");
        assert!(l.allow_registration(a, Some(UnixTime(660))), "next window");
        assert!(!l.allow_registration(a, None), "no clock: refuse");
    }

    /// Issue 14 finding 5: one IPv6 host rotating through the addresses of
    /// its /64 is one peer, so it cannot spend the global budget that real
    /// clients elsewhere need.
    #[test]
    fn one_ipv6_host_cannot_spend_the_global_budget() {
        let l = RegistrationLimiter::default();
        let t = Some(UnixTime(600));
        let mut allowed = 0;
        for i in 0..1000u16 {
            let rotating = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0x77, i]);
            if l.allow_registration(Some(rotating), t) {
                allowed += 1;
            }
        }
        assert!(allowed <= 60, "{allowed} registrations from one /64");
        let elsewhere = IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]);
        assert!(l.allow_registration(Some(elsewhere), t), "another peer");
    }

    #[test]
    fn the_peer_table_is_bounded() {
        let l = RegistrationLimiter::new(5, 1000, 60, 2);
        let t = Some(UnixTime(600));
        assert!(l.allow_registration(Some(IpAddr::from([10, 0, 0, 1])), t));
        assert!(l.allow_registration(Some(IpAddr::from([10, 0, 0, 2])), t));
        assert!(
            !l.allow_registration(Some(IpAddr::from([10, 0, 0, 3])), t),
            "a third peer while two are tracked"
        );
        assert!(l.allow_registration(Some(IpAddr::from([10, 0, 0, 1])), t));
        assert!(l.allow_registration(Some(IpAddr::from([10, 0, 0, 3])), Some(UnixTime(660))));
    }
}

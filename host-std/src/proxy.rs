//! Which client a request comes from when mcpauth runs behind a reverse
//! proxy or tunnel (the normal way to give ChatGPT and Claude an https URL).
//!
//! The per-address throttles (sign-in failures, `GET /authorize`,
//! registration) need the real client address. Behind a proxy every request
//! arrives from the proxy's address, so without this every client would
//! share one budget, and one attacker could lock everyone out of signing in.
//! `X-Forwarded-For` is believed only from a trusted proxy: anyone else could
//! write any address into it and escape the throttles.

use std::net::IpAddr;

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed. Default: loopback, where
/// a local reverse proxy or tunnel client (Caddy, nginx, cloudflared, ngrok)
/// connects from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// Most `X-Forwarded-For` entries looked at: a longer chain is cut, so a
/// peer cannot make us walk an arbitrarily long header.
const MAX_HOPS: usize = 16;

impl Default for TrustedProxies {
    fn default() -> Self {
        TrustedProxies::loopback()
    }
}

impl TrustedProxies {
    /// Loopback only (127.0.0.0/8 and ::1).
    pub fn loopback() -> TrustedProxies {
        TrustedProxies {
            nets: vec![
                "127.0.0.0/8".parse().expect("valid network"),
                "::1/128".parse().expect("valid network"),
            ],
        }
    }

    /// No proxy is trusted: the socket's peer is the client.
    pub fn none() -> TrustedProxies {
        TrustedProxies { nets: Vec::new() }
    }

    /// Parse a list of networks (`10.0.0.0/8`) or addresses (`10.1.2.3`);
    /// the single entry `none` trusts nothing. Returns the offending entry
    /// on error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        if let [only] = entries
            && only.as_ref().trim() == "none"
        {
            return Ok(TrustedProxies::none());
        }
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim();
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| entry.to_owned())?;
            nets.push(net);
        }
        Ok(TrustedProxies { nets })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request from socket peer `peer` carrying the
    /// `X-Forwarded-For` header values `forwarded` (in order): the
    /// right-most address not belonging to a trusted proxy. Entries a
    /// trusted proxy could not have written (not an IP address) end the walk
    /// at the last address known good.
    pub fn client_ip<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
        if hops.len() > MAX_HOPS {
            hops.drain(..hops.len() - MAX_HOPS);
        }
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, what a dual-stack socket
/// reports) compared as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid")
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_forwards() {
        let p = TrustedProxies::loopback();
        assert_eq!(
            p.client_ip(ip("198.51.100.7"), ["203.0.113.9"].into_iter()),
            ip("198.51.100.7")
        );
        let none = TrustedProxies::none();
        assert_eq!(
            none.client_ip(ip("127.0.0.1"), ["203.0.113.9"].into_iter()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn right_most_untrusted_hop_from_a_trusted_proxy() {
        let p = TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).expect("valid");
        // A spoofed left-most entry is ignored: the client is what the
        // first trusted proxy saw.
        assert_eq!(
            p.client_ip(
                ip("127.0.0.1"),
                ["1.1.1.1, 203.0.113.9", "10.1.2.3"].into_iter()
            ),
            ip("203.0.113.9")
        );
        // No header: the proxy itself.
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), std::iter::empty()),
            ip("127.0.0.1")
        );
        // Garbage stops the walk at the last good address.
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), ["203.0.113.9, junk"].into_iter()),
            ip("127.0.0.1")
        );
        // Mapped IPv6 is IPv4.
        assert_eq!(
            p.client_ip(ip("::ffff:127.0.0.1"), ["::ffff:203.0.113.9"].into_iter()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn long_chains_are_cut() {
        let p = TrustedProxies::loopback();
        let chain = vec!["127.0.0.1"; 1000].join(",");
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), [chain.as_str()].into_iter()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn parse_errors_name_the_entry() {
        assert_eq!(
            TrustedProxies::parse(&["none"]).expect("valid"),
            TrustedProxies::none()
        );
        assert_eq!(
            TrustedProxies::parse(&["10.0.0.0/8", "nope"]).expect_err("refused"),
            "nope"
        );
        assert_eq!(
            TrustedProxies::parse(&["10.0.0.0/33"]).expect_err("refused"),
            "10.0.0.0/33"
        );
    }
}

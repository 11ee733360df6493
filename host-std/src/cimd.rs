//! Fetching client ID metadata documents for the core
//! ([`mcpauth_core::oauth::cimd`]): the only place where mcpauth makes a
//! request to a URL a stranger chose, so it is fenced in.
//!
//! - https only (the core accepts no other `client_id` URL), HTTP/1.1 GET,
//!   no redirects (anything but `200` fails), `Content-Type` JSON.
//! - SSRF: the host name is resolved once, every address it resolves to
//!   must be public (no loopback, private, link-local, unique-local,
//!   shared, multicast, broadcast, unspecified, documentation or reserved
//!   ranges, IPv4-mapped and NAT64 forms included), and the connection
//!   goes to the address that was checked, never to a second resolution.
//! - Bounded: [`FETCH_TIMEOUT`] for resolve + connect + TLS + response,
//!   [`MAX_METADATA_DOCUMENT`] bytes of body.
//! - Cached: at most [`MAX_CACHED_DOCUMENTS`] entries, a document for its
//!   `Cache-Control: max-age` clamped to [`MIN_CACHE_TTL`]..[`MAX_CACHE_TTL`]
//!   (`no-store`/`no-cache` documents get the floor: one authorization flow
//!   asks for the same document three times within seconds). A failure is
//!   remembered for [`FAILURE_CACHE_TTL`], so repeating a bad `client_id`
//!   does not make mcpauth fetch (or probe) that URL again and again; a
//!   host that did not answer (or may not be contacted) is remembered as
//!   such, so other URLs on it (`?1`, `?2`, …) are not tried either.
//! - Budgeted ([`crate::cimd_budget`]): fetches in flight overall and per
//!   host, fetches per host and per requesting client address per minute.
//!   A fetch past a budget fails at once ([`MetadataFetchError::Busy`]).
//! - Out of the way: while a fetch waits on the network, the request gives
//!   its OAuth slot back ([`crate::oauth_slots::released`]), so slow
//!   documents never hold up discovery, sign-in or token requests.
//!
//! Test-only settings ([`CimdSettings::dangerous_allow_loopback`] and extra
//! trusted roots) let the end-to-end tests serve a document from
//! `127.0.0.1` with a certificate they generate; never use them in
//! production.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use mcpauth_core::oauth::{
    ClientMetadataFetcher, MAX_METADATA_DOCUMENT, MetadataFetchError, MetadataFuture,
};
use rustls_pki_types::CertificateDer;
use tokio_rustls::TlsConnector;

use crate::cimd_budget::FetchBudget;

/// Resolve + connect + TLS + whole response, per fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Most cache entries (a document of at most 5 KiB, or a remembered
/// failure, plus its URL of at most 1 KiB).
pub const MAX_CACHED_DOCUMENTS: usize = 1024;
/// Shortest time a fetched document is reused.
pub const MIN_CACHE_TTL: Duration = Duration::from_secs(60);
/// Longest time a fetched document is reused, whatever `max-age` says.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a failed fetch is answered from the cache.
pub const FAILURE_CACHE_TTL: Duration = Duration::from_secs(30);
/// Reuse time of a document without `max-age`.
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// How metadata documents are fetched (`serve --client-metadata-documents`).
#[derive(Debug, Clone, Default)]
pub struct CimdSettings {
    /// TEST ONLY: allow documents on loopback addresses
    /// (`--dangerous-cimd-allow-loopback`). Every other non-public range
    /// stays refused.
    pub dangerous_allow_loopback: bool,
    /// TEST ONLY: extra trusted root certificates
    /// (`--dangerous-cimd-ca-file`), in addition to the system's.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

struct Cached {
    body: Result<Arc<Vec<u8>>, MetadataFetchError>,
    expires: Instant,
}

/// The host's [`ClientMetadataFetcher`].
pub struct MetadataFetcher {
    tls: TlsConnector,
    allow_loopback: bool,
    cache: Mutex<HashMap<String, Cached>>,
    budget: FetchBudget,
}

impl std::fmt::Debug for MetadataFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataFetcher")
            .field("allow_loopback", &self.allow_loopback)
            .finish_non_exhaustive()
    }
}

impl MetadataFetcher {
    /// A fetcher trusting the system's roots plus `settings.extra_roots`.
    pub fn new(settings: &CimdSettings) -> Result<MetadataFetcher, String> {
        let (tls, roots) = crate::privy::https_client(&settings.extra_roots)?;
        if roots == 0 {
            // Not fatal: every fetch then fails, and the server still serves
            // registered clients.
            tracing::warn!(
                "no trusted root certificates: client metadata documents cannot be fetched"
            );
        }
        Ok(MetadataFetcher {
            tls,
            allow_loopback: settings.dangerous_allow_loopback,
            cache: Mutex::new(HashMap::new()),
            budget: FetchBudget::new(),
        })
    }

    fn cached(&self, url: &str, now: Instant) -> Option<Result<Arc<Vec<u8>>, MetadataFetchError>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(url)
            .filter(|c| c.expires > now)
            .map(|c| c.body.clone())
    }

    fn remember(
        &self,
        url: &str,
        body: Result<Arc<Vec<u8>>, MetadataFetchError>,
        ttl: Duration,
        now: Instant,
    ) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= MAX_CACHED_DOCUMENTS && !cache.contains_key(url) {
            cache.retain(|_, c| c.expires > now);
            if cache.len() >= MAX_CACHED_DOCUMENTS
                && let Some(soonest) = cache
                    .iter()
                    .min_by_key(|(_, c)| c.expires)
                    .map(|(k, _)| k.clone())
            {
                cache.remove(&soonest);
            }
        }
        cache.insert(
            url.to_owned(),
            Cached {
                body,
                expires: now + ttl,
            },
        );
    }

    async fn fetch_cached(
        &self,
        url: &str,
        requester: Option<IpAddr>,
    ) -> Result<Vec<u8>, MetadataFetchError> {
        let now = Instant::now();
        if let Some(body) = self.cached(url, now) {
            crate::metrics::METRICS.metadata_fetch("cached");
            return body.map(|b| b.as_ref().clone());
        }
        let result = self.fetch_uncached(url, requester, now).await;
        crate::metrics::METRICS.metadata_fetch(match &result {
            Ok(_) => "fetched",
            Err(MetadataFetchError::Unreachable) => "unreachable",
            Err(MetadataFetchError::Forbidden) => "forbidden",
            Err(MetadataFetchError::TooLarge) => "too_large",
            Err(MetadataFetchError::Busy) => "busy",
            Err(_) => "bad_response",
        });
        result
    }

    async fn fetch_uncached(
        &self,
        url: &str,
        requester: Option<IpAddr>,
        now: Instant,
    ) -> Result<Vec<u8>, MetadataFetchError> {
        let host = Target::parse(url, false)
            .ok_or(MetadataFetchError::BadResponse)?
            .host_key();
        let ticket = self.budget.admit(&host, requester, now)?;
        let fetched =
            crate::oauth_slots::released(tokio::time::timeout(FETCH_TIMEOUT, self.fetch_now(url)))
                .await
                .unwrap_or(Err(MetadataFetchError::Unreachable));
        drop(ticket);
        self.budget
            .record(&host, fetched.as_ref().map(|_| ()).map_err(|e| *e), now);
        match fetched {
            Ok((body, ttl)) => {
                let body = Arc::new(body);
                self.remember(url, Ok(body.clone()), ttl, now);
                Ok(body.as_ref().clone())
            }
            Err(e) => {
                self.remember(url, Err(e), FAILURE_CACHE_TTL, now);
                Err(e)
            }
        }
    }

    /// One fetch: resolve, check, connect to the checked address, GET.
    async fn fetch_now(&self, url: &str) -> Result<(Vec<u8>, Duration), MetadataFetchError> {
        let fence = Fence {
            allow_loopback: self.allow_loopback,
            allow_private: false,
            allow_http: false,
        };
        fenced_get(&self.tls, url, fence, MAX_METADATA_DOCUMENT).await
    }

    #[cfg(test)]
    fn may_contact(&self, ip: IpAddr) -> bool {
        Fence {
            allow_loopback: self.allow_loopback,
            allow_private: false,
            allow_http: false,
        }
        .may_contact(ip)
    }
}

/// Which addresses and schemes a fenced fetch may use. Public addresses
/// over https always; the rest only by an explicit setting.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fence {
    /// Loopback addresses too.
    pub allow_loopback: bool,
    /// Private (RFC 1918, unique-local) addresses too. Link-local
    /// (cloud metadata services) and the other special ranges never.
    pub allow_private: bool,
    /// Plain http, and then only to the non-public addresses allowed above
    /// (never to the public internet).
    pub allow_http: bool,
}

impl Fence {
    pub(crate) fn may_contact(&self, ip: IpAddr) -> bool {
        is_public(ip)
            || (self.allow_loopback && ip.is_loopback())
            || (self.allow_private && is_private(ip))
    }
}

/// RFC 1918 IPv4 and unique-local IPv6 (fc00::/7), mapped forms included.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_private(),
            None => (v6.segments()[0] & 0xfe00) == 0xfc00,
        },
    }
}

/// A GET to a URL through the SSRF fence: resolve once, refuse unless every
/// address is allowed by `fence`, connect to the checked address, https
/// (or http where `fence` allows it), no redirects, a `200` JSON answer of
/// at most `max_bytes`. Returns the body and how long it may be reused
/// (`Cache-Control`, clamped). The caller bounds the time
/// ([`FETCH_TIMEOUT`]).
pub(crate) async fn fenced_get(
    tls: &TlsConnector,
    url: &str,
    fence: Fence,
    max_bytes: usize,
) -> Result<(Vec<u8>, Duration), MetadataFetchError> {
    fenced_request(tls, url, fence, None, max_bytes).await
}

/// A form `POST` through the same fence as [`fenced_get`] (an RFC 7662
/// introspection request), with an optional `Authorization` header.
#[derive(Clone)]
pub(crate) struct FormPost {
    /// `application/x-www-form-urlencoded` body.
    pub body: String,
    /// `Authorization` header value (`Basic …`).
    pub authorization: Option<String>,
}

/// [`fenced_get`] with `form`: POST it instead of a GET.
pub(crate) async fn fenced_post_form(
    tls: &TlsConnector,
    url: &str,
    fence: Fence,
    form: FormPost,
    max_bytes: usize,
) -> Result<Vec<u8>, MetadataFetchError> {
    fenced_request(tls, url, fence, Some(form), max_bytes)
        .await
        .map(|(body, _)| body)
}

async fn fenced_request(
    tls: &TlsConnector,
    url: &str,
    fence: Fence,
    form: Option<FormPost>,
    max_bytes: usize,
) -> Result<(Vec<u8>, Duration), MetadataFetchError> {
    let target = Target::parse(url, fence.allow_http).ok_or(MetadataFetchError::BadResponse)?;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host, target.port))
        .await
        .map_err(|_| MetadataFetchError::Unreachable)?
        .collect();
    if addrs.is_empty() {
        return Err(MetadataFetchError::Unreachable);
    }
    // Every address must be allowed: a name that also resolves to an
    // internal address is refused, whichever one a retry would pick. Plain
    // http never goes to the public internet.
    let allowed = |ip: IpAddr| fence.may_contact(ip) && (target.tls || !is_public(ip));
    if !addrs.iter().all(|a| allowed(a.ip())) {
        tracing::warn!(
            host = target.host,
            "fetch refused: the host resolves to an address this fetch may not contact"
        );
        return Err(MetadataFetchError::Forbidden);
    }
    let tcp = tokio::net::TcpStream::connect(addrs[0])
        .await
        .map_err(|_| MetadataFetchError::Unreachable)?;
    if !target.tls {
        return request_over(tcp, &target, form, max_bytes).await;
    }
    let name = rustls_pki_types::ServerName::try_from(target.host.to_owned())
        .map_err(|_| MetadataFetchError::BadResponse)?;
    let stream = tls
        .connect(name, tcp)
        .await
        .map_err(|_| MetadataFetchError::Unreachable)?;
    request_over(stream, &target, form, max_bytes).await
}

/// The HTTP/1.1 request of [`fenced_request`] over an established
/// connection.
async fn request_over<IO>(
    io: IO,
    target: &Target<'_>,
    form: Option<FormPost>,
    max_bytes: usize,
) -> Result<(Vec<u8>, Duration), MetadataFetchError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let builder = hyper::Request::builder()
        .uri(target.path_and_query)
        .header("host", target.authority)
        .header("accept", "application/json")
        .header("user-agent", concat!("mcpauth/", env!("CARGO_PKG_VERSION")));
    let req = match form {
        None => builder
            .method(hyper::Method::GET)
            .body(Full::new(Bytes::new())),
        Some(form) => {
            let mut builder = builder
                .method(hyper::Method::POST)
                .header("content-type", "application/x-www-form-urlencoded");
            if let Some(auth) = form.authorization {
                builder = builder.header("authorization", auth);
            }
            builder.body(Full::new(Bytes::from(form.body)))
        }
    }
    .map_err(|_| MetadataFetchError::BadResponse)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|_| MetadataFetchError::Unreachable)?;
    let conn = tokio::spawn(conn);
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|_| MetadataFetchError::Unreachable)?;
        if resp.status() != hyper::StatusCode::OK || !is_json(resp.headers()) {
            return Err(MetadataFetchError::BadResponse);
        }
        let ttl = cache_ttl(resp.headers());
        let body = Limited::new(resp.into_body(), max_bytes)
            .collect()
            .await
            .map_err(|_| MetadataFetchError::TooLarge)?
            .to_bytes();
        Ok((body.to_vec(), ttl))
    }
    .await;
    conn.abort();
    result
}

/// Why a [`fenced_exchange`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FenceError {
    /// An address the name resolves to may not be contacted.
    Forbidden,
    /// Resolution, connection, TLS or HTTP failed.
    Unreachable,
    /// The request could not be built (host name not valid for TLS).
    BadRequest,
    /// The body is larger than allowed.
    TooLarge,
}

/// The answer of a [`fenced_exchange`], whatever its status.
pub(crate) struct FencedResponse {
    pub(crate) status: hyper::StatusCode,
    pub(crate) body: Vec<u8>,
}

/// Any request (the OpenID providers' token endpoint is a POST whose error
/// statuses matter) through the same fence as [`fenced_get`]: resolve
/// `target`'s host once, every address allowed by `fence` (plain http
/// never to a public address), connect to the checked address, no
/// redirects followed, at most `max_body` bytes. The caller bounds the
/// time.
pub(crate) async fn fenced_exchange(
    tls: &TlsConnector,
    target: &Target<'_>,
    req: hyper::Request<http_body_util::Full<Bytes>>,
    fence: Fence,
    max_body: usize,
) -> Result<FencedResponse, FenceError> {
    if !target.tls && !fence.allow_http {
        return Err(FenceError::BadRequest);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host, target.port))
        .await
        .map_err(|_| FenceError::Unreachable)?
        .collect();
    if addrs.is_empty() {
        return Err(FenceError::Unreachable);
    }
    let allowed = |ip: IpAddr| fence.may_contact(ip) && (target.tls || !is_public(ip));
    if !addrs.iter().all(|a| allowed(a.ip())) {
        return Err(FenceError::Forbidden);
    }
    let tcp = tokio::net::TcpStream::connect(addrs[0])
        .await
        .map_err(|_| FenceError::Unreachable)?;
    if !target.tls {
        return exchange(tcp, req, max_body).await;
    }
    let name = rustls_pki_types::ServerName::try_from(target.host.to_owned())
        .map_err(|_| FenceError::BadRequest)?;
    let stream = tls
        .connect(name, tcp)
        .await
        .map_err(|_| FenceError::Unreachable)?;
    exchange(stream, req, max_body).await
}

async fn exchange<IO>(
    io: IO,
    req: hyper::Request<http_body_util::Full<Bytes>>,
    max_body: usize,
) -> Result<FencedResponse, FenceError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|_| FenceError::Unreachable)?;
    let conn = tokio::spawn(conn);
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|_| FenceError::Unreachable)?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), max_body)
            .collect()
            .await
            .map_err(|_| FenceError::TooLarge)?
            .to_bytes();
        Ok(FencedResponse {
            status,
            body: body.to_vec(),
        })
    }
    .await;
    conn.abort();
    result
}

impl ClientMetadataFetcher for MetadataFetcher {
    fn fetch<'a>(&'a self, url: &'a str, requester: Option<IpAddr>) -> MetadataFuture<'a> {
        Box::pin(self.fetch_cached(url, requester))
    }
}

/// The parts of an http(s) URL a request needs.
pub(crate) struct Target<'a> {
    /// https (else plain http).
    pub(crate) tls: bool,
    /// `host[:port]` as written (the `Host` header).
    pub(crate) authority: &'a str,
    /// The host name or address, without brackets.
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) path_and_query: &'a str,
}

impl<'a> Target<'a> {
    /// `host:port`, lowercase: the key of the per-host budgets.
    fn host_key(&self) -> String {
        format!("{}:{}", self.host.to_ascii_lowercase(), self.port)
    }

    /// An https URL, or an http one when `allow_http`.
    pub(crate) fn parse(url: &'a str, allow_http: bool) -> Option<Target<'a>> {
        let (tls, rest) = match url.strip_prefix("https://") {
            Some(rest) => (true, rest),
            None if allow_http => (false, url.strip_prefix("http://")?),
            None => return None,
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(end);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().ok()?,
            None if tls => 443,
            None => 80,
        };
        if host.is_empty() || !path_and_query.starts_with('/') {
            return None;
        }
        Some(Target {
            tls,
            authority,
            host,
            port,
            path_and_query,
        })
    }
}

/// Whether `ip` is a globally reachable unicast address.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = seg[6].to_be_bytes();
                let [c, d] = seg[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link local fe80::/10
                || (seg[0] & 0xffc0) == 0xfec0 // site local (deprecated)
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || seg[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// `application/json` or any `+json` type.
fn is_json(headers: &hyper::HeaderMap) -> bool {
    headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        })
        .unwrap_or(false)
}

/// How long to reuse a document: its `max-age`, clamped; `no-store` and
/// `no-cache` get the floor.
fn cache_ttl(headers: &hyper::HeaderMap) -> Duration {
    let directives: Vec<&str> = headers
        .get_all(hyper::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if directives
        .iter()
        .any(|d| d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache"))
    {
        return MIN_CACHE_TTL;
    }
    let max_age = directives.iter().find_map(|directive| {
        let (name, value) = directive.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
            .flatten()
    });
    max_age
        .map_or(DEFAULT_CACHE_TTL, Duration::from_secs)
        .clamp(MIN_CACHE_TTL, MAX_CACHE_TTL)
}

/// Read the PEM certificates of a test CA file.
pub fn load_ca_file(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().expect("v4"))
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse::<Ipv6Addr>().expect("v6"))
    }

    #[test]
    fn only_public_addresses_may_be_contacted() {
        for public in [v4("93.184.216.34"), v4("8.8.8.8"), v6("2606:4700::1111")] {
            assert!(is_public(public), "{public}");
        }
        for internal in [
            v4("127.0.0.1"),
            v4("10.1.2.3"),
            v4("172.16.0.1"),
            v4("192.168.1.1"),
            v4("169.254.169.254"),
            v4("100.64.0.1"),
            v4("0.0.0.0"),
            v4("224.0.0.1"),
            v4("255.255.255.255"),
            v4("198.18.0.1"),
            v6("::1"),
            v6("::"),
            v6("fd00::1"),
            v6("fe80::1"),
            v6("ff02::1"),
            v6("::ffff:127.0.0.1"),
            v6("::ffff:10.0.0.1"),
            v6("64:ff9b::a9fe:a9fe"),
            v6("2001:db8::1"),
        ] {
            assert!(!is_public(internal), "{internal}");
        }
    }

    #[test]
    fn loopback_only_with_the_dangerous_setting() {
        let strict = MetadataFetcher::new(&CimdSettings::default()).expect("fetcher");
        assert!(!strict.may_contact(v4("127.0.0.1")));
        let lax = MetadataFetcher::new(&CimdSettings {
            dangerous_allow_loopback: true,
            extra_roots: Vec::new(),
        })
        .expect("fetcher");
        assert!(lax.may_contact(v4("127.0.0.1")));
        assert!(lax.may_contact(v6("::1")));
        assert!(!lax.may_contact(v4("10.0.0.1")));
        assert!(!lax.may_contact(v4("169.254.169.254")));
    }

    #[test]
    fn private_addresses_only_by_opt_in_and_never_link_local() {
        let lan = Fence {
            allow_loopback: true,
            allow_private: true,
            allow_http: true,
        };
        for ok in [
            v4("127.0.0.1"),
            v4("10.1.2.3"),
            v4("192.168.1.9"),
            v6("fd00::1"),
        ] {
            assert!(lan.may_contact(ok), "{ok}");
            assert!(!Fence::default().may_contact(ok), "{ok}");
        }
        for never in [
            v4("169.254.169.254"),
            v6("fe80::1"),
            v4("100.64.0.1"),
            v4("0.0.0.0"),
        ] {
            assert!(!lan.may_contact(never), "{never}");
        }
    }

    #[test]
    fn cache_lifetime_follows_max_age_within_bounds() {
        let with = |v: &str| {
            let mut h = hyper::HeaderMap::new();
            h.insert(hyper::header::CACHE_CONTROL, v.parse().expect("header"));
            cache_ttl(&h)
        };
        assert_eq!(cache_ttl(&hyper::HeaderMap::new()), DEFAULT_CACHE_TTL);
        assert_eq!(with("public, max-age=3600"), Duration::from_secs(3600));
        assert_eq!(with("max-age=0"), MIN_CACHE_TTL);
        assert_eq!(with("no-store"), MIN_CACHE_TTL);
        assert_eq!(with("private, No-Cache, max-age=600"), MIN_CACHE_TTL);
        assert_eq!(with("max-age=99999999"), MAX_CACHE_TTL);
    }

    #[test]
    fn the_cache_is_bounded() {
        let f = MetadataFetcher::new(&CimdSettings::default()).expect("fetcher");
        let now = Instant::now();
        for i in 0..MAX_CACHED_DOCUMENTS + 10 {
            let ttl = Duration::from_secs(60 + i as u64);
            f.remember(
                &format!("https://c.example/{i}"),
                Ok(Arc::new(Vec::new())),
                ttl,
                now,
            );
        }
        let cache = f.cache.lock().expect("lock");
        assert_eq!(cache.len(), MAX_CACHED_DOCUMENTS);
        // The ones closest to expiry went first.
        assert!(!cache.contains_key("https://c.example/0"));
        assert!(cache.contains_key(&format!("https://c.example/{}", MAX_CACHED_DOCUMENTS + 9)));
    }

    #[test]
    fn targets() {
        let t = Target::parse("https://c.example:8443/m.json?v=1", false).expect("target");
        assert_eq!(
            (t.host, t.port, t.path_and_query),
            ("c.example", 8443, "/m.json?v=1")
        );
        let t = Target::parse("https://[::1]/m", false).expect("target");
        assert_eq!((t.host, t.port, t.authority), ("::1", 443, "[::1]"));
        assert!(Target::parse("https://c.example", false).is_none());
        assert!(Target::parse("https://c.example:x/m", false).is_none());
        assert!(Target::parse("http://c.example/m", false).is_none());
        let t = Target::parse("http://10.0.0.5/j", true).expect("http when allowed");
        assert_eq!((t.tls, t.port, t.path_and_query), (false, 80, "/j"));
    }
}

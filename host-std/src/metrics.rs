//! Prometheus metrics (`serve --metrics-listen ADDR`, then `GET /metrics`).
//!
//! Every figure lives in one process-wide [`METRICS`] of plain atomics,
//! so what a request pays (only with a metrics listener) is two clock
//! reads, an index computation and two relaxed atomic additions (its
//! latency bucket and the latency sum): no lock, no
//! allocation, no label formatting. Labels exist only at scrape time, when
//! the [`Collector`] walks the atomics and hands the values to
//! `prometheus-client`'s OpenMetrics text encoder (series never used are
//! left out).
//!
//! `prometheus-client`'s own `Histogram` takes a mutex per observation and
//! `metrics-exporter-prometheus` queues raw samples (allocating blocks)
//! until a scrape drains them; neither fits a path that must stay within a
//! few atomic operations, hence [`AtomicHistogram`] (fixed buckets, one
//! counter each), encoded through the same crate.
//!
//! The endpoint is served on its own listener, off by default: never on
//! the public address (see host-std/README.md, "Operate").

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use mcpauth_core::mcp::McpServer;
use mcpauth_core::oauth::{OAuthEvent, Throttle};
use mcpauth_core::sync::Arc;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// The content type of the exposition (OpenMetrics text, which Prometheus
/// negotiates and prefers).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency buckets, in microseconds (100 µs .. 10 s;
/// one more bucket, `+Inf`, follows).
const BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];
const BUCKETS: usize = BOUNDS_US.len() + 1;

/// A latency histogram of fixed buckets, one atomic counter each, plus the
/// sum in microseconds. The count is the sum of the buckets (read at scrape
/// time), so `_count` always equals the `+Inf` bucket.
#[derive(Debug)]
pub struct AtomicHistogram {
    buckets: [AtomicU64; BUCKETS],
    sum_us: AtomicU64,
}

impl AtomicHistogram {
    /// An empty histogram.
    pub const fn new() -> AtomicHistogram {
        AtomicHistogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS],
            sum_us: AtomicU64::new(0),
        }
    }

    /// Record one observation: two relaxed atomic additions.
    #[inline]
    pub fn observe(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|&b| b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    fn encode(&self, mut encoder: prometheus_client::encoding::MetricEncoder<'_>) -> Fmt {
        let mut buckets = [(0.0, 0u64); BUCKETS];
        let mut count = 0;
        for (i, slot) in buckets.iter_mut().enumerate() {
            let n = self.buckets[i].load(Ordering::Relaxed);
            count += n;
            let bound = BOUNDS_US.get(i).map_or(f64::MAX, |us| *us as f64 / 1e6);
            *slot = (bound, n);
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        AtomicHistogram::new()
    }
}

type Fmt = Result<(), std::fmt::Error>;

/// What a request was for (the `endpoint` label). A fixed set, so a
/// scanner probing random paths cannot grow the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Endpoint {
    /// The built-in MCP endpoint.
    Mcp,
    /// `GET|POST /authorize` (pages and decisions).
    Authorize,
    /// `POST /token`.
    Token,
    /// `POST /register`.
    Register,
    /// `POST /introspect`.
    Introspect,
    /// `POST /revoke`.
    Revoke,
    /// `/.well-known/*` discovery documents.
    Discovery,
    /// The key set.
    Jwks,
    /// `/healthz`.
    Health,
    /// Anything else (an upstream mount of the auth proxy, an unknown path).
    Other,
}

const ENDPOINTS: usize = 10;
const ENDPOINT_NAMES: [&str; ENDPOINTS] = [
    "mcp",
    "authorize",
    "token",
    "register",
    "introspect",
    "revoke",
    "discovery",
    "jwks",
    "healthz",
    "other",
];
const CLASSES: usize = 5;
const CLASS_NAMES: [&str; CLASSES] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

impl Endpoint {
    /// The endpoint of a request path (a few string comparisons).
    #[inline]
    pub fn of(path: &str) -> Endpoint {
        match path {
            "/mcp" => Endpoint::Mcp,
            "/authorize" => Endpoint::Authorize,
            "/token" => Endpoint::Token,
            "/register" => Endpoint::Register,
            "/introspect" => Endpoint::Introspect,
            "/revoke" => Endpoint::Revoke,
            "/jwks.json" | "/.well-known/jwks.json" => Endpoint::Jwks,
            "/healthz" => Endpoint::Health,
            p if p.starts_with("/.well-known/") => Endpoint::Discovery,
            _ => Endpoint::Other,
        }
    }
}

/// Sign-in outcomes.
const SIGN_IN_RESULTS: [&str; 2] = ["success", "failure"];
/// Consent outcomes.
const CONSENT_RESULTS: [&str; 2] = ["granted", "denied"];
/// Grants of issued tokens.
const GRANTS: [&str; 2] = ["authorization_code", "refresh_token"];
/// Rate limits.
const THROTTLES: [&str; 4] = ["sign_in", "authorize", "registration", "metadata_fetch"];
/// Outcomes of a client ID metadata document lookup.
pub const FETCH_RESULTS: [&str; 7] = [
    "cached",
    "fetched",
    "unreachable",
    "forbidden",
    "bad_response",
    "too_large",
    "busy",
];
/// Stores whose commits are timed.
const STORES: [&str; 2] = ["redb", "postgres"];

/// Which store a commit latency belongs to.
#[derive(Debug, Clone, Copy)]
pub enum StoreKind {
    /// The embedded database (one group commit, one fsync).
    Redb = 0,
    /// A PostgreSQL write operation (one round trip that commits).
    Postgres = 1,
}

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    requests: [[AtomicHistogram; CLASSES]; ENDPOINTS],
    sign_ins: [AtomicU64; 2],
    consents: [AtomicU64; 2],
    tokens: [AtomicU64; 2],
    refresh_reuse: AtomicU64,
    code_replay: AtomicU64,
    revocations: AtomicU64,
    registrations: AtomicU64,
    throttled: [AtomicU64; 4],
    metadata_fetches: [AtomicU64; FETCH_RESULTS.len()],
    store_commits: [AtomicHistogram; 2],
    live_streams: AtomicI64,
    /// The MCP server whose sessions are counted at scrape time.
    mcp: OnceLock<Arc<McpServer>>,
}

/// Whether requests are timed and counted: set when a metrics listener
/// starts ([`Metrics::enable_requests`]). Without one, a request pays one
/// relaxed load and nothing else (the two clock reads are most of the cost
/// otherwise: about 90 of 95 ns, see host-std/README.md).
static REQUESTS_ON: AtomicBool = AtomicBool::new(false);

/// The process's metrics (a plain static: no initialization check on
/// the request path).
pub static METRICS: Metrics = Metrics::new();

impl Metrics {
    const fn new() -> Metrics {
        Metrics {
            requests: [const { [const { AtomicHistogram::new() }; CLASSES] }; ENDPOINTS],
            sign_ins: [const { AtomicU64::new(0) }; 2],
            consents: [const { AtomicU64::new(0) }; 2],
            tokens: [const { AtomicU64::new(0) }; 2],
            refresh_reuse: AtomicU64::new(0),
            code_replay: AtomicU64::new(0),
            revocations: AtomicU64::new(0),
            registrations: AtomicU64::new(0),
            throttled: [const { AtomicU64::new(0) }; 4],
            metadata_fetches: [const { AtomicU64::new(0) }; FETCH_RESULTS.len()],
            store_commits: [const { AtomicHistogram::new() }; 2],
            live_streams: AtomicI64::new(0),
            mcp: OnceLock::new(),
        }
    }

    /// Start timing and counting requests (a metrics listener serves them).
    pub fn enable_requests(&self) {
        REQUESTS_ON.store(true, Ordering::Relaxed);
    }

    /// Whether requests are timed and counted.
    #[inline]
    pub fn requests_enabled(&self) -> bool {
        REQUESTS_ON.load(Ordering::Relaxed)
    }

    /// Record one answered request.
    #[inline]
    pub fn request(&self, endpoint: Endpoint, status: u16, took: Duration) {
        let class = usize::from(status / 100).clamp(1, CLASSES) - 1;
        self.requests[endpoint as usize][class].observe(took);
    }

    /// Requests answered so far for `endpoint` with a status of `class`
    /// (1 to 5), for tests.
    pub fn requests(&self, endpoint: Endpoint, class: usize) -> u64 {
        self.requests[endpoint as usize][class.clamp(1, CLASSES) - 1].count()
    }

    /// Count an event of the authorization server.
    pub fn oauth_event(&self, event: &OAuthEvent<'_>) {
        let bump = |c: &AtomicU64| {
            c.fetch_add(1, Ordering::Relaxed);
        };
        match event {
            OAuthEvent::SignedIn { .. } => {
                bump(&self.sign_ins[0]);
                bump(&self.consents[0]);
            }
            OAuthEvent::SignInFailed { .. } | OAuthEvent::UpstreamSignInFailed { .. } => {
                bump(&self.sign_ins[1])
            }
            OAuthEvent::ConsentDenied { .. } => bump(&self.consents[1]),
            OAuthEvent::Throttled { limit, .. } => match limit {
                Throttle::SignIn => bump(&self.throttled[0]),
                Throttle::Authorize => bump(&self.throttled[1]),
                Throttle::Registration => bump(&self.throttled[2]),
                _ => {}
            },
            OAuthEvent::ClientRegistered { .. } => bump(&self.registrations),
            OAuthEvent::TokenIssued { grant, .. } => {
                let i = usize::from(*grant == mcpauth_core::oauth::GrantKind::RefreshToken);
                bump(&self.tokens[i]);
            }
            OAuthEvent::RefreshReuseDetected { .. } => bump(&self.refresh_reuse),
            OAuthEvent::CodeReplayDetected { .. } => bump(&self.code_replay),
            OAuthEvent::TokenRevoked { .. } => bump(&self.revocations),
            _ => {}
        }
    }

    /// Count a metadata-document lookup; `result` is one of
    /// [`FETCH_RESULTS`] (a refusal by the fetch budget, `busy`, also
    /// counts as a throttle hit).
    pub fn metadata_fetch(&self, result: &str) {
        if let Some(i) = FETCH_RESULTS.iter().position(|r| *r == result) {
            self.metadata_fetches[i].fetch_add(1, Ordering::Relaxed);
        }
        if result == "busy" {
            self.throttled[3].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Record how long a store commit took.
    pub fn store_commit(&self, store: StoreKind, took: Duration) {
        self.store_commits[store as usize].observe(took);
    }

    /// A live SSE stream started (+1) or ended (-1).
    pub fn live_stream(&self, delta: i64) {
        self.live_streams.fetch_add(delta, Ordering::Relaxed);
    }

    /// Count the sessions of `mcp` at each scrape (the first server
    /// registered wins; one process serves one).
    pub fn watch_sessions(&self, mcp: &Arc<McpServer>) {
        let _ = self.mcp.set(mcp.clone());
    }

    /// The exposition, OpenMetrics text.
    pub fn render(&'static self) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Exposition(self)));
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// The scrape-time view of [`Metrics`].
#[derive(Debug)]
struct Exposition(&'static Metrics);

fn counter_family<const N: usize>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &str,
    names: &[&str; N],
    values: &[AtomicU64; N],
) -> Fmt {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value, n) in values.iter().zip(names) {
        let labels = [(label, *n)];
        let series = family.encode_family(&labels)?;
        ConstCounter::new(value.load(Ordering::Relaxed)).encode(series)?;
    }
    Ok(())
}

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: &AtomicU64) -> Fmt {
    let series = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value.load(Ordering::Relaxed)).encode(series)
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Fmt {
        let m = self.0;
        let mut requests = encoder.encode_descriptor(
            "mcpauth_http_requests",
            "HTTP requests answered, by endpoint and status class.",
            None,
            MetricType::Counter,
        )?;
        for (e, row) in m.requests.iter().enumerate() {
            for (c, h) in row.iter().enumerate() {
                let n = h.count();
                if n == 0 {
                    continue;
                }
                let labels = [("endpoint", ENDPOINT_NAMES[e]), ("status", CLASS_NAMES[c])];
                ConstCounter::new(n).encode(requests.encode_family(&labels)?)?;
            }
        }
        let mut latency = encoder.encode_descriptor(
            "mcpauth_http_request_duration_seconds",
            "Time from the request head to the response head, by endpoint and status class.",
            None,
            MetricType::Histogram,
        )?;
        for (e, row) in m.requests.iter().enumerate() {
            for (c, h) in row.iter().enumerate() {
                if h.count() == 0 {
                    continue;
                }
                let labels = [("endpoint", ENDPOINT_NAMES[e]), ("status", CLASS_NAMES[c])];
                h.encode(latency.encode_family(&labels)?)?;
            }
        }
        counter_family(
            &mut encoder,
            "mcpauth_tokens_issued",
            "Access tokens issued, by grant type.",
            "grant",
            &GRANTS,
            &m.tokens,
        )?;
        counter(
            &mut encoder,
            "mcpauth_refresh_reuse_detected",
            "Rotated-out refresh tokens presented again (the grant was revoked).",
            &m.refresh_reuse,
        )?;
        counter(
            &mut encoder,
            "mcpauth_code_replay_detected",
            "Authorization codes redeemed twice by their client (the grant was revoked).",
            &m.code_replay,
        )?;
        counter(
            &mut encoder,
            "mcpauth_tokens_revoked",
            "Tokens revoked through /revoke.",
            &m.revocations,
        )?;
        counter_family(
            &mut encoder,
            "mcpauth_sign_ins",
            "Sign-ins on the consent page, by result.",
            "result",
            &SIGN_IN_RESULTS,
            &m.sign_ins,
        )?;
        counter_family(
            &mut encoder,
            "mcpauth_consents",
            "Consent decisions, by result.",
            "result",
            &CONSENT_RESULTS,
            &m.consents,
        )?;
        counter(
            &mut encoder,
            "mcpauth_clients_registered",
            "Clients registered through /register.",
            &m.registrations,
        )?;
        counter_family(
            &mut encoder,
            "mcpauth_throttled",
            "Requests refused by a rate limit, by limit.",
            "limit",
            &THROTTLES,
            &m.throttled,
        )?;
        counter_family(
            &mut encoder,
            "mcpauth_metadata_document_fetches",
            "Client ID metadata document lookups, by result.",
            "result",
            &FETCH_RESULTS,
            &m.metadata_fetches,
        )?;
        let mut commits = encoder.encode_descriptor(
            "mcpauth_store_commit_duration_seconds",
            "Store commit latency: a redb group commit (fsync), or a PostgreSQL write.",
            None,
            MetricType::Histogram,
        )?;
        for (i, h) in m.store_commits.iter().enumerate() {
            if h.count() == 0 {
                continue;
            }
            h.encode(commits.encode_family(&[("store", STORES[i])])?)?;
        }
        let streams = encoder.encode_descriptor(
            "mcpauth_mcp_open_streams",
            "MCP SSE responses currently streaming to clients.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(m.live_streams.load(Ordering::Relaxed).max(0)).encode(streams)?;
        if let Some(sessions) = m.mcp.get().and_then(|s| s.session_count()) {
            let series = encoder.encode_descriptor(
                "mcpauth_mcp_sessions",
                "MCP sessions held (2025-era protocol versions).",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::try_from(sessions).unwrap_or(i64::MAX)).encode(series)?;
        }
        Ok(())
    }
}

/// The handler of the metrics listener: `GET /metrics`, nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsHandler;

impl crate::server::Handler for MetricsHandler {
    async fn reply(&self, req: mcpauth_core::http::Request) -> crate::server::Reply {
        use mcpauth_core::http::{Method, Response};
        use mcpauth_core::server::Refusal;
        let resp = match (req.method, req.path.as_str()) {
            (Method::Get | Method::Head, "/metrics") => match METRICS.render() {
                Ok(text) => Response::empty(200)
                    .with_header("Content-Type", CONTENT_TYPE)
                    .with_header("Cache-Control", "no-store")
                    .with_body(text.into_bytes()),
                Err(_) => Refusal::Internal.response(),
            },
            (_, "/metrics") => Refusal::MethodNotAllowed { allow: "GET, HEAD" }.response(),
            _ => Refusal::NotFound.response(),
        };
        crate::server::Reply::Whole(resp)
    }

    fn counts_requests(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_a_fixed_set() {
        assert_eq!(Endpoint::of("/mcp"), Endpoint::Mcp);
        assert_eq!(Endpoint::of("/token"), Endpoint::Token);
        assert_eq!(
            Endpoint::of("/.well-known/oauth-authorization-server"),
            Endpoint::Discovery
        );
        assert_eq!(Endpoint::of("/.well-known/jwks.json"), Endpoint::Jwks);
        assert_eq!(Endpoint::of("/wp-admin/x.php"), Endpoint::Other);
    }

    #[test]
    fn histogram_buckets_and_count() {
        let h = AtomicHistogram::new();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_secs(60));
        assert_eq!(h.count(), 4);
        assert_eq!(h.buckets[0].load(Ordering::Relaxed), 2, "<= 100 µs");
        assert_eq!(h.buckets[1].load(Ordering::Relaxed), 1, "<= 250 µs");
        assert_eq!(h.buckets[BUCKETS - 1].load(Ordering::Relaxed), 1, "+Inf");
    }
}

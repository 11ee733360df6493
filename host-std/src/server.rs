//! The HTTP runtime: tokio + hyper 1 (HTTP/1.1), optionally under rustls.
//!
//! The host translates a hyper request into a [`mcpauth_core::http::Request`]
//! after enforcing the socket-level limits, asks a [`Handler`] (the core's
//! router, configured) for the answer, and writes it back. Protocol
//! decisions (routing, CORS, `/healthz`, status codes) stay in the core;
//! this module only owns transport concerns: limits, timeouts, live bodies
//! and graceful shutdown.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use mcpauth_core::http::{Method, RawHeaders, Request, Response};
use mcpauth_core::jose::KeySet;
use mcpauth_core::mcp::{LiveStream, McpServer, StreamReader};
use mcpauth_core::oauth::NoCache;
use mcpauth_core::server::{NoIssuer, Refusal, Routed, Router};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::conn_workers::ConnectionWorkers;
use crate::env::{OsRandom, now};
use crate::head_watch::{HeadWatch, Watched, serve_guarded};
use crate::metrics::{Endpoint, METRICS};
use crate::proxy::TrustedProxies;

/// Something that answers core requests: a configured core router.
pub trait Handler: Send + Sync + 'static {
    /// Answer one request, possibly with a live SSE stream.
    fn reply(&self, req: Request) -> impl Future<Output = Reply> + Send;

    /// Answer one request with a whole response (a live stream is read to
    /// its end).
    fn handle(&self, req: Request) -> impl Future<Output = Response> + Send {
        async move { self.reply(req).await.into_whole().await }
    }

    /// Whether the server counts this handler's requests in
    /// [`crate::metrics::METRICS`] (the default; the metrics listener's own
    /// handler does not).
    fn counts_requests(&self) -> bool {
        true
    }
}

/// A router with no issuer and open mounts (test servers such as the
/// conformance suite's `everything`, see `Router::dangerously_open`).
impl Handler for Router<NoIssuer, KeySet, NoCache> {
    async fn reply(&self, req: Request) -> Reply {
        Reply::routed(self.handle(req, now(), &mut OsRandom).await)
    }
}

/// What a [`Handler`] answers: a whole response, or the head of a live SSE
/// stream whose body the core produces while the call runs.
#[derive(Debug)]
pub enum Reply {
    /// Status, headers and body.
    Whole(Response),
    /// Status and headers now; the body as the core logs events.
    Live {
        /// Status and headers (the body is empty).
        head: Response,
        /// The events.
        body: LiveBody,
    },
    /// Status and headers of an upstream's answer (auth proxy); its body
    /// streams through as the upstream writes it.
    Proxied {
        /// Status and headers (the body is empty).
        head: Response,
        /// The upstream's body.
        body: crate::upstream::UpstreamBody,
    },
}

impl Reply {
    /// The host's form of what the core's router answered.
    pub fn routed<P>(routed: Routed<'_, P>) -> Reply {
        match routed {
            Routed::Response(resp) => Reply::Whole(resp),
            Routed::Live { stream, server } => Reply::live(server, stream),
            // No host-served mounts here yet.
            Routed::Host { .. } => Reply::Whole(mcpauth_core::server::not_found()),
        }
    }

    /// A live MCP stream: its call (if any) runs in a spawned task, dropped
    /// after the core's `live_call_secs` (its stream then ends with an
    /// error response). A client that disconnects does not cancel the call
    /// (2025-11-25: disconnection is not cancellation); it may resume.
    ///
    /// A call that finishes at its first poll (most tools) is answered as a
    /// whole response, without a task or a chunked body: JSON when it sent
    /// no notification (its stream was never opened).
    pub fn live(mcp: &mcpauth_core::sync::Arc<McpServer>, live: Box<LiveStream>) -> Reply {
        let LiveStream {
            response: head,
            reader,
            call,
        } = *live;
        if let Some(call) = call {
            let server = mcp.clone();
            let mut run = Box::pin(async move { server.run_live(call).await });
            let mut cx = Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(whole) = run.as_mut().poll(&mut cx) {
                return Reply::Whole(match whole {
                    Some(whole) => LiveStream::answer_whole(head, whole),
                    None => reader.into_whole(head),
                });
            }
            // Not done: the spawned task polls it again with its own waker,
            // under the core's time limit.
            let limit = Duration::from_secs(mcp.config().limits.live_call_secs);
            tokio::spawn(async move {
                let _ = tokio::time::timeout(limit, run).await;
            });
        }
        Reply::Live {
            head,
            body: LiveBody::new(reader, mcp.config().limits.sse_keep_alive_secs),
        }
    }

    /// The whole response: a live stream is read to its end.
    pub async fn into_whole(self) -> Response {
        match self {
            Reply::Whole(r) => r,
            Reply::Live { mut head, body } => {
                let mut bytes = Vec::new();
                let mut body = std::pin::pin!(body);
                while let Some(Ok(frame)) = body.frame().await {
                    if let Ok(data) = frame.into_data() {
                        bytes.extend_from_slice(&data);
                    }
                }
                head.body = bytes;
                head
            }
            Reply::Proxied { mut head, body } => match body.collect().await {
                Ok(bytes) => {
                    head.body = bytes;
                    head
                }
                Err(_) => Response::json(502, &br#"{"error":"bad_gateway"}"#[..]),
            },
        }
    }
}

/// The body of a live SSE stream: the core's events as they come, and a
/// keep-alive comment after each silent period
/// ([`McpLimits::sse_keep_alive_secs`](mcpauth_core::mcp::McpLimits)).
/// Dropped when the client goes away (the core keeps the events for a
/// resumption).
#[derive(Debug)]
pub struct LiveBody {
    /// Boxed, so that [`Reply`] and hyper's response, which every request
    /// moves several times, stay small (a live stream is rare).
    state: Box<LiveState>,
}

#[derive(Debug)]
struct LiveState {
    reader: StreamReader,
    keep_alive: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
}

impl LiveBody {
    fn new(reader: StreamReader, keep_alive_secs: u64) -> LiveBody {
        let keep_alive = (keep_alive_secs > 0).then(|| {
            let period = Duration::from_secs(keep_alive_secs);
            (period, Box::pin(tokio::time::sleep(period)))
        });
        METRICS.live_stream(1);
        LiveBody {
            state: Box::new(LiveState { reader, keep_alive }),
        }
    }
}

impl Drop for LiveBody {
    fn drop(&mut self) {
        METRICS.live_stream(-1);
    }
}

impl hyper::body::Body for LiveBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self.get_mut().state;
        let events = this.reader.poll_events(cx);
        if let Some((period, sleep)) = &mut this.keep_alive {
            let next = tokio::time::Instant::now() + *period;
            match events {
                Poll::Ready(_) => sleep.as_mut().reset(next),
                Poll::Pending => {
                    if sleep.as_mut().poll(cx).is_ready() {
                        sleep.as_mut().reset(next);
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                            mcpauth_core::mcp::sse::KEEP_ALIVE,
                        )))));
                    }
                }
            }
        }
        events.map(|events| events.map(|bytes| Ok(Frame::data(Bytes::from(bytes)))))
    }
}

/// Transport limits. Each one names the attack it bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body read into memory (memory exhaustion by large
    /// uploads). Larger bodies get 413 before they are read.
    pub max_body_bytes: usize,
    /// Largest request head (request line + headers) hyper buffers (header
    /// flooding). At least 8 KiB (hyper's minimum).
    pub max_header_bytes: usize,
    /// Most header fields per request (header-count flooding).
    pub max_headers: usize,
    /// Time allowed for a complete request head (slowloris).
    pub header_read_timeout: Duration,
    /// Time allowed for a complete request body (slow-body slowloris).
    pub body_read_timeout: Duration,
    /// Most bytes of an oversize body read and thrown away after deciding
    /// on 413 (within `body_read_timeout`), so that a client that writes
    /// its whole body before reading (Node's fetch, most HTTP libraries)
    /// reads the 413 instead of a connection reset. Bounds the bandwidth
    /// and time one refused upload can take; past it the connection is
    /// closed.
    pub max_drain_bytes: usize,
    /// Time allowed for a TLS handshake (handshake slowloris).
    pub tls_handshake_timeout: Duration,
    /// Most simultaneous connections (file-descriptor exhaustion); the
    /// accept loop waits for a free slot.
    pub max_connections: usize,
    /// How long in-flight requests may take to finish on shutdown.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_drain_bytes: 16 * 1024 * 1024,
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Everything the accept loop needs besides the handler.
#[derive(Clone)]
pub struct ServerOptions {
    /// Transport limits.
    pub limits: Limits,
    /// TLS, when the server terminates it itself.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Threads that each serve their connections for their whole life
    /// ([`crate::conn_workers`]); 0 serves them on the caller's runtime.
    pub connection_workers: usize,
}

impl Default for ServerOptions {
    /// Default limits, no TLS, loopback proxies trusted, one connection
    /// worker per core ([`default_connection_workers`]).
    fn default() -> Self {
        ServerOptions {
            limits: Limits::default(),
            tls: None,
            trusted_proxies: TrustedProxies::default(),
            connection_workers: default_connection_workers(),
        }
    }
}

/// One connection worker per core this process may use, or
/// `MCPAUTH_CONNECTION_WORKERS` when set (0: serve connections on the
/// caller's runtime).
pub fn default_connection_workers() -> usize {
    std::env::var("MCPAUTH_CONNECTION_WORKERS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("limits", &self.limits)
            .field("tls", &self.tls.is_some())
            .field("trusted_proxies", &self.trusted_proxies)
            .field("connection_workers", &self.connection_workers)
            .finish()
    }
}

struct Shared<H> {
    handler: H,
    limits: Limits,
    proxies: TrustedProxies,
}

/// Accept connections on `listener` until `shutdown` resolves, then stop
/// accepting, let in-flight requests finish (up to the grace period) and
/// return.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: H,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) {
    let shared = Arc::new(Shared {
        handler,
        limits: options.limits.clone(),
        proxies: options.trusted_proxies,
    });
    let mut builder = http1::Builder::new();
    // No hyper timer: the head deadline is `head_watch`'s, one timer per
    // connection instead of one per request.
    builder
        .max_buf_size(options.limits.max_header_bytes.max(8192))
        .max_headers(options.limits.max_headers)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(options.limits.max_connections));
    // Turned true to stop; the server then waits until every connection
    // has dropped its receiver.
    let (stop, _) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    let workers = match options.connection_workers {
        0 => None,
        n => match ConnectionWorkers::start(n) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the connection workers: serving on the runtime's workers");
                None
            }
        },
    };

    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let builder = builder.clone();
        let stop_rx = stop.subscribe();
        let tls = options.tls.clone();
        let handshake_timeout = options.limits.tls_handshake_timeout;
        let head_limit = options.limits.header_read_timeout;
        let connection = move |stream: TcpStream| async move {
            let _permit = permit;
            let watch = HeadWatch::new();
            // What each request's future holds, behind one reference count
            // that only this connection's thread writes: cloning the
            // server-wide `Arc` per request moved its count between the
            // cores on every request.
            let conn = Arc::new((shared, watch.clone()));
            let svc = service_fn(move |req| {
                conn.1.answering();
                let conn = conn.clone();
                async move {
                    let (shared, watch) = &*conn;
                    let resp = answer(shared, req, peer).await;
                    Ok::<_, Infallible>(resp.map(|body| Watched::new(body, watch.clone())))
                }
            });
            let result =
                match tls {
                    None => {
                        let connection = builder.serve_connection(TokioIo::new(stream), svc);
                        serve_guarded(connection, watch, head_limit, stop_rx).await
                    }
                    Some(acceptor) => {
                        let tls_stream =
                            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => {
                                    // The first head is due from the end of
                                    // the handshake, which had its own limit.
                                    watch.awaiting_head();
                                    s
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                        let connection = builder.serve_connection(TokioIo::new(tls_stream), svc);
                        serve_guarded(connection, watch, head_limit, stop_rx).await
                    }
                };
            match result {
                Some(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "connection ended with an error")
                }
                None => tracing::debug!(%peer, "request head not received in time: closed"),
                Some(Ok(())) => {}
            }
        };
        match &workers {
            Some(workers) => workers.spawn(stream, connection),
            None => {
                tokio::spawn(connection(stream));
            }
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    let _ = stop.send(true);
    if tokio::time::timeout(options.limits.shutdown_grace, stop.closed())
        .await
        .is_err()
    {
        tracing::warn!("grace period elapsed; closing remaining connections");
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

/// Whole bodies stay unboxed (the hot path); live streams and proxied
/// bodies are the other arm.
type HyperResponse =
    hyper::Response<Either<Full<Bytes>, Either<LiveBody, crate::upstream::UpstreamBody>>>;

async fn answer<H: Handler>(
    shared: &Shared<H>,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> HyperResponse {
    // Metrics (with a metrics listener only): the endpoint (a fixed set),
    // then two clock reads and two atomic additions per request. The per-request log line is at debug:
    // skip its path copy unless it will be written.
    let endpoint = (shared.handler.counts_requests() && METRICS.requests_enabled())
        .then(|| Endpoint::of(req.uri().path()));
    let debug = tracing::enabled!(tracing::Level::DEBUG);
    let started = (endpoint.is_some() || debug).then(Instant::now);
    let method = Method::parse(req.method().as_str());
    let mut log_path = None;
    let mut live_body = None;
    let mut spare_map = None;
    let resp = match to_core(shared, req, peer.ip()).await {
        Err((path, resp)) => {
            log_path = debug.then_some(path);
            resp
        }
        Ok((core_req, emptied)) => {
            spare_map = Some(emptied);
            if debug {
                log_path = Some(core_req.path.clone());
            }
            match shared.handler.reply(core_req).await {
                Reply::Whole(resp) => resp,
                Reply::Live { head, body } => {
                    live_body = Some(Either::Left(body));
                    head
                }
                Reply::Proxied { head, body } => {
                    live_body = Some(Either::Right(body));
                    head
                }
            }
        }
    };
    if let Some(started) = started {
        let took = started.elapsed();
        if let Some(endpoint) = endpoint {
            METRICS.request(endpoint, resp.status, took);
        }
        if debug {
            // Path only, never the query string or any header: no codes or tokens.
            tracing::debug!(
                method = ?method,
                path = %log_path.as_deref().unwrap_or(""),
                status = resp.status,
                micros = took.as_micros() as u64,
                "request"
            );
        }
    }
    to_hyper(resp, live_body, spare_map)
}

async fn to_core<H>(
    shared: &Shared<H>,
    req: hyper::Request<Incoming>,
    peer: IpAddr,
) -> Result<(Request, HeaderMap), (String, Response)> {
    let limits = &shared.limits;
    let (mut parts, mut body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    // The Content-Length hyper parsed and frames the body by (no look-up
    // in the header map).
    let declared = hyper::body::Body::size_hint(&body).exact();
    let too_large = || {
        Refusal::BodyTooLarge
            .response()
            .with_header("Connection", "close")
    };
    if declared.is_some_and(|len| len > limits.max_body_bytes as u64) {
        // A client that sent `Expect: 100-continue` waits for our go-ahead
        // before sending the body: it reads the 413 without any draining
        // (and reading the body would send that go-ahead).
        if !parts.headers.contains_key(hyper::header::EXPECT) {
            drain(&mut body, limits).await;
        }
        return Err((path, too_large()));
    }
    // Read the body straight into the Vec the core takes (one allocation,
    // sized from Content-Length), frame by frame under the size limit.
    let max = limits.max_body_bytes;
    let read = async {
        let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| 400u16)?;
            if let Ok(data) = frame.into_data() {
                if data.len() > max - buf.len() {
                    return Err(413);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf)
    };
    // A small body usually arrives with its head: one poll reads it whole,
    // and no timer is armed (a clock read and a timer-wheel entry per
    // request). Otherwise the rest must come within the time limit.
    let read = {
        let mut read = std::pin::pin!(read);
        match std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await {
            Poll::Ready(done) => Ok(done),
            Poll::Pending => tokio::time::timeout(limits.body_read_timeout, read).await,
        }
    };
    let body = match read {
        Ok(Ok(body)) => body,
        Ok(Err(413)) => {
            drain(&mut body, limits).await;
            return Err((path, too_large()));
        }
        Ok(Err(_)) => return Err((path, Refusal::Malformed.response())),
        Err(_) => return Err((path, Refusal::Timeout.response())),
    };
    // One buffer for every name and value (two allocations per request,
    // not two per field).
    let bytes = parts
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    let mut headers = RawHeaders::with_capacity(parts.headers.len(), bytes);
    // Noted while copying (hyper's names are lower case), so that a request
    // without the header (almost every one) is not scanned for it again.
    let mut forwarded = false;
    for (name, value) in &parts.headers {
        forwarded |= name.as_str() == FORWARDED_FOR;
        headers.push(name.as_str(), value.as_bytes());
    }
    // One UTF-8 check over the whole buffer; a value that is not UTF-8
    // (httparse lets obs-text through) reaches the core with U+FFFD.
    let headers = headers.finish();
    let client = if forwarded {
        let values = headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(FORWARDED_FOR))
            .map(|(_, value)| value);
        shared.proxies.client_ip(peer, values)
    } else {
        shared.proxies.client_ip(peer, std::iter::empty())
    };
    let request = Request {
        method: Method::parse(parts.method.as_str()),
        path,
        query: parts.uri.query().map(str::to_owned),
        headers,
        body,
        peer: Some(client),
    };
    // The request's map, emptied, carries the response's fields (see
    // `to_hyper`).
    parts.headers.clear();
    Ok((request, parts.headers))
}

/// The header a trusted proxy names the client in (lower case, as hyper
/// hands names over).
const FORWARDED_FOR: &str = "x-forwarded-for";

/// Read and discard the rest of a refused body, at most
/// [`Limits::max_drain_bytes`] within [`Limits::body_read_timeout`]. Closing
/// a socket with unread data makes the kernel send a reset, and a client
/// still writing its body then never reads the 413; once the client is
/// done writing, it reads the answer and the `Connection: close`.
async fn drain(body: &mut Incoming, limits: &Limits) {
    let mut left = limits.max_drain_bytes;
    let _ = tokio::time::timeout(limits.body_read_timeout, async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                if data.len() >= left {
                    return;
                }
                left -= data.len();
            }
        }
    })
    .await;
}

/// `spare_map`: the request's emptied header map, for the response's
/// fields. hyper keeps a response's emptied map for the connection's next
/// request head, so a keep-alive connection parses every request into the
/// one map, sized by its first, and allocates none per request.
fn to_hyper(
    resp: Response,
    live: Option<Either<LiveBody, crate::upstream::UpstreamBody>>,
    spare_map: Option<HeaderMap>,
) -> HyperResponse {
    let body = match live {
        Some(live) => Either::Right(live),
        None => Either::Left(Full::new(Bytes::from(resp.body))),
    };
    let mut out = hyper::Response::new(body);
    *out.status_mut() = hyper::StatusCode::from_u16(resp.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    if let Some(map) = spare_map {
        *headers = map;
    }
    for (name, value) in resp.headers {
        // The header of every JSON answer: no parsing, no copy.
        if name.eq_ignore_ascii_case("content-type") && value == "application/json" {
            headers.append(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            continue;
        }
        // Static values are shared, owned ones moved: no copy either way.
        let value = match value {
            Cow::Borrowed(v) => HeaderValue::from_maybe_shared(Bytes::from_static(v.as_bytes())),
            Cow::Owned(v) => HeaderValue::try_from(v),
        };
        match (HeaderName::from_bytes(name.as_bytes()), value) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => tracing::warn!("dropping an invalid response header"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request moves its reply through several async layers: up to
    /// 128 bytes the compiler moves it inline, above it calls `memcpy`
    /// (a live stream's state is boxed for this).
    #[test]
    fn a_reply_is_moved_without_a_memcpy_call() {
        assert!(
            std::mem::size_of::<Reply>() <= 128,
            "Reply is {} bytes",
            std::mem::size_of::<Reply>()
        );
    }
}

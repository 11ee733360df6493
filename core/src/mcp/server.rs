//! [`McpServer`]: the transport entry point. Checks that apply to every
//! request (path, Origin/Host, method, Accept, framing, version header) live
//! here; the eras continue in `legacy` (2025) and `modern` (2026-07-28).

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::future::Future;

use serde_json::{Map, Value, json};

use super::context::{Context, McpError};
use super::error_response::{ErrorId, ErrorResponse};

use super::jsonrpc::{self, ErrorCode, FrameError, MessageKind, RequestId};
use super::live::LiveStream;
use super::registry::Registry;
use super::request_params::Params;
use super::session::SessionStore;
use super::sse::SseWriter;
use super::streams::StreamHub;
use super::{McpConfig, McpOutcome, ProtocolVersion};
use crate::http::{Method, Request, Response};
use crate::principal::Principal;
use crate::rand::SecureRandom;
use crate::sync::Arc;
use crate::time::UnixTime;

/// Random bytes for one request (session id, live stream key, SSE event-id
/// prefix), drawn from the host's RNG the first time they are asked for:
/// most requests (a `tools/call` answered as JSON) need none, and drawing
/// them anyway cost every request a copy from the host's pool and, on a
/// server, a system call per dozen requests. Behind a lock, because
/// handlers hold `&Entropy` across awaits and the future must stay `Send`.
pub(crate) struct Entropy<'r> {
    draw: spin::Mutex<Draw<'r>>,
}

enum Draw<'r> {
    /// Not drawn yet (`None`: never drawn, as for a 2026-07-28 request).
    Pending(Option<&'r mut (dyn SecureRandom + Send)>),
    /// Drawn once (`None`: the RNG failed; callers fail closed).
    Drawn(Option<[u8; 40]>),
}

impl<'r> Entropy<'r> {
    /// Bytes drawn from `rng` when first asked for.
    pub(crate) fn lazy(rng: &'r mut (dyn SecureRandom + Send)) -> Self {
        Entropy {
            draw: spin::Mutex::new(Draw::Pending(Some(rng))),
        }
    }

    /// No randomness: [`Entropy::bytes`] is `None`.
    pub(crate) fn none() -> Self {
        Entropy {
            draw: spin::Mutex::new(Draw::Pending(None)),
        }
    }

    /// The request's 40 random bytes, the same on every call; `None`
    /// without an RNG or when it failed.
    pub(crate) fn bytes(&self) -> Option<[u8; 40]> {
        let mut draw = self.draw.lock();
        if let Draw::Pending(rng) = &mut *draw {
            let drawn = rng.as_mut().and_then(|rng| {
                let mut bytes = [0u8; 40];
                rng.fill(&mut bytes).ok().map(|()| bytes)
            });
            *draw = Draw::Drawn(drawn);
        }
        match &*draw {
            Draw::Drawn(bytes) => *bytes,
            Draw::Pending(_) => None,
        }
    }

    /// A live stream key: 24 random bytes, base64url (32 characters, no
    /// `.`, so `<key>.<seq>` event ids split unambiguously).
    pub(crate) fn stream_key(&self) -> Option<String> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let bytes = self.bytes()?;
        Some(Base64UrlUnpadded::encode_string(bytes.get(..24)?))
    }
}

/// The MCP server. Build it once; call [`McpServer::handle`] for every
/// request to the MCP endpoint (it is `Send + Sync`).
pub struct McpServer {
    pub(crate) config: McpConfig,
    pub(crate) registry: Registry,
    pub(crate) sessions: Box<dyn SessionStore>,
    /// MAC key of sealed `requestState` ([`McpServer::with_request_state_key`]).
    pub(crate) state_key: Option<super::state::StateKey>,
    /// Live streams and pending input requests ([`McpConfig::live_streams`]).
    pub(crate) streams: Arc<StreamHub>,
}

impl core::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("McpServer")
            .field("config", &self.config)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

/// A JSON-RPC error on its way to the wire.
#[derive(Debug)]
pub(crate) struct WireError {
    pub(crate) status: u16,
    pub(crate) id: Option<RequestId>,
    pub(crate) error: McpError,
}

impl WireError {
    pub(crate) fn new(
        status: u16,
        id: Option<RequestId>,
        code: ErrorCode,
        msg: &'static str,
    ) -> Self {
        WireError {
            status,
            id,
            error: McpError::new(code, msg),
        }
    }
}

impl McpServer {
    /// A server for `config`, serving `registry`, keeping 2025-era sessions
    /// in `sessions` (use [`super::NoSessionStore`] when
    /// [`McpConfig::stateless`]).
    pub fn new(
        config: McpConfig,
        registry: Registry,
        sessions: Box<dyn SessionStore>,
    ) -> McpServer {
        let streams = Arc::new(StreamHub::new(config.limits));
        McpServer {
            config,
            registry,
            sessions,
            state_key: None,
            streams,
        }
    }

    /// Builder: the key that seals 2026-07-28 `requestState`
    /// ([`Context::seal_state`]). Draw it once from the CSPRNG at start-up;
    /// instances behind one load balancer share it. Without it,
    /// `seal_state` returns `None`.
    pub fn with_request_state_key(mut self, key: [u8; 32]) -> McpServer {
        self.state_key = Some(super::state::StateKey(key));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &McpConfig {
        &self.config
    }

    /// How many 2025-era sessions are held now (`None`: the session store
    /// cannot tell, e.g. stateless).
    pub fn session_count(&self) -> Option<usize> {
        self.sessions.held()
    }

    /// Handle one HTTP request to the MCP endpoint.
    ///
    /// `principal` is the caller authenticated by the composing router (or
    /// `None` when authorization is off), shared: a handler's
    /// [`Context`](super::Context) holds it without copying. `now` drives session expiry; `rng`
    /// mints session ids and live stream keys, and is drawn from only for
    /// those (never for a call answered as JSON).
    pub fn handle<'a>(
        &'a self,
        req: &'a Request,
        principal: Option<&'a Arc<Principal>>,
        now: UnixTime,
        rng: &'a mut (dyn SecureRandom + Send),
    ) -> impl Future<Output = McpOutcome> + Send + 'a {
        // Only POST (session, stream) and GET (stream) use randomness.
        let entropy = match req.method {
            Method::Post | Method::Get => Entropy::lazy(rng),
            _ => Entropy::none(),
        };
        self.route(req, principal, now, entropy)
    }

    async fn route(
        &self,
        req: &Request,
        principal: Option<&Arc<Principal>>,
        now: UnixTime,
        entropy: Entropy<'_>,
    ) -> McpOutcome {
        if req.path != self.config.endpoint_path {
            return McpOutcome::Response(crate::server::not_found());
        }
        if let Err(e) = self.check_host(req) {
            // Both eras: "a JSON-RPC error response that has no id".
            return McpOutcome::Response(error_response(&e, true));
        }
        let resp = match req.method {
            Method::Post => return self.post(req, principal, now, entropy).await,
            Method::Get => return self.get(req, principal, now, entropy).await,
            Method::Delete => self.delete(req, principal, now).await,
            // CORS preflights are the router's (`server::cors`).
            _ => self.not_allowed(),
        };
        McpOutcome::Response(resp)
    }

    fn not_allowed(&self) -> Response {
        let allow = match (self.config.stateless, self.config.live_streams) {
            (true, false) => "POST",
            (true, true) => "GET, POST",
            (false, false) => "POST, DELETE",
            (false, true) => "GET, POST, DELETE",
        };
        crate::server::method_not_allowed(allow)
    }

    /// DNS-rebinding defence, second half (the router checks `Origin`): a
    /// `Host` must be allowed when an allow-list is configured.
    #[allow(clippy::result_large_err)]
    fn check_host(&self, req: &Request) -> Result<(), WireError> {
        if self.config.allowed_hosts.is_empty() {
            return Ok(());
        }
        let ok = req.single_header("host").is_some_and(|h| {
            let h = h.trim();
            self.config
                .allowed_hosts
                .iter()
                .any(|a| a.eq_ignore_ascii_case(h))
        });
        if ok {
            Ok(())
        } else {
            Err(WireError::new(
                403,
                None,
                ErrorCode::InvalidRequest,
                "Forbidden: host not allowed",
            ))
        }
    }

    /// `GET`: with `Last-Event-ID`, resume a live stream of this caller
    /// (sessions and stateless alike: the id names a random stream key);
    /// without, the session's standalone stream for server messages
    /// (one reader at a time: 409 while one is attached). 405 without
    /// [`McpConfig::live_streams`], in 2026-07-28, and for a stateless
    /// `GET` without `Last-Event-ID`.
    async fn get(
        &self,
        req: &Request,
        principal: Option<&Arc<Principal>>,
        now: UnixTime,
        entropy: Entropy<'_>,
    ) -> McpOutcome {
        let fail = |status, msg| {
            McpOutcome::Response(error_response(
                &WireError::new(status, None, ErrorCode::InvalidRequest, msg),
                false,
            ))
        };
        let header_version = req
            .header("mcp-protocol-version")
            .map(|v| ProtocolVersion::parse(v.trim()));
        let last_event_id = req.header("last-event-id");
        if !self.config.live_streams
            || header_version.is_some_and(|v| v.is_some_and(ProtocolVersion::is_modern))
            || (self.config.stateless && last_event_id.is_none())
        {
            return McpOutcome::Response(self.not_allowed());
        }
        if !accepts_sse(req.header("accept")) {
            return fail(406, "Not Acceptable: Accept must include text/event-stream");
        }
        if header_version == Some(None) || req.header_count("mcp-protocol-version") > 1 {
            return fail(400, "Bad Request: Unsupported protocol version");
        }
        let owner = super::session::session_owner(principal.map(|p| &**p));
        let mut session = None;
        if !self.config.stateless {
            let Some(sid) = req.single_header("mcp-session-id") else {
                return fail(400, "Bad Request: Mcp-Session-Id header is required");
            };
            let Some(info) = self.owned_session(sid, owner, now).await else {
                return fail(404, "Session not found");
            };
            if header_version.flatten().is_some_and(|h| h != info.version) {
                return fail(
                    400,
                    "Bad Request: MCP-Protocol-Version does not match the session",
                );
            }
            session = Some((sid, info.version));
        }
        let retry = self.config.sse_retry_ms;
        let sid = session.map(|(sid, _)| sid);
        let reader = if let Some(last) = last_event_id {
            match StreamHub::resume(&self.streams, last, sid, owner, retry) {
                Ok(r) => r,
                Err(_) => return fail(400, "Bad Request: unknown Last-Event-ID"),
            }
        } else {
            let (Some(sid), Some((_, version))) = (sid, session) else {
                return McpOutcome::Response(self.not_allowed());
            };
            match StreamHub::attach_standalone(&self.streams, sid, retry) {
                Ok(Some(r)) => r,
                Err(_) => return fail(409, "Conflict: the session's stream is already open"),
                Ok(None) => {
                    let Some(key) = entropy.stream_key() else {
                        return McpOutcome::Response(crate::server::unavailable(
                            "Service unavailable",
                        ));
                    };
                    let priming = version >= ProtocolVersion::V2025_11_25;
                    match StreamHub::open(
                        &self.streams,
                        key,
                        Some(sid),
                        owner,
                        true,
                        priming,
                        now,
                        retry,
                    ) {
                        Ok(r) => r,
                        Err(_) => {
                            return McpOutcome::Response(crate::server::unavailable(
                                "Too many open streams",
                            ));
                        }
                    }
                }
            }
        };
        McpOutcome::Stream(Box::new(LiveStream {
            response: super::legacy::sse_head(),
            reader,
            call: None,
        }))
    }

    /// Send a notification to the standalone `GET` stream of session `sid`
    /// (server-initiated messages such as `notifications/resources/updated`
    /// or list changes); dropped when the session has none open.
    pub fn notify_session(&self, sid: &str, method: &str, params: Value) {
        let note = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.streams.push_standalone(sid, note.to_string());
    }

    async fn delete(
        &self,
        req: &Request,
        principal: Option<&Arc<Principal>>,
        now: UnixTime,
    ) -> Response {
        let modern = req
            .header("mcp-protocol-version")
            .and_then(|v| ProtocolVersion::parse(v.trim()))
            .is_some_and(ProtocolVersion::is_modern);
        if self.config.stateless || modern {
            return self.not_allowed();
        }
        if req.header_count("mcp-session-id") != 1 {
            return error_response(
                &WireError::new(
                    400,
                    None,
                    ErrorCode::InvalidRequest,
                    "Bad Request: Mcp-Session-Id header is required",
                ),
                false,
            );
        }
        let id = req.header("mcp-session-id").unwrap_or_default();
        let owner = super::session::session_owner(principal.map(|p| &**p));
        let owned = self.owned_session(id, owner, now).await.is_some();
        // Someone else's (or no) session: answer as if it did not exist and
        // touch nothing of it, its streams included.
        if !owned || !self.sessions.remove(id).await {
            return error_response(
                &WireError::new(404, None, ErrorCode::InvalidRequest, "Session not found"),
                false,
            );
        }
        self.streams.end_session(id);
        Response::empty(200)
    }

    async fn post(
        &self,
        req: &Request,
        principal: Option<&Arc<Principal>>,
        now: UnixTime,
        entropy: Entropy<'_>,
    ) -> McpOutcome {
        // Before the era is known, a modern version header decides whether an
        // unknown id is omitted (2026-07-28) or null (JSON-RPC 2.0).
        let modern_hint = req
            .header("mcp-protocol-version")
            .and_then(|v| ProtocolVersion::parse(v.trim()))
            .is_some_and(ProtocolVersion::is_modern);
        let fail = |e: WireError| {
            let modern = modern_hint || e.error.code == ErrorCode::UnsupportedProtocolVersion;
            McpOutcome::Response(error_response(&e, modern))
        };
        if !accepts_both(req.header("accept")) {
            return fail(WireError::new(
                406,
                None,
                ErrorCode::InvalidRequest,
                "Not Acceptable: Accept must include application/json and text/event-stream",
            ));
        }
        if let Some(ct) = req.header("content-type") {
            let media = ct.as_bytes().split(|&b| b == b';').next();
            if !media.is_some_and(|m| m.trim_ascii().eq_ignore_ascii_case(b"application/json")) {
                return fail(WireError::new(
                    415,
                    None,
                    ErrorCode::InvalidRequest,
                    "Unsupported Media Type: Content-Type must be application/json",
                ));
            }
        }
        let env = match jsonrpc::parse(&req.body, &self.config.limits.frame) {
            Ok(env) => env,
            Err(e) => return fail(frame_error(e)),
        };
        let Ok(header_version) = req.unique_header("mcp-protocol-version") else {
            return fail(WireError::new(
                400,
                env.id.clone(),
                ErrorCode::InvalidRequest,
                "Bad Request: multiple MCP-Protocol-Version headers",
            ));
        };
        let header_version = header_version.map(str::trim);
        let parsed_header = match header_version {
            None => None,
            Some(v) => match ProtocolVersion::parse(v) {
                Some(p) => Some(p),
                None => return fail(unsupported_version(env.id.clone(), v)),
            },
        };
        let header_modern = parsed_header.is_some_and(ProtocolVersion::is_modern);
        let params = match Params::parse(&env, header_modern) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let meta_version = params
            .meta()
            .and_then(|m| m.get(super::modern::META_VERSION));
        // `initialize` selects the 2025 era unless its `_meta` names a
        // protocol version: legacy clients never send that member, and a
        // 2026-07-28 request is served by 2026-07-28 rules (where
        // `initialize` does not exist: 404 / -32601).
        let is_initialize = env.kind == MessageKind::Request && env.method == "initialize";
        let modern = meta_version.is_some() || (!is_initialize && header_modern);
        if modern {
            self.modern(req, principal, now, &env, params.into_map())
                .await
        } else {
            self.legacy(req, principal, now, entropy, &env, parsed_header, params)
                .await
        }
    }

    /// Session `sid`, if it exists and belongs to `owner` (its idle timer
    /// refreshed). A store that answers at once is not asked through a
    /// boxed future.
    pub(crate) async fn owned_session(
        &self,
        sid: &str,
        owner: Option<[u8; 32]>,
        now: UnixTime,
    ) -> Option<super::session::SessionInfo> {
        let info = match self.sessions.get_now(sid, now) {
            Some(info) => info,
            None => self.sessions.get(sid, now).await,
        };
        info.filter(|i| i.owner == owner)
    }

    /// A fresh handler context for request `id`.
    pub(crate) fn context(
        &self,
        principal: Option<&Arc<Principal>>,
        version: ProtocolVersion,
        id: &RequestId,
        params: &Map<String, Value>,
    ) -> Context {
        let meta = params
            .get("_meta")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        self.context_with_meta(principal, version, id, meta)
    }

    /// [`McpServer::context`] with `params._meta` given.
    pub(crate) fn context_with_meta(
        &self,
        principal: Option<&Arc<Principal>>,
        version: ProtocolVersion,
        id: &RequestId,
        meta: Map<String, Value>,
    ) -> Context {
        Context::new(
            principal,
            version,
            id.clone(),
            meta,
            self.config.limits.max_notifications,
        )
    }

    /// Encode a successful result: JSON, or SSE when notifications precede it.
    pub(crate) fn result_response(
        &self,
        id: &RequestId,
        result: Map<String, Value>,
        notifications: Vec<Value>,
        version: ProtocolVersion,
        entropy: &Entropy<'_>,
    ) -> Response {
        let body = json!({"jsonrpc": "2.0", "id": id_json(id), "result": result});
        self.maybe_stream(body, notifications, version, entropy, 200)
    }

    pub(crate) fn maybe_stream(
        &self,
        message: Value,
        notifications: Vec<Value>,
        version: ProtocolVersion,
        entropy: &Entropy<'_>,
        status: u16,
    ) -> Response {
        if notifications.is_empty() {
            return Response::json(status, message.to_string());
        }
        let mut w = SseWriter::new();
        let prefix = entropy
            .bytes()
            .map(|b| {
                use base64ct::{Base64UrlUnpadded, Encoding};
                let mut head = [0u8; 8];
                head.copy_from_slice(b.get(32..40).unwrap_or(&[0; 8]));
                Base64UrlUnpadded::encode_string(&head)
            })
            .unwrap_or_default();
        let ids = !version.is_modern();
        let mut n = 0u32;
        let mut next_id = || {
            n += 1;
            alloc::format!("{prefix}-{n}")
        };
        if ids {
            w.retry(self.config.sse_retry_ms);
            if version >= ProtocolVersion::V2025_11_25 {
                // Priming event: an id and empty data (2025-11-25).
                let id = next_id();
                w.event(Some(&id), "");
            }
        }
        for note in notifications.iter().chain(core::iter::once(&message)) {
            let id = ids.then(&mut next_id);
            w.event(id.as_deref(), &note.to_string());
        }
        let mut resp = super::legacy::sse_head();
        resp.status = status;
        resp.with_body(w.finish())
    }
}

/// Whether `Accept` lists SSE (wildcards count).
fn accepts_sse(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or_default().trim();
            ["text/event-stream", "text/*", "*/*"]
                .iter()
                .any(|m| m.eq_ignore_ascii_case(media))
        })
    })
}

/// Whether `Accept` lists both JSON and SSE (wildcards count). On bytes:
/// every POST passes here, and `str::split` by a `char` costs a searcher
/// per piece.
fn accepts_both(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let (mut json, mut sse) = (false, false);
    for range in accept.as_bytes().split(|&b| b == b',') {
        let mut parts = range.split(|&b| b == b';');
        let media = parts.next().unwrap_or_default().trim_ascii();
        let quality_zero =
            parts.any(|p| matches!(p.trim_ascii(), b"q=0" | b"q=0.0" | b"q=0.00" | b"q=0.000"));
        if quality_zero {
            continue;
        }
        let is = |want: &[u8]| media.eq_ignore_ascii_case(want);
        if media == b"*/*" {
            json = true;
            sse = true;
        } else if is(b"application/json") || is(b"application/*") {
            json = true;
        } else if is(b"text/event-stream") || is(b"text/*") {
            sse = true;
        }
    }
    json && sse
}

pub(crate) fn frame_error(e: FrameError) -> WireError {
    let status = if e.too_large { 413 } else { 400 };
    WireError::new(status, e.id, e.code, e.reason)
}

pub(crate) fn unsupported_version(id: Option<RequestId>, requested: &str) -> WireError {
    let supported: Vec<&str> = ProtocolVersion::ALL
        .iter()
        .rev()
        .map(|v| v.as_str())
        .collect();
    let requested: String = requested.chars().take(64).collect();
    WireError {
        status: 400,
        id,
        error: McpError::new(
            ErrorCode::UnsupportedProtocolVersion,
            "Unsupported protocol version",
        )
        .with_data(json!({"supported": supported, "requested": requested})),
    }
}

pub(crate) fn id_json(id: &RequestId) -> Value {
    match id {
        RequestId::Number(n) => Value::from(*n),
        RequestId::String(s) => Value::String(s.as_str().to_string()),
    }
}

/// The 403 answered to a request whose `Origin` the CORS policy does not
/// allow (DNS rebinding): a JSON-RPC error without an id, as both eras say.
pub fn origin_forbidden() -> Response {
    let e = WireError::new(
        403,
        None,
        ErrorCode::InvalidRequest,
        "Forbidden: origin not allowed",
    );
    error_response(&e, true)
}

/// `e` as a response ([`ErrorResponse`]). Without a readable id, `id` is
/// null in the 2025 era (JSON-RPC 2.0) and omitted in 2026-07-28.
pub(crate) fn error_response(e: &WireError, modern: bool) -> Response {
    ErrorResponse::of(ErrorId::of(e.id.as_ref(), modern), &e.error).response(e.status)
}

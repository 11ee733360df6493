//! The 2025 era (protocol versions 2025-03-26, 2025-06-18, 2025-11-25):
//! `initialize`, sessions, `MCP-Protocol-Version` (absent means 2025-03-26).

use alloc::string::{String, ToString};

use serde_json::{Map, Value, json};

use alloc::vec::Vec;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Context as TaskContext;

use super::context::{Context, LogLevel, McpError};
use super::error_response::{ErrorId, ErrorResponse};
use super::jsonrpc::{Envelope, ErrorCode, MessageKind, RequestId};
use super::live::{LiveCall, LiveSink, LiveStream};
use super::methods::Dispatch;
use super::request_params::{Params, ToolCall};
use super::server::{Entropy, McpServer, WireError, error_response, id_json};
use super::session::{
    CancelTracking, ClientInputs, SessionError, SessionInfo, session_owner, session_subject,
};
use super::streams::{StreamReader, StreamSpec};
use super::{McpOutcome, ProtocolVersion};
use crate::http::{Request, Response};
use crate::principal::Principal;
use crate::sync::Arc;
use crate::time::UnixTime;

/// Who a 2025-era request comes from: the principal, its
/// [`session_owner`] hash (computed once per request) and its session.
#[derive(Clone, Copy)]
struct Caller<'a> {
    principal: Option<&'a Arc<Principal>>,
    owner: Option<[u8; 32]>,
    session: Option<(&'a str, SessionInfo)>,
}

fn respond(e: WireError) -> McpOutcome {
    McpOutcome::Response(error_response(&e, false))
}

impl McpServer {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn legacy(
        &self,
        req: &Request,
        principal: Option<&Arc<Principal>>,
        now: UnixTime,
        entropy: Entropy<'_>,
        env: &Envelope<'_>,
        header_version: Option<ProtocolVersion>,
        params: Params<'_>,
    ) -> McpOutcome {
        // A tools/call read into its fields keeps them; any other request's
        // params are a map.
        let (params, call) = match params {
            Params::Map(map) => (map.unwrap_or_default(), None),
            Params::ToolCall(call) => (Map::new(), Some(call)),
        };
        let id = env.id.clone();
        if env.kind == MessageKind::Request && env.method == "initialize" {
            return self.initialize(id, &params, principal, now, &entropy).await;
        }

        // Who calls, once per request (a hash of the principal).
        let owner = session_owner(principal.map(|p| &**p));
        // Session and version.
        let mut session: Option<(&str, SessionInfo)> = None;
        let version = if self.config.stateless {
            header_version.unwrap_or(ProtocolVersion::V2025_03_26)
        } else {
            let Some(sid) = req.single_header("mcp-session-id") else {
                return respond(WireError::new(
                    400,
                    id,
                    ErrorCode::InvalidRequest,
                    "Bad Request: Mcp-Session-Id header is required",
                ));
            };
            let Some(info) = self.owned_session(sid, owner, now).await else {
                return respond(WireError::new(
                    404,
                    id,
                    ErrorCode::InvalidRequest,
                    "Session not found",
                ));
            };
            if header_version.is_some_and(|h| h != info.version) {
                return respond(WireError::new(
                    400,
                    id,
                    ErrorCode::InvalidRequest,
                    "Bad Request: MCP-Protocol-Version does not match the session",
                ));
            }
            session = Some((sid, info));
            info.version
        };

        match env.kind {
            MessageKind::Response => {
                // The client's answer to an input request of a live call
                // (routed by the random id and the caller's identity).
                if let (true, Some(RequestId::String(rid))) = (self.config.live_streams, &id) {
                    let answer = serde_json::from_slice::<Map<String, Value>>(&req.body)
                        .ok()
                        .and_then(|mut m| match (m.remove("result"), m.remove("error")) {
                            (Some(r), None) => Some(Ok(r)),
                            (None, Some(e)) => Some(Err(e)),
                            _ => None,
                        });
                    if let Some(answer) = answer {
                        let sid = session.map(|(sid, _)| sid);
                        self.streams.answer(rid.as_str(), sid, owner, answer);
                    }
                }
                McpOutcome::Response(Response::empty(202))
            }
            MessageKind::Notification => {
                if let Some((sid, _)) = session {
                    match env.method.as_str() {
                        "notifications/initialized" => {
                            let _ = self.sessions.set_initialized(sid).await;
                        }
                        "notifications/cancelled" => {
                            if let Some(rid) = params.get("requestId").and_then(request_id) {
                                self.sessions.cancel_request(sid, &rid);
                            }
                        }
                        _ => {}
                    }
                }
                McpOutcome::Response(Response::empty(202))
            }
            MessageKind::Request => {
                let Some(id) = id else {
                    return respond(WireError::new(
                        400,
                        None,
                        ErrorCode::InvalidRequest,
                        "Invalid Request",
                    ));
                };
                let caller = Caller {
                    principal,
                    owner,
                    session,
                };
                self.legacy_request(caller, now, &entropy, env, &id, params, call, version)
                    .await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn legacy_request(
        &self,
        caller: Caller<'_>,
        now: UnixTime,
        entropy: &Entropy<'_>,
        env: &Envelope<'_>,
        id: &RequestId,
        mut params: Map<String, Value>,
        mut call: Option<ToolCall<'_>>,
        version: ProtocolVersion,
    ) -> McpOutcome {
        let Caller {
            principal,
            owner,
            session,
        } = caller;
        let ok = |result: Map<String, Value>| {
            McpOutcome::Response(self.result_response(id, result, alloc::vec![], version, entropy))
        };
        let fail = |e: McpError| {
            respond(WireError {
                status: 200,
                id: Some(id.clone()),
                error: e,
            })
        };
        match env.method.as_str() {
            "ping" => return ok(Map::new()),
            "logging/setLevel" => {
                let Some(level) = params
                    .get("level")
                    .and_then(Value::as_str)
                    .and_then(LogLevel::parse)
                else {
                    return fail(McpError::invalid_params("Invalid log level"));
                };
                if let Some((sid, _)) = session {
                    let _ = self.sessions.set_log_level(sid, level).await;
                }
                return ok(Map::new());
            }
            "resources/subscribe" | "resources/unsubscribe" if self.offers_subscriptions() => {
                // Only sessions hold subscriptions: offered only with them.
                let Some((sid, _)) = session else {
                    return fail(McpError::new(ErrorCode::MethodNotFound, "Method not found"));
                };
                return match self.subscription(&env.method, sid, &params).await {
                    Ok(()) => ok(Map::new()),
                    Err(e) => fail(e),
                };
            }
            _ => {}
        }
        if env.method_too_long {
            return fail(McpError::new(ErrorCode::MethodNotFound, "Method not found"));
        }
        let mut ctx = match call.as_mut() {
            Some(call) => {
                let meta = call.meta.take().unwrap_or_default();
                self.context_with_meta(principal, version, id, meta)
            }
            None => self.context(principal, version, id, &params),
        };
        // Logs only after the client asked for them with logging/setLevel;
        // without a session to keep that in, the operator's choice.
        ctx.log_level = match session {
            Some((_, s)) => s.log_level,
            None => self.config.stateless_log_level,
        };
        if let Some((_, s)) = session {
            ctx.client_capabilities = Some(s.client_inputs.to_json());
        }
        // The called tool, looked up once.
        let tool = match &call {
            Some(call) => Some(&*call.name),
            None => params.get("name").and_then(Value::as_str),
        }
        .filter(|_| env.method == "tools/call")
        .and_then(|name| self.registry.find_tool(name));
        if self.config.live_streams && tool.is_some_and(|t| t.streams_for(ctx.principal.as_deref()))
        {
            let params = match call {
                Some(call) => call.into_map(),
                None => params,
            };
            return self.open_live(ctx, params, owner, now, entropy, version, session);
        }
        // An immediate tool's call cannot wait, so no cancellation can reach
        // it: it gets no flag to track.
        let flag = (!tool.is_some_and(|t| t.immediate)).then(|| ctx.cancellation());
        let mut cancel =
            CancelTracking::new(&*self.sessions, session.map(|(sid, _)| sid).zip(flag), id);
        let outcome = {
            let mut dispatch = pin!(async {
                match call {
                    Some(call) => self.call_tool(&call.name, call.arguments, &mut ctx).await,
                    None => {
                        self.dispatch(&env.method, &mut params, false, &mut ctx)
                            .await
                    }
                }
            });
            poll_fn(|cx: &mut TaskContext<'_>| {
                let poll = dispatch.as_mut().poll(cx);
                if poll.is_pending() {
                    cancel.waiting();
                }
                poll
            })
            .await
        };
        // Untracked here, or when the call is dropped while it waits.
        drop(cancel);
        let mut notes = core::mem::take(&mut ctx.notifications);
        if let Some((sid, _)) = session {
            notes.extend(self.updated_notes(&ctx, sid).await);
        }
        self.broadcast_updates(&ctx, session.map(|(sid, _)| sid))
            .await;
        let message = match outcome {
            Ok(Dispatch::Tool(r)) if notes.is_empty() => {
                let body = super::methods::tool_response_body(id, &r);
                return McpOutcome::Response(Response::json(200, body));
            }
            Ok(Dispatch::Tool(r)) => {
                json!({"jsonrpc": "2.0", "id": id_json(id), "result": r.to_json()})
            }
            Ok(Dispatch::Result(r)) => json!({"jsonrpc": "2.0", "id": id_json(id), "result": r}),
            Ok(Dispatch::InsufficientScope(required)) => {
                return McpOutcome::InsufficientScope { required };
            }
            // Only live calls (which never get here) can ask the client.
            Ok(Dispatch::Input(_)) => error_json(id, &McpError::internal()),
            Ok(Dispatch::NotFound) => error_json(
                id,
                &McpError::new(ErrorCode::MethodNotFound, "Method not found"),
            ),
            Err(e) => error_json(id, &e),
        };
        McpOutcome::Response(self.maybe_stream(message, notes, version, entropy, 200))
    }

    /// `notifications/resources/updated` for the URIs the handler reported
    /// that session `sid` subscribed to.
    pub(crate) async fn updated_notes(&self, ctx: &Context, sid: &str) -> Vec<Value> {
        if ctx.updated.is_empty() {
            return Vec::new();
        }
        let subscribed = self.sessions.subscriptions(sid).await;
        ctx.updated
            .iter()
            .filter(|u| subscribed.contains(u))
            .map(|uri| {
                json!({
                    "jsonrpc": "2.0",
                    "method": "notifications/resources/updated",
                    "params": {"uri": uri}
                })
            })
            .collect()
    }

    /// Live streams: tell the other sessions subscribed to a URI the
    /// handler reported changed, on their standalone `GET` streams (the
    /// requesting session hears it with its response). At most
    /// [`McpLimits::sessions`](super::McpLimits::sessions) per URI.
    pub(crate) async fn broadcast_updates(&self, ctx: &Context, own: Option<&str>) {
        if !self.config.live_streams {
            return;
        }
        for uri in &ctx.updated {
            let note = json!({
                "jsonrpc": "2.0",
                "method": "notifications/resources/updated",
                "params": {"uri": uri}
            })
            .to_string();
            let max = self.config.limits.sessions;
            for sid in self.sessions.subscribers(uri, max).await {
                if Some(sid.as_str()) != own {
                    self.streams.push_standalone(&sid, note.clone());
                }
            }
        }
    }

    /// Answer a `tools/call` with a live stream; the host runs the call
    /// ([`McpServer::run_live`]), and the stream opens only if the call
    /// sends an event or waits.
    #[allow(clippy::too_many_arguments)]
    fn open_live(
        &self,
        mut ctx: Context,
        params: Map<String, Value>,
        owner: Option<[u8; 32]>,
        now: UnixTime,
        entropy: &Entropy<'_>,
        version: ProtocolVersion,
        session: Option<(&str, SessionInfo)>,
    ) -> McpOutcome {
        let Some(key) = entropy.stream_key() else {
            return unavailable(&ctx.request_id, "Service unavailable");
        };
        let priming = version >= ProtocolVersion::V2025_11_25;
        let reader = StreamReader::fresh(
            &self.streams,
            key.clone(),
            self.config.sse_retry_ms,
            priming,
        );
        let spec = Arc::new(StreamSpec {
            key,
            session: session.map(|(sid, _)| String::from(sid)),
            owner,
            created: now,
        });
        ctx.live = Some(LiveSink {
            hub: self.streams.clone(),
            spec: spec.clone(),
            opened: false,
        });
        McpOutcome::Stream(alloc::boxed::Box::new(LiveStream {
            response: sse_head(),
            reader,
            call: Some(LiveCall { ctx, params, spec }),
        }))
    }

    /// Whether `resources/subscribe` is offered: sessions and resources.
    fn offers_subscriptions(&self) -> bool {
        !self.config.stateless && self.registry.has_resources()
    }

    /// `resources/subscribe` or `resources/unsubscribe` for session `sid`.
    async fn subscription(
        &self,
        method: &str,
        sid: &str,
        params: &Map<String, Value>,
    ) -> Result<(), McpError> {
        let Some(uri) = params.get("uri").and_then(Value::as_str) else {
            return Err(McpError::invalid_params(
                "Missing or invalid string parameter: uri",
            ));
        };
        if uri.len() > self.config.limits.max_subscription_uri {
            return Err(McpError::invalid_params("Resource URI too long"));
        }
        let done = if method == "resources/unsubscribe" {
            self.sessions.unsubscribe(sid, uri).await
        } else {
            if !self.registry.resource_known(uri) {
                let uri: String = uri.chars().take(128).collect();
                return Err(
                    McpError::new(ErrorCode::ResourceNotFoundLegacy, "Resource not found")
                        .with_data(json!({"uri": uri})),
                );
            }
            let max = self.config.limits.max_subscriptions;
            self.sessions.subscribe(sid, uri, max).await
        };
        match done {
            Ok(()) => Ok(()),
            Err(SessionError::Full) => Err(McpError::new(
                ErrorCode::InvalidRequest,
                "Too many resource subscriptions",
            )),
            Err(SessionError::Unknown) => Err(McpError::internal()),
        }
    }

    async fn initialize(
        &self,
        id: Option<RequestId>,
        params: &Map<String, Value>,
        principal: Option<&Arc<Principal>>,
        now: UnixTime,
        entropy: &Entropy<'_>,
    ) -> McpOutcome {
        let Some(rid) = id.clone() else {
            return respond(WireError::new(
                400,
                None,
                ErrorCode::InvalidRequest,
                "Invalid Request",
            ));
        };
        let invalid = |msg: &'static str| {
            respond(WireError::new(
                200,
                id.clone(),
                ErrorCode::InvalidParams,
                msg,
            ))
        };
        let Some(requested) = params.get("protocolVersion").and_then(Value::as_str) else {
            return invalid("initialize requires a protocolVersion string");
        };
        if params.get("capabilities").is_some_and(|c| !c.is_object()) {
            return invalid("capabilities must be an object");
        }
        if params.get("clientInfo").is_some_and(|c| !c.is_object()) {
            return invalid("clientInfo must be an object");
        }
        let version = match ProtocolVersion::parse(requested) {
            Some(v) if !v.is_modern() => v,
            _ => ProtocolVersion::LATEST_LEGACY,
        };
        let mut info =
            json!({"name": self.config.server_name, "version": self.config.server_version});
        if let (Some(t), Some(o)) = (&self.config.server_title, info.as_object_mut()) {
            o.insert("title".into(), Value::String(t.clone()));
        }
        let mut result = Map::new();
        result.insert(
            "protocolVersion".into(),
            Value::String(version.as_str().into()),
        );
        result.insert(
            "capabilities".into(),
            self.registry.capabilities(true, !self.config.stateless),
        );
        result.insert("serverInfo".into(), info);
        if let Some(i) = &self.config.instructions {
            result.insert("instructions".into(), Value::String(i.clone()));
        }
        let mut resp = self.result_response(&rid, result, alloc::vec![], version, entropy);
        if !self.config.stateless {
            let Some(sid) = session_id(entropy) else {
                return unavailable(&rid, "Service unavailable");
            };
            let inputs = ClientInputs::declared(params.get("capabilities"));
            let owner = session_owner(principal.map(|p| &**p));
            let subject = session_subject(principal.map(|p| &**p));
            match self
                .sessions
                .create(&sid, version, owner, subject, now)
                .await
            {
                Ok(evicted) => {
                    self.session_created(now);
                    if let Some(old) = evicted {
                        // Its streams and pending input requests end too.
                        self.streams.end_session(&old);
                    }
                    if !inputs.is_empty() {
                        let _ = self.sessions.set_client_inputs(&sid, inputs).await;
                    }
                    resp = resp.with_header("Mcp-Session-Id", sid);
                }
                Err(SessionError::Full | SessionError::Unknown) => {
                    return unavailable(&rid, "Too many active sessions");
                }
            }
        }
        McpOutcome::Response(resp)
    }
}

/// The fields of a live SSE response's own head.
pub(crate) const SSE_HEAD_FIELDS: [(&str, &str); 3] = [
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),
];

/// The head of a live SSE response.
pub(crate) fn sse_head() -> Response {
    SSE_HEAD_FIELDS
        .iter()
        .fold(Response::empty(200), |r, &(name, value)| {
            r.with_header(name, value)
        })
}

pub(crate) fn unavailable(id: &RequestId, msg: &'static str) -> McpOutcome {
    let e = WireError::new(503, Some(id.clone()), ErrorCode::InternalError, msg);
    McpOutcome::Response(
        error_response(&e, false).with_header("Retry-After", crate::server::RETRY_AFTER_SECS),
    )
}

/// A session id: 32 random bytes, base64url (43 visible ASCII characters).
fn session_id(entropy: &Entropy<'_>) -> Option<String> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let bytes = entropy.bytes()?;
    Some(Base64UrlUnpadded::encode_string(bytes.get(..32)?))
}

/// A request id from a JSON value (`notifications/cancelled`).
fn request_id(v: &Value) -> Option<RequestId> {
    match v {
        Value::Number(n) => n.as_i64().map(RequestId::Number),
        Value::String(s) => heapless::String::try_from(s.as_str())
            .ok()
            .map(RequestId::String),
        _ => None,
    }
}

/// The error response to request `id` as a value (composed further).
pub(crate) fn error_json(id: &RequestId, e: &McpError) -> Value {
    ErrorResponse::of(ErrorId::Id(id), e).to_value()
}

/// The error response to request `id` as text (an SSE event).
pub(crate) fn error_text(id: &RequestId, e: &McpError) -> String {
    ErrorResponse::of(ErrorId::Id(id), e).to_json()
}

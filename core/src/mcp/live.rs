//! 2025-era live calls ([`McpConfig::live_streams`](super::McpConfig::live_streams)):
//! a `tools/call` answered with an SSE stream while the tool runs, and the
//! server-to-client requests a tool makes through the same
//! [`InputRequired`] it returns in 2026-07-28.
//!
//! A tool asks for input the same way in both eras: it returns
//! [`CallToolResult::input_required`](super::CallToolResult::input_required)
//! and reads the answers from [`Context::input_response`] when it is
//! invoked again. In the 2025 era the core sends each input request as a
//! JSON-RPC request on the call's stream (id `<stream key>.q<round>.<n>`:
//! unguessable, because the stream key is random), waits until the client
//! POSTs every answer (202), then invokes the tool again with them and the
//! `requestState`. The waiting call is the host's spawned future; the
//! answers are routed through the instance-wide [`StreamHub`] by those ids
//! and the caller's identity, so stateless deployments work too.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::{Context as TaskContext, Poll};

use serde_json::{Map, Value, json};

use super::context::{Context, McpError};
use super::features::InputRequired;
use super::jsonrpc::{ErrorCode, RequestId};
use super::legacy::error_text;
use super::methods::Dispatch;
use super::server::{McpServer, id_json};
use super::session::CancelTracking;
use super::streams::{StreamHub, StreamReader, StreamSpec};
use crate::http::Response;
use crate::sync::Arc;

/// Rounds of input requests one call may make before it fails (a tool
/// that never accepts its answers would otherwise ask forever).
pub const MAX_INPUT_ROUNDS: u32 = 8;

/// A live stream: the response head, the reader of its events, and the
/// call that produces them (none for a `GET`).
#[derive(Debug, PartialEq, Eq)]
pub struct LiveStream {
    /// Status and headers (`text/event-stream`); the body is the reader's.
    pub response: Response,
    /// Yields the encoded events.
    pub reader: StreamReader,
    /// The call to run ([`McpServer::run_live`]), for a POST stream.
    pub call: Option<LiveCall>,
}

impl LiveStream {
    /// The answer to a call that ended without opening its stream:
    /// `whole`, what [`McpServer::run_live`] returned, with the fields
    /// added to the stream's `head` after the server made it (the router's
    /// CORS fields). A browser client then reads the answer whichever way
    /// the call ended.
    pub fn answer_whole(head: Response, mut whole: Response) -> Response {
        // Fields are only ever added to the head: with just its own, there
        // is nothing to carry over (the usual case, no `Origin`).
        if head.headers.len() <= super::legacy::SSE_HEAD_FIELDS.len() {
            return whole;
        }
        let added = head.headers.into_iter().filter(|(name, _)| {
            !super::legacy::SSE_HEAD_FIELDS
                .iter()
                .any(|(own, _)| own.eq_ignore_ascii_case(name))
        });
        whole.headers.extend(added);
        whole
    }
}

/// A `tools/call` whose events go to a live stream. Owned, so a host can
/// move it into a spawned task.
#[derive(Debug)]
pub struct LiveCall {
    pub(crate) ctx: Context,
    pub(crate) params: Map<String, Value>,
    pub(crate) spec: Arc<StreamSpec>,
}

impl PartialEq for LiveCall {
    fn eq(&self, other: &Self) -> bool {
        self.spec.key == other.spec.key
    }
}

impl Eq for LiveCall {}

/// Where a live handler's notifications go: its stream, opened by the
/// first one.
#[derive(Debug, Clone)]
pub(crate) struct LiveSink {
    pub(crate) hub: Arc<StreamHub>,
    pub(crate) spec: Arc<StreamSpec>,
    /// Whether this sink opened (or found open) the stream.
    pub(crate) opened: bool,
}

impl LiveSink {
    /// Log a notification on the call's stream.
    pub(crate) fn push(&mut self, message: String) {
        self.opened |= self.hub.push_opening(&self.spec, message, false);
    }

    /// End the stream's current connection (SSE polling); the stream is
    /// opened first, so that the client can resume it.
    pub(crate) fn close_connection(&mut self) {
        if self.hub.ensure_open(&self.spec) {
            self.opened = true;
            self.hub.close_connection(&self.spec.key);
        }
    }
}

/// Ends the stream with an error response if the call is dropped before it
/// finished (the host's time limit, shutdown), and forgets its pending
/// input requests.
struct CallGuard<'a> {
    hub: &'a StreamHub,
    spec: &'a StreamSpec,
    id: &'a RequestId,
    pending: Vec<String>,
    done: bool,
    /// The call in its session, for `notifications/cancelled`.
    cancel: CancelTracking<'a>,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.hub.forget(&self.pending);
        if !self.done {
            let e = McpError::new(ErrorCode::InternalError, "Request timed out");
            self.hub
                .push_opening(self.spec, error_text(self.id, &e), true);
        }
    }
}

/// The stream could not be opened when the call first waited.
struct StreamsFull;

impl McpServer {
    /// Run a live call to its end: the tool's notifications, its input
    /// requests and finally its response go to the stream. Poll it once:
    /// a call that finishes at its first poll without a notification (most
    /// tools) never opens its stream and answers `Some` whole response
    /// (JSON, as a buffered call would). Otherwise the events are the
    /// stream's, and it answers `None`: spawn it, and drop it after
    /// [`McpLimits::live_call_secs`](super::McpLimits::live_call_secs)
    /// (the stream then ends with a -32603 "Request timed out" response).
    // Spelled out: the `Send` bound is the contract (hosts spawn it).
    #[allow(clippy::manual_async_fn)]
    pub fn run_live(&self, call: LiveCall) -> impl Future<Output = Option<Response>> + Send + '_ {
        async move {
            let LiveCall {
                mut ctx,
                mut params,
                spec,
            } = call;
            // The tool runs again with the client's answers only if it can
            // ask for input at all; otherwise its arguments are moved to it.
            let params_reused = super::features::INPUT_METHODS
                .iter()
                .any(|(method, _)| ctx.can_request_input(method));
            let id = ctx.request_id.clone();
            let hub = &*self.streams;
            let mut guard = CallGuard {
                hub,
                spec: &spec,
                id: &id,
                pending: Vec::new(),
                done: false,
                cancel: CancelTracking::new(
                    &*self.sessions,
                    spec.session.as_deref().map(|sid| (sid, ctx.cancellation())),
                    &id,
                ),
            };
            // Whether the stream is open: it opens with the first event, or
            // when the call first waits (its reader then waits on it).
            let mut opened = false;
            let mut round = 0u32;
            let message = loop {
                let outcome = {
                    let mut dispatch =
                        pin!(self.dispatch("tools/call", &mut params, params_reused, &mut ctx));
                    let waited = &mut opened;
                    let cancel = &mut guard.cancel;
                    poll_fn(|cx: &mut TaskContext<'_>| {
                        let poll = dispatch.as_mut().poll(cx);
                        if poll.is_pending() {
                            if !*waited {
                                if !hub.ensure_open(&spec) {
                                    return Poll::Ready(Err(StreamsFull));
                                }
                                *waited = true;
                            }
                            // `notifications/cancelled` reaches the tool
                            // (ctx.is_cancelled) from its first wait on.
                            cancel.waiting();
                        }
                        poll.map(Ok)
                    })
                    .await
                };
                let Ok(outcome) = outcome else {
                    // Nobody can follow this call: it ends here.
                    guard.done = true;
                    let e = McpError::new(ErrorCode::InternalError, "Too many open streams");
                    return Some(
                        Response::json(503, error_text(&id, &e))
                            .with_header("Retry-After", crate::server::RETRY_AFTER_SECS),
                    );
                };
                opened |= ctx.live.as_ref().is_some_and(|l| l.opened);
                // Buffered (no live sink) notifications go out now.
                for note in ctx.notifications.drain(..) {
                    opened |= hub.push_opening(&spec, note.to_string(), false);
                }
                match outcome {
                    Ok(Dispatch::Input(input)) if round < MAX_INPUT_ROUNDS && params_reused => {
                        round += 1;
                        opened = true;
                        match self.ask_client(&mut guard, &input, round).await {
                            Ok(answers) => {
                                ctx.input_responses = Some(answers);
                                ctx.request_state = input.request_state.clone();
                            }
                            Err(e) => break error_text(&id, &e).into_bytes(),
                        }
                    }
                    Ok(Dispatch::Result(r)) => {
                        break json!({"jsonrpc": "2.0", "id": id_json(&id), "result": r})
                            .to_string()
                            .into_bytes();
                    }
                    // Encoded in one pass, as a buffered 2025-era call is.
                    Ok(Dispatch::Tool(r)) => break super::methods::tool_response_body(&id, &r),
                    Ok(Dispatch::NotFound) => {
                        break error_text(
                            &id,
                            &McpError::new(ErrorCode::MethodNotFound, "Method not found"),
                        )
                        .into_bytes();
                    }
                    // Scopes were checked before the call started; an
                    // endless input loop ends here.
                    Ok(Dispatch::Input(_) | Dispatch::InsufficientScope(_)) => {
                        break error_text(&id, &McpError::internal()).into_bytes();
                    }
                    Err(e) => break error_text(&id, &e).into_bytes(),
                }
            };
            if let Some(sid) = spec.session.as_deref() {
                for note in self.updated_notes(&ctx, sid).await {
                    opened |= hub.push_opening(&spec, note.to_string(), false);
                }
            }
            self.broadcast_updates(&ctx, spec.session.as_deref()).await;
            guard.done = true;
            if !opened {
                return Some(Response::json(200, message));
            }
            let message = String::from_utf8(message)
                .unwrap_or_else(|_| error_text(&id, &McpError::internal()));
            if hub.push_opening(&spec, message.clone(), true) {
                None
            } else {
                // The stream is gone (the table was full): answer whole.
                Some(Response::json(200, message))
            }
        }
    }

    /// Send `input`'s requests on the stream and wait for every answer.
    async fn ask_client(
        &self,
        guard: &mut CallGuard<'_>,
        input: &InputRequired,
        round: u32,
    ) -> Result<Map<String, Value>, McpError> {
        let hub = guard.hub;
        let spec = guard.spec;
        let mut ids = Vec::with_capacity(input.input_requests.len());
        for (n, request) in input.input_requests.values().enumerate() {
            let rpc_id = format!("{}.q{round}.{n}", spec.key);
            if !hub.expect_answer(&rpc_id, spec.session.as_deref(), spec.owner, spec.created) {
                return Err(McpError::new(
                    ErrorCode::InternalError,
                    "Too many pending input requests",
                ));
            }
            guard.pending.push(rpc_id.clone());
            let mut message = Map::new();
            message.insert("jsonrpc".into(), "2.0".into());
            message.insert("id".into(), Value::String(rpc_id.clone()));
            message.insert(
                "method".into(),
                request.get("method").cloned().unwrap_or(Value::Null),
            );
            if let Some(p) = request.get("params") {
                message.insert("params".into(), p.clone());
            }
            if !hub.push_opening(spec, Value::Object(message).to_string(), false) {
                return Err(McpError::new(
                    ErrorCode::InternalError,
                    "Too many open streams",
                ));
            }
            ids.push(rpc_id);
        }
        let answers = poll_fn(|cx: &mut TaskContext<'_>| hub.poll_answers(&ids, cx)).await;
        guard.pending.retain(|p| !ids.contains(p));
        let mut out = Map::new();
        for (key, answer) in input.input_requests.keys().zip(answers) {
            match answer {
                Ok(result) => {
                    out.insert(key.clone(), result);
                }
                Err(_) => {
                    return Err(McpError::new(
                        ErrorCode::InternalError,
                        "The client did not answer an input request",
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Run `live` to its end and return its events as one buffered SSE
    /// response: for hosts that cannot hold a response open. A tool asking
    /// for client input then fails (nobody can answer it meanwhile).
    pub async fn finish_buffered(&self, live: alloc::boxed::Box<LiveStream>) -> Response {
        let LiveStream {
            response,
            reader,
            call,
        } = *live;
        if let Some(mut call) = call {
            // Input requests would wait forever: refuse them up front.
            call.ctx.live = None;
            if let Some(whole) = self.run_live(call).await {
                return LiveStream::answer_whole(response, whole);
            }
        }
        reader.into_whole(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::cors::{CorsPolicy, Verdict};

    /// A call answered at once keeps what the router added to its stream's
    /// head (CORS), and none of the event stream's own fields.
    #[test]
    fn a_whole_answer_keeps_the_routers_fields() {
        let mut head = super::super::legacy::sse_head();
        CorsPolicy::decorate(Verdict::Allow("http://localhost:6274".into()), &mut head);
        let whole = LiveStream::answer_whole(head, Response::json(200, "{}"));
        assert_eq!(whole.header("content-type"), Some("application/json"));
        assert_eq!(
            whole.header("access-control-allow-origin"),
            Some("http://localhost:6274")
        );
        assert!(whole.header("access-control-expose-headers").is_some());
        assert_eq!(whole.header("vary"), Some("Origin"));
        assert_eq!(whole.header("cache-control"), None);
        assert_eq!(whole.header("x-accel-buffering"), None);
        assert_eq!(
            whole
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                .count(),
            1
        );
    }
}

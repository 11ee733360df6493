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
use core::task::Context as TaskContext;

use serde_json::{Map, Value, json};

use super::context::{Context, McpError};
use super::features::InputRequired;
use super::jsonrpc::{ErrorCode, RequestId};
use super::legacy::error_text;
use super::methods::Dispatch;
use super::server::{McpServer, id_json};
use super::session::SessionStore;
use super::streams::{StreamHub, StreamReader};
use crate::http::Response;
use crate::sync::Arc;
use crate::time::UnixTime;

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

/// A `tools/call` whose events go to a live stream. Owned, so a host can
/// move it into a spawned task.
#[derive(Debug)]
pub struct LiveCall {
    pub(crate) ctx: Context,
    pub(crate) params: Map<String, Value>,
    pub(crate) stream: String,
    pub(crate) session: Option<String>,
    pub(crate) owner: Option<[u8; 32]>,
    pub(crate) now: UnixTime,
}

impl PartialEq for LiveCall {
    fn eq(&self, other: &Self) -> bool {
        self.stream == other.stream
    }
}

impl Eq for LiveCall {}

/// Where a live handler's notifications go.
#[derive(Debug, Clone)]
pub(crate) struct LiveSink {
    pub(crate) hub: Arc<StreamHub>,
    pub(crate) stream: String,
}

/// Ends the stream with an error response if the call is dropped before it
/// finished (the host's time limit, shutdown), and forgets its pending
/// input requests.
struct CallGuard<'a> {
    hub: &'a StreamHub,
    stream: &'a str,
    id: &'a RequestId,
    pending: Vec<String>,
    done: bool,
    /// The session tracking this call for `notifications/cancelled`.
    tracked: Option<(&'a dyn SessionStore, &'a str)>,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if let Some((sessions, sid)) = self.tracked {
            sessions.untrack_request(sid, self.id);
        }
        self.hub.forget(&self.pending);
        if !self.done {
            let e = McpError::new(ErrorCode::InternalError, "Request timed out");
            self.hub.push(self.stream, error_text(self.id, &e), true);
        }
    }
}

impl McpServer {
    /// Run a live call to its end: the tool's notifications, its input
    /// requests and finally its response go to the stream. Spawn it; drop
    /// it after [`McpLimits::live_call_secs`](super::McpLimits::live_call_secs)
    /// (the stream then ends with a -32603 "Request timed out" response).
    // Spelled out: the `Send` bound is the contract (hosts spawn it).
    #[allow(clippy::manual_async_fn)]
    pub fn run_live(&self, call: LiveCall) -> impl Future<Output = ()> + Send + '_ {
        async move {
            let LiveCall {
                mut ctx,
                params,
                stream,
                session,
                owner,
                now,
            } = call;
            let id = ctx.request_id.clone();
            let hub = &*self.streams;
            let mut guard = CallGuard {
                hub,
                stream: &stream,
                id: &id,
                pending: Vec::new(),
                done: false,
                tracked: None,
            };
            // `notifications/cancelled` reaches the tool (ctx.is_cancelled).
            if let Some(sid) = session.as_deref()
                && self.sessions.track_request(sid, &id, ctx.cancellation())
            {
                guard.tracked = Some((&*self.sessions, sid));
            }
            let mut round = 0u32;
            let message = loop {
                let outcome = self.dispatch("tools/call", &params, &mut ctx).await;
                // Buffered (no live sink) notifications go out now.
                for note in ctx.notifications.drain(..) {
                    hub.push(&stream, note.to_string(), false);
                }
                match outcome {
                    Ok(Dispatch::Input(input)) if round < MAX_INPUT_ROUNDS => {
                        round += 1;
                        match self
                            .ask_client(&mut guard, &input, round, session.as_deref(), owner, now)
                            .await
                        {
                            Ok(answers) => {
                                ctx.input_responses = Some(answers);
                                ctx.request_state = input.request_state.clone();
                            }
                            Err(e) => break error_text(&id, &e),
                        }
                    }
                    Ok(Dispatch::Result(r)) => {
                        break json!({"jsonrpc": "2.0", "id": id_json(&id), "result": r})
                            .to_string();
                    }
                    // Encoded in one pass, as a buffered 2025-era call is.
                    Ok(Dispatch::Tool(r)) => {
                        let body = super::methods::tool_response_body(&id, &r);
                        break String::from_utf8(body)
                            .unwrap_or_else(|_| error_text(&id, &McpError::internal()));
                    }
                    Ok(Dispatch::NotFound) => {
                        break error_text(
                            &id,
                            &McpError::new(ErrorCode::MethodNotFound, "Method not found"),
                        );
                    }
                    // Scopes were checked before the stream opened; an
                    // endless input loop ends here.
                    Ok(Dispatch::Input(_) | Dispatch::InsufficientScope(_)) => {
                        break error_text(&id, &McpError::internal());
                    }
                    Err(e) => break error_text(&id, &e),
                }
            };
            if let Some(sid) = session.as_deref() {
                for note in self.updated_notes(&ctx, sid).await {
                    hub.push(&stream, note.to_string(), false);
                }
            }
            self.broadcast_updates(&ctx, session.as_deref()).await;
            hub.push(&stream, message, true);
            guard.done = true;
        }
    }

    /// Send `input`'s requests on the stream and wait for every answer.
    async fn ask_client(
        &self,
        guard: &mut CallGuard<'_>,
        input: &InputRequired,
        round: u32,
        session: Option<&str>,
        owner: Option<[u8; 32]>,
        now: UnixTime,
    ) -> Result<Map<String, Value>, McpError> {
        let hub = guard.hub;
        let mut ids = Vec::with_capacity(input.input_requests.len());
        for (n, request) in input.input_requests.values().enumerate() {
            let rpc_id = format!("{}.q{round}.{n}", guard.stream);
            if !hub.expect_answer(&rpc_id, session, owner, now) {
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
            hub.push(guard.stream, Value::Object(message).to_string(), false);
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
            self.run_live(call).await;
        }
        reader.into_whole(response)
    }
}

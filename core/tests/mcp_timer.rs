//! The MCP timer contract with a virtual clock: `poll_timeout` names the
//! next deadline, `handle_timeout` at that moment does the work (an
//! unanswered input request fails its call, a finished stream leaves, an
//! idle session ends), with no other request needed. Hour-long waits run in
//! microseconds.
// A host-side test: `std::task::Wake` needs std's `Arc` (core/clippy.toml
// keeps it out of the library).
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

#[path = "mcp_support.rs"]
mod mcp_support;

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use mcp_support::*;
use mcpauth_core::mcp::{
    BoxFuture, CallToolResult, ClientInputs, InputRequired, LogLevel, McpConfig, McpLimits,
    McpOutcome, McpServer, MemorySessionStore, NoSessionStore, ProtocolVersion, Registry,
    RequestId, SessionError, SessionInfo, SessionStore, TIMER_HORIZON_SECS, Tool,
};
use mcpauth_core::time::UnixTime;
use serde_json::json;

/// What the asking tools return: one `sampling/createMessage` request.
fn sampling_request() -> CallToolResult {
    CallToolResult::input_required(InputRequired::new().request(
        "q",
        "sampling/createMessage",
        json!({"messages": [], "maxTokens": 5}),
    ))
}

fn asking_server(limits: McpLimits) -> McpServer {
    let mut r = Registry::new();
    r.tool(
        Tool::new("ask", json!({"type": "object", "properties": {}})),
        |_ctx, _args| Box::pin(async move { Ok(sampling_request()) }),
    )
    .expect("tool");
    r.tool(
        Tool::new("quick", json!({"type": "object", "properties": {}})),
        |_ctx, _args| Box::pin(async move { Ok(CallToolResult::text("done")) }),
    )
    .expect("tool");
    r.tool(
        Tool::new("chatty", json!({"type": "object", "properties": {}})),
        |ctx, _args| {
            Box::pin(async move {
                ctx.progress(1.0, None, None);
                Ok(CallToolResult::text("done"))
            })
        },
    )
    .expect("tool");
    r.immediate_tool(
        Tool::new("instant", json!({"type": "object", "properties": {}})),
        |_ctx, _args| Ok(CallToolResult::text("done")),
    )
    .expect("tool");
    r.immediate_tool(
        Tool::new(
            "instant_chatty",
            json!({"type": "object", "properties": {}}),
        ),
        |ctx, _args| {
            ctx.progress(1.0, None, None);
            Ok(CallToolResult::text("done"))
        },
    )
    .expect("tool");
    r.immediate_tool(
        Tool::new("instant_ask", json!({"type": "object", "properties": {}})),
        |_ctx, _args| Ok(sampling_request()),
    )
    .expect("tool");
    let mut config = McpConfig::new("timer", "1");
    config.stateless = true;
    config.live_streams = true;
    config.limits = limits;
    McpServer::new(config, r, Box::new(NoSessionStore))
}

/// Counts its wake-ups (the host's timer task).
#[derive(Default)]
struct Wakes(std::sync::atomic::AtomicUsize);

impl Wake for Wakes {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn unanswered_input_request_fails_its_call_at_the_deadline() {
    let limits = McpLimits {
        input_wait_secs: 30,
        stream_retention_secs: 300,
        ..McpLimits::default()
    };
    let server = asking_server(limits);
    let wakes = std::sync::Arc::new(Wakes::default());
    server.set_timer_waker(Waker::from(wakes.clone()));
    assert_eq!(server.poll_timeout(), None);

    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "ask", "arguments": {}}});
    let req = post(&call.to_string()).with_header("MCP-Protocol-Version", "2025-11-25");
    let McpOutcome::Stream(live) = run(&server, &req, None) else {
        panic!("expected a live stream");
    };
    let mut live = *live;
    let mut cx = TaskContext::from_waker(Waker::noop());
    let mut running = pin!(server.run_live(live.call.take().expect("call")));
    assert!(
        running.as_mut().poll(&mut cx).is_pending(),
        "waits for the client"
    );
    assert!(
        wakes.0.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "timer woken"
    );

    // The next deadline is the input request's.
    assert_eq!(server.poll_timeout(), Some(T0.plus(30)));
    server.handle_timeout(T0.plus(29));
    assert!(running.as_mut().poll(&mut cx).is_pending());
    server.handle_timeout(T0.plus(30));
    assert!(running.as_mut().poll(&mut cx).is_ready(), "the call ended");

    let mut text = String::new();
    while let Poll::Ready(Some(bytes)) = live.reader.poll_events(&mut cx) {
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(text.contains("sampling/createMessage"), "{text}");
    assert!(
        text.contains("The client did not answer an input request"),
        "{text}"
    );

    // Finished and no longer read: the stream leaves after the retention
    // time, on the timer too.
    drop(live);
    assert_eq!(server.poll_timeout(), Some(T0.plus(300)));
    server.handle_timeout(T0.plus(300));
    assert_eq!(server.poll_timeout(), None, "nothing left to time");
}

#[test]
fn idle_session_ends_on_the_timer() {
    let mut config = McpConfig::new("timer", "1");
    config.limits.session_idle_secs = 60;
    let server = server_with(config);
    let sid = init(&server, "2025-06-18");
    assert_eq!(server.poll_timeout(), Some(T0.plus(60)));
    server.handle_timeout(T0.plus(59));
    assert_eq!(server.poll_timeout(), Some(T0.plus(60)));
    server.handle_timeout(T0.plus(60));
    assert_eq!(server.poll_timeout(), None, "the session ended");
    let ping = legacy(
        &sid,
        "2025-06-18",
        r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#,
    );
    // Even a request stamped before the deadline finds it gone.
    assert_eq!(resp_at(&server, &ping, T0.plus(1)).status, 404);
}

#[test]
fn virtual_clock_steps_to_each_deadline() {
    // quinn's `step()`: jump to the next wake-up until nothing is timed.
    let mut config = McpConfig::new("timer", "1");
    config.limits.session_idle_secs = 3600;
    let server = server_with(config);
    for _ in 0..3 {
        init(&server, "2025-06-18");
    }
    let mut steps = 0;
    let mut clock = UnixTime(0);
    while let Some(at) = server.poll_timeout() {
        assert!(at.secs() >= clock.secs(), "time never runs backwards");
        clock = at;
        server.handle_timeout(at);
        steps += 1;
        assert!(steps < 10, "the timer must make progress");
    }
    assert_eq!(clock, T0.plus(3600));
}

/// Run a `tools/call` of `tool` on a live stream to its first pending point
/// (or its end); true when it ended.
fn call_once(server: &McpServer, tool: &str) -> bool {
    let call = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                      "params": {"name": tool, "arguments": {},
                                 "_meta": {"progressToken": "p"}}});
    let req = post(&call.to_string()).with_header("MCP-Protocol-Version", "2025-11-25");
    let McpOutcome::Stream(mut live) = run(server, &req, None) else {
        panic!("expected a live stream");
    };
    let mut cx = TaskContext::from_waker(Waker::noop());
    let running = pin!(server.run_live(live.call.take().expect("call")));
    running.poll(&mut cx).is_ready()
}

/// An immediate tool's call is answered whole, without a live stream, with
/// live streams on: JSON when it logged nothing, its notifications then its
/// result as SSE when it did, -32603 when it asks for input (it cannot
/// wait for the answer). It opens no stream and adds no deadline.
#[test]
fn immediate_tools_are_answered_without_a_live_stream() {
    let server = asking_server(McpLimits::default());
    let answer = |tool: &str| {
        let call = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                          "params": {"name": tool, "arguments": {},
                                     "_meta": {"progressToken": "p"}}});
        let req = post(&call.to_string()).with_header("MCP-Protocol-Version", "2025-11-25");
        match run(&server, &req, None) {
            McpOutcome::Response(resp) => resp,
            _ => panic!("{tool}: expected a whole response"),
        }
    };
    let plain = answer("instant");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&plain.body).expect("JSON");
    assert_eq!(body["result"]["content"][0]["text"], "done");

    let chatty = answer("instant_chatty");
    assert_eq!(chatty.header("content-type"), Some("text/event-stream"));
    let text = String::from_utf8(chatty.body).expect("UTF-8");
    let progress = text
        .find("notifications/progress")
        .expect("the notification");
    let result = text.find(r#""text":"done""#).expect("the result");
    assert!(progress < result, "the notification first: {text}");

    let ask = answer("instant_ask");
    let body: serde_json::Value = serde_json::from_slice(&ask.body).expect("JSON");
    assert_eq!(body["error"]["code"], -32603);

    assert_eq!(server.poll_timeout(), None, "no stream, no deadline");
    // A tool registered with `Registry::tool` still goes live.
    assert!(call_once(&server, "quick"));
}

#[test]
fn only_deadlines_before_the_timers_sleep_wake_it() {
    // Every call with a stream adds a deadline (its stream's retention):
    // waking the host's timer task for each was a cross-thread wakeup per
    // request. A call that ends at once without a notification opens no
    // stream and adds none.
    let limits = McpLimits {
        input_wait_secs: 10,
        stream_retention_secs: 300,
        ..McpLimits::default()
    };
    assert!(limits.input_wait_secs < TIMER_HORIZON_SECS);
    assert!(limits.stream_retention_secs > TIMER_HORIZON_SECS);
    let server = asking_server(limits);
    let wakes = std::sync::Arc::new(Wakes::default());
    server.set_timer_waker(Waker::from(wakes.clone()));
    let woken = || wakes.0.load(std::sync::atomic::Ordering::SeqCst);

    assert!(call_once(&server, "quick"));
    assert_eq!(woken(), 0, "a call without a stream adds no deadline");
    assert_eq!(server.poll_timeout(), None);

    // Before the timer task first ran, its sleep is unknown: any deadline
    // wakes it.
    assert!(call_once(&server, "chatty"));
    let first = woken();
    assert!(first >= 1, "a timer that never ran is woken");

    // It ran and sleeps (at most the horizon): calls whose deadlines lie
    // beyond wake nobody.
    server.handle_timeout(T0);
    let _ = server.poll_timeout();
    for _ in 0..5 {
        assert!(call_once(&server, "chatty"));
    }
    assert_eq!(woken(), first, "deadlines past the horizon wake nobody");

    // An input request's deadline (10 s) is before the timer's sleep ends.
    assert!(!call_once(&server, "ask"));
    assert_eq!(woken(), first + 1, "an earlier deadline wakes the timer");
}

/// A [`MemorySessionStore`] that counts the requests tracked for
/// `notifications/cancelled`, and how many are tracked now.
struct CountingSessions {
    inner: MemorySessionStore,
    tracked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    held: std::sync::Arc<std::sync::atomic::AtomicIsize>,
}

impl SessionStore for CountingSessions {
    fn create<'a>(
        &'a self,
        id: &'a str,
        version: ProtocolVersion,
        owner: Option<[u8; 32]>,
        subject: Option<[u8; 32]>,
        now: UnixTime,
    ) -> BoxFuture<'a, Result<Option<String>, SessionError>> {
        self.inner.create(id, version, owner, subject, now)
    }
    fn get<'a>(&'a self, id: &'a str, now: UnixTime) -> BoxFuture<'a, Option<SessionInfo>> {
        self.inner.get(id, now)
    }
    fn set_initialized<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.set_initialized(id)
    }
    fn set_log_level<'a>(
        &'a self,
        id: &'a str,
        level: LogLevel,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.set_log_level(id, level)
    }
    fn set_client_inputs<'a>(
        &'a self,
        id: &'a str,
        inputs: ClientInputs,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.set_client_inputs(id, inputs)
    }
    fn subscribe<'a>(
        &'a self,
        id: &'a str,
        uri: &'a str,
        max: usize,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.subscribe(id, uri, max)
    }
    fn unsubscribe<'a>(
        &'a self,
        id: &'a str,
        uri: &'a str,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.unsubscribe(id, uri)
    }
    fn subscriptions<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Vec<String>> {
        self.inner.subscriptions(id)
    }
    fn subscribers<'a>(&'a self, uri: &'a str, max: usize) -> BoxFuture<'a, Vec<String>> {
        self.inner.subscribers(uri, max)
    }
    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool> {
        self.inner.remove(id)
    }
    fn next_expiry(&self) -> Option<UnixTime> {
        self.inner.next_expiry()
    }
    fn held(&self) -> Option<usize> {
        self.inner.held()
    }
    fn expire(&self, now: UnixTime) -> Vec<String> {
        self.inner.expire(now)
    }
    fn track_request(
        &self,
        id: &str,
        request: &RequestId,
        flag: mcpauth_core::sync::Arc<mcpauth_core::sync::AtomicBool>,
    ) -> bool {
        let tracked = self.inner.track_request(id, request, flag);
        if tracked {
            self.tracked
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.held.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        tracked
    }
    fn untrack_request(&self, id: &str, request: &RequestId) {
        self.held.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.untrack_request(id, request);
    }
    fn cancel_request(&self, id: &str, request: &RequestId) {
        self.inner.cancel_request(id, request);
    }
}

/// A server whose sessions count the requests tracked for
/// `notifications/cancelled` (in all, and now), and a session on it.
#[allow(clippy::type_complexity)]
fn tracking_server(
    live_streams: bool,
) -> (
    McpServer,
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::Arc<std::sync::atomic::AtomicIsize>,
) {
    let tracked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let held = std::sync::Arc::new(std::sync::atomic::AtomicIsize::new(0));
    let mut config = McpConfig::new("tracking", "1");
    config.live_streams = live_streams;
    let server = McpServer::new(
        config,
        registry(),
        Box::new(CountingSessions {
            inner: MemorySessionStore::new(8, 600),
            tracked: tracked.clone(),
            held: held.clone(),
        }),
    );
    let sid = init(&server, TRACKING_VERSION);
    (server, sid, tracked, held)
}

const TRACKING_VERSION: &str = "2025-11-25";

const QUICK_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
const WAITING_CALL: &str = r#"{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"wait_cancel","arguments":{}}}"#;
const CANCEL_IT: &str =
    r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow"}}"#;

fn load(c: &std::sync::atomic::AtomicUsize) -> usize {
    c.load(std::sync::atomic::Ordering::SeqCst)
}

fn load_held(c: &std::sync::atomic::AtomicIsize) -> isize {
    c.load(std::sync::atomic::Ordering::SeqCst)
}

/// A live call is tracked for `notifications/cancelled` from its first
/// wait: one that ends at its first poll never takes the session table's
/// lock for it (twice per call, under every worker), one that waits is
/// tracked once, until it ends, and its cancellation reaches it.
#[test]
fn a_live_call_is_tracked_for_cancellation_only_once_it_waits() {
    let (server, sid, tracked, held) = tracking_server(true);
    let mut cx = TaskContext::from_waker(Waker::noop());

    let quick = legacy(&sid, TRACKING_VERSION, QUICK_CALL);
    let McpOutcome::Stream(mut live) = run(&server, &quick, None) else {
        panic!("expected a live call");
    };
    let done = pin!(server.run_live(live.call.take().expect("call"))).poll(&mut cx);
    assert!(matches!(done, Poll::Ready(Some(_))), "answered whole");
    assert_eq!(load(&tracked), 0, "a call ending at once is never tracked");

    let slow = legacy(&sid, TRACKING_VERSION, WAITING_CALL);
    let McpOutcome::Stream(mut live) = run(&server, &slow, None) else {
        panic!("expected a live call");
    };
    let mut running = pin!(server.run_live(live.call.take().expect("call")));
    assert!(running.as_mut().poll(&mut cx).is_pending());
    assert!(running.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        (load(&tracked), load_held(&held)),
        (1, 1),
        "tracked once it waits"
    );
    let cancel = legacy(&sid, TRACKING_VERSION, CANCEL_IT);
    assert_eq!(resp(&server, &cancel).status, 202);
    assert!(
        running.as_mut().poll(&mut cx).is_ready(),
        "the cancellation reached the waiting tool"
    );
    assert_eq!(
        (load(&tracked), load_held(&held)),
        (1, 0),
        "untracked at its end"
    );
}

/// The same rule without live streams: a buffered call is tracked from
/// its first wait, and untracked when it is dropped while it waits (the
/// host drops it when its client goes away).
#[test]
fn a_buffered_call_is_tracked_once_it_waits_and_untracked_when_dropped() {
    let (server, sid, tracked, held) = tracking_server(false);
    let mut cx = TaskContext::from_waker(Waker::noop());

    let quick = legacy(&sid, TRACKING_VERSION, QUICK_CALL);
    assert_eq!(resp(&server, &quick).status, 200);
    assert_eq!(load(&tracked), 0, "a call ending at once is never tracked");

    let slow = legacy(&sid, TRACKING_VERSION, WAITING_CALL);
    {
        let mut rng = rng();
        let mut running = pin!(server.handle(&slow, None, T0, &mut rng));
        assert!(running.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            (load(&tracked), load_held(&held)),
            (1, 1),
            "tracked once it waits"
        );
    }
    assert_eq!(load_held(&held), 0, "untracked when dropped while waiting");
}

//! HTTP-level tests of the 2025 era (2025-03-26, 2025-06-18, 2025-11-25)
//! and of the rules shared by both eras (Origin/Host, Accept, framing).

#[path = "mcp_support.rs"]
mod support;

mod mcp {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context as TaskContext, Poll, Waker};

    use mcpauth_core::http::{Method, Request};
    use mcpauth_core::mcp::{
        LogLevel, McpConfig, McpOutcome, McpServer, MemorySessionStore, NoSessionStore,
        ScopeChallenge,
    };
    use mcpauth_core::principal::Principal;
    use mcpauth_core::time::UnixTime;
    use serde_json::{Value, json};

    use super::support::*;

    const V: &str = "2025-06-18";

    fn call_on(
        s: &mcpauth_core::mcp::McpServer,
        sid: &str,
        version: &str,
        id: i64,
        method: &str,
        params: serde_json::Value,
    ) -> mcpauth_core::http::Response {
        let b = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        resp(s, &legacy(sid, version, &b.to_string()))
    }

    #[test]
    fn initialize_negotiates_and_mints_a_session() {
        let s = server();
        let r = resp(&s, &post(INIT));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let sid = r.header("Mcp-Session-Id").expect("session id");
        assert!(sid.len() >= 32 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        let b = body(&r);
        assert_eq!(b["id"], 1);
        assert_eq!(b["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(b["result"]["serverInfo"]["name"], "test-server");
        assert_eq!(b["result"]["serverInfo"]["version"], "1.2.3");
        let caps = &b["result"]["capabilities"];
        assert!(caps["tools"].is_object() && caps["resources"].is_object());
        assert!(caps["prompts"].is_object() && caps["logging"].is_object());
        // Each supported version is echoed; an unknown one gets our latest.
        for v in ["2025-03-26", "2025-06-18", "2025-11-25"] {
            let r = resp(&s, &post(&INIT.replace(V, v)));
            assert_eq!(body(&r)["result"]["protocolVersion"], v);
        }
        for v in ["2099-01-01", "2026-07-28", "2024-11-05"] {
            let r = resp(&s, &post(&INIT.replace(V, v)));
            assert_eq!(body(&r)["result"]["protocolVersion"], "2025-11-25", "{v}");
        }
        // Two sessions never share an id.
        let a = resp(&s, &post(INIT));
        let b2 = resp(&s, &post(INIT));
        assert_ne!(a.header("Mcp-Session-Id"), b2.header("Mcp-Session-Id"));
    }

    #[test]
    fn initialize_params_are_checked() {
        let s = server();
        let r = resp(
            &s,
            &post(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#),
        );
        assert_eq!(err_of(&r), (200, -32602));
        assert!(r.header("Mcp-Session-Id").is_none());
        let r = resp(
            &s,
            &post(
                r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":[]}}"#,
            ),
        );
        assert_eq!(err_of(&r), (200, -32602));
        // initialize as a notification is not a handshake.
        let r = resp(
            &s,
            &post(r#"{"jsonrpc":"2.0","method":"initialize","params":{}}"#),
        );
        assert_eq!(r.status, 400);
    }

    #[test]
    fn sessions_missing_unknown_deleted_expired() {
        let s = server();
        let sid = init(&s, V);
        let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
        // Missing → 400, unknown → 404.
        let r = resp(&s, &post(list).with_header("MCP-Protocol-Version", V));
        assert_eq!(r.status, 400);
        assert_eq!(body(&r)["error"]["code"], -32600);
        assert_eq!(body(&r)["id"], 2);
        let r = resp(&s, &legacy("not-a-session", V, list));
        assert_eq!(r.status, 404);
        // Duplicate session headers are refused.
        let r = resp(
            &s,
            &legacy(&sid, V, list).with_header("Mcp-Session-Id", &sid),
        );
        assert_eq!(r.status, 400);
        // So are duplicate version headers, whatever their case.
        let r = resp(
            &s,
            &legacy(&sid, V, list).with_header("mcp-protocol-version", V),
        );
        assert_eq!(err_of(&r), (400, -32600));
        assert_eq!(body(&r)["id"], 2);
        // Valid.
        assert_eq!(resp(&s, &legacy(&sid, V, list)).status, 200);
        // DELETE ends it; afterwards 404.
        let del = Request::new(Method::Delete, "/mcp").with_header("Mcp-Session-Id", &sid);
        assert_eq!(resp(&s, &del).status, 200);
        assert_eq!(resp(&s, &del).status, 404);
        assert_eq!(resp(&s, &legacy(&sid, V, list)).status, 404);
        assert_eq!(resp(&s, &Request::new(Method::Delete, "/mcp")).status, 400);
        // Idle expiry against the host's clock.
        let sid = init(&s, V);
        let idle = s.config().limits.session_idle_secs;
        assert_eq!(
            resp_at(&s, &legacy(&sid, V, list), T0.plus(idle - 1)).status,
            200
        );
        // The idle timer restarted at T0 + idle - 1.
        assert_eq!(
            resp_at(&s, &legacy(&sid, V, list), T0.plus(2 * idle - 2)).status,
            200
        );
        assert_eq!(
            resp_at(&s, &legacy(&sid, V, list), T0.plus(4 * idle)).status,
            404
        );
    }

    #[test]
    fn full_session_table_ends_the_least_recently_used_session() {
        let mut config = McpConfig::new("test-server", "1.2.3");
        config.limits.sessions = 2;
        config.limits.session_idle_secs = 60;
        let s = server_with(config);
        let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
        let first = init(&s, V);
        let second = init(&s, V);
        // The first is used again: the second is now the idlest.
        assert_eq!(resp(&s, &legacy(&first, V, list)).status, 200);
        let third = init(&s, V);
        assert_eq!(resp(&s, &legacy(&second, V, list)).status, 404);
        assert_eq!(resp(&s, &legacy(&first, V, list)).status, 200);
        assert_eq!(resp(&s, &legacy(&third, V, list)).status, 200);
    }

    #[test]
    fn one_subject_holds_at_most_its_cap() {
        let mut config = McpConfig::new("test-server", "1.2.3");
        config.limits.sessions = 8;
        config.limits.sessions_per_subject = 2;
        let sessions = MemorySessionStore::for_limits(&config.limits);
        let s = McpServer::new(config, registry(), Box::new(sessions));
        let alice = principal(&[]);
        let bob = Principal {
            subject: "bob".into(),
            ..principal(&[])
        };
        let open = |who: &Principal| {
            let McpOutcome::Response(r) = run(&s, &post(INIT), Some(who)) else {
                panic!("response")
            };
            assert_eq!(r.status, 200);
            r.header("Mcp-Session-Id").expect("session").to_owned()
        };
        let status = |who: &Principal, sid: &str| {
            let ping = legacy(sid, V, r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#);
            match run(&s, &ping, Some(who)) {
                McpOutcome::Response(r) => r.status,
                _ => panic!("response"),
            }
        };
        let bobs = open(&bob);
        let a1 = open(&alice);
        let a2 = open(&alice);
        // Another client of the same user counts too.
        let other_client = Principal {
            client_id: "another-client".into(),
            ..principal(&[])
        };
        let a3 = open(&other_client);
        assert_eq!(status(&alice, &a1), 404, "alice's idlest session made room");
        assert_eq!(status(&alice, &a2), 200);
        assert_eq!(status(&other_client, &a3), 200);
        assert_eq!(
            status(&bob, &bobs),
            200,
            "bob's session is not alice's to end"
        );
    }

    /// The table at its default size, 1024 sessions of 32 subjects: each
    /// session is found by its own id, a guess near a real id is not, and
    /// one more session ends the least recently used one wherever it is
    /// held (the table is indexed by id, not kept in order of use).
    #[test]
    fn a_full_default_table_finds_every_session_and_ends_the_idlest() {
        let config = McpConfig::new("test-server", "1.2.3");
        let slots = config.limits.sessions;
        let per_subject = config.limits.sessions_per_subject;
        let sessions = MemorySessionStore::for_limits(&config.limits);
        let s = McpServer::new(config, registry(), Box::new(sessions));
        let mut rng = StreamRng(0x5EED);
        let mut at = |who: &Principal, req: &Request| {
            let shared = mcpauth_core::sync::Arc::new(who.clone());
            match block_on(s.handle(req, Some(&shared), T0, &mut rng)) {
                McpOutcome::Response(r) => r,
                _ => panic!("response"),
            }
        };
        let subject = |i: usize| Principal {
            subject: format!("user-{}", i / per_subject),
            ..principal(&[])
        };
        let ping = |sid: &str| legacy(sid, V, r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#);
        let ids: Vec<String> = (0..slots)
            .map(|i| {
                let r = at(&subject(i), &post(INIT));
                assert_eq!(r.status, 200, "session {i}");
                r.header("Mcp-Session-Id").expect("session").to_owned()
            })
            .collect();
        // Every session but one is used again; the one left is the idlest.
        let idlest = slots / 2 + 3;
        for (i, sid) in ids.iter().enumerate() {
            if i != idlest {
                assert_eq!(at(&subject(i), &ping(sid)).status, 200, "session {i}");
            }
        }
        let mut near = ids[0].clone().into_bytes();
        near[42] = if near[42] == b'A' { b'B' } else { b'A' };
        let near = String::from_utf8(near).expect("ascii");
        assert_eq!(at(&subject(0), &ping(&near)).status, 404);
        // A new subject's session makes room in the full table.
        let newcomer = Principal {
            subject: "newcomer".into(),
            ..principal(&[])
        };
        let r = at(&newcomer, &post(INIT));
        assert_eq!(r.status, 200);
        let new_sid = r.header("Mcp-Session-Id").expect("session").to_owned();
        assert_eq!(at(&subject(idlest), &ping(&ids[idlest])).status, 404);
        for (i, sid) in ids.iter().enumerate() {
            if i != idlest {
                assert_eq!(at(&subject(i), &ping(sid)).status, 200, "session {i}");
            }
        }
        assert_eq!(at(&newcomer, &ping(&new_sid)).status, 200);
    }

    /// An RNG stream that advances (session ids must not repeat across
    /// more than a thousand sessions). Tests only.
    struct StreamRng(u64);
    impl mcpauth_core::rand::SecureRandom for StreamRng {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), mcpauth_core::rand::RngError> {
            for b in dest {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                *b = self.0 as u8;
            }
            Ok(())
        }
    }

    #[test]
    fn rng_failure_fails_closed() {
        let s = server();
        let out = block_on(s.handle(&post(INIT), None, T0, &mut FailRng));
        let McpOutcome::Response(r) = out else {
            panic!("response")
        };
        assert_eq!(r.status, 503);
        assert!(r.header("Mcp-Session-Id").is_none());
    }

    /// Counts the RNG's draws (and draws like [`CountingRng`]).
    struct Draws(usize, CountingRng);
    impl mcpauth_core::rand::SecureRandom for Draws {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), mcpauth_core::rand::RngError> {
            self.0 += 1;
            self.1.fill(dest)
        }
    }

    /// Randomness is drawn for what needs it (a session id, SSE event ids)
    /// and never for a call answered as JSON, the common request.
    #[test]
    fn only_session_ids_and_streams_draw_randomness() {
        let s = server();
        let sid = init(&s, V);
        let draws = |req: &Request| {
            let mut rng = Draws(0, rng());
            let out = block_on(s.handle(req, None, T0, &mut rng));
            let McpOutcome::Response(r) = out else {
                panic!("response")
            };
            (rng.0, r)
        };
        let (n, r) = draws(&post(INIT));
        assert_eq!((n, r.status), (1, 200));
        assert!(r.header("Mcp-Session-Id").is_some());
        let call = |params: Value| {
            let b = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params});
            legacy(&sid, V, &b.to_string())
        };
        let (n, r) = draws(&call(json!({"name": "weather", "arguments": {}})));
        assert_eq!((n, r.status), (0, 200), "{:?}", r.header("Content-Type"));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        // Notifications before the result: an SSE answer, its event ids
        // prefixed with random bytes.
        let (n, r) = draws(&call(
            json!({"name": "echo", "arguments": {"text": "hi"}, "_meta": {"progressToken": "p"}}),
        ));
        assert_eq!((n, r.status), (1, 200));
        assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
    }

    #[test]
    fn protocol_version_header() {
        let s = server();
        let sid = init(&s, V);
        let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
        // Absent: the session's negotiated version applies.
        let r = resp(&s, &post(list).with_header("Mcp-Session-Id", &sid));
        assert_eq!(r.status, 200);
        // Unsupported → 400 with the supported list.
        let r = resp(&s, &legacy(&sid, "2024-01-01", list));
        assert_eq!(err_of(&r), (400, -32022));
        assert_eq!(body(&r)["error"]["data"]["supported"][0], "2026-07-28");
        // A supported version other than the session's → 400.
        let r = resp(&s, &legacy(&sid, "2025-03-26", list));
        assert_eq!(r.status, 400);
        // Two headers → 400.
        let r = resp(
            &s,
            &legacy(&sid, V, list).with_header("MCP-Protocol-Version", V),
        );
        assert_eq!(r.status, 400);
    }

    #[test]
    fn stateless_mode() {
        let mut config = McpConfig::new("test-server", "1.2.3");
        config.stateless = true;
        let s = mcpauth_core::mcp::McpServer::new(config, registry(), Box::new(NoSessionStore));
        let r = resp(&s, &post(INIT));
        assert_eq!(r.status, 200);
        assert!(r.header("Mcp-Session-Id").is_none());
        let r = resp(
            &s,
            &post(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#),
        );
        assert_eq!(r.status, 200);
        assert!(body(&r)["result"]["tools"].is_array());
        // No header: 2025-03-26, where invalid arguments are -32602.
        let bad = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#;
        assert_eq!(err_of(&resp(&s, &post(bad))), (200, -32602));
        // With 2025-11-25 they are a tool execution error.
        let r = resp(
            &s,
            &post(bad).with_header("MCP-Protocol-Version", "2025-11-25"),
        );
        assert_eq!(body(&r)["result"]["isError"], true);
        // DELETE and GET are not offered.
        let r = resp(
            &s,
            &Request::new(Method::Delete, "/mcp").with_header("Mcp-Session-Id", "x"),
        );
        assert_eq!(r.status, 405);
        assert_eq!(r.header("Allow"), Some("POST"));
    }

    #[test]
    fn stateless_logs_follow_the_configured_level() {
        let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
        let set_error =
            r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"error"}}"#;
        let stateless = |level| {
            let mut config = McpConfig::new("test-server", "1.2.3");
            config.stateless = true;
            config.stateless_log_level = level;
            mcpauth_core::mcp::McpServer::new(config, registry(), Box::new(NoSessionStore))
        };
        let versioned = |b| post(b).with_header("MCP-Protocol-Version", "2025-11-25");
        // Default: no logs, whatever the client set before (nothing is kept).
        let s = stateless(None);
        assert_eq!(resp(&s, &versioned(set_error)).status, 200);
        let r = resp(&s, &versioned(call));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        // Configured: the echo tool's info log rides with the result...
        let s = stateless(Some(LogLevel::Debug));
        let r = resp(&s, &versioned(call));
        assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
        let logs: Vec<Value> = sse(&r)
            .iter()
            .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
            .filter(|m| m["method"] == "notifications/message")
            .collect();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0]["params"]["level"], "info");
        // ...and above the configured level it stays silent.
        let s = stateless(Some(LogLevel::Warning));
        let r = resp(&s, &versioned(call));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        // Sessions ignore the stateless level: logs only after setLevel.
        let mut config = McpConfig::new("test-server", "1.2.3");
        config.stateless_log_level = Some(LogLevel::Debug);
        let s = server_with(config);
        let sid = init(&s, "2025-11-25");
        let r = resp(&s, &legacy(&sid, "2025-11-25", call));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
    }

    fn subscribe_body(method: &str, id: u32, uri: &str) -> String {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {"uri": uri}}).to_string()
    }

    #[test]
    fn resource_subscriptions_are_bounded_per_session() {
        const V: &str = "2025-11-25";
        let mut config = McpConfig::new("test-server", "1.2.3");
        config.limits.max_subscriptions = 2;
        config.limits.max_subscription_uri = 64;
        let s = server_with(config);
        let r = resp(&s, &post(INIT));
        assert_eq!(
            body(&r)["result"]["capabilities"]["resources"]["subscribe"],
            true
        );
        let sid = init(&s, V);
        let call = |method: &str, id, uri: &str| {
            resp(&s, &legacy(&sid, V, &subscribe_body(method, id, uri)))
        };
        let r = call("resources/subscribe", 1, "ui://widget/echo.html");
        assert_eq!(r.status, 200);
        assert_eq!(body(&r)["result"], json!({}));
        // Idempotent; template matches count as known resources.
        assert_eq!(
            body(&call("resources/subscribe", 2, "ui://widget/echo.html"))["result"],
            json!({})
        );
        assert_eq!(
            body(&call("resources/subscribe", 3, "blob:///a"))["result"],
            json!({})
        );
        // Full: a third URI is refused, a held one is still fine.
        assert_eq!(
            err_of(&call("resources/subscribe", 4, "ui://app/main.html")),
            (200, -32600)
        );
        assert_eq!(
            body(&call("resources/subscribe", 5, "blob:///a"))["result"],
            json!({})
        );
        // Unsubscribing frees a slot (and is idempotent).
        assert_eq!(
            body(&call("resources/unsubscribe", 6, "blob:///a"))["result"],
            json!({})
        );
        assert_eq!(
            body(&call("resources/unsubscribe", 7, "blob:///a"))["result"],
            json!({})
        );
        assert_eq!(
            body(&call("resources/subscribe", 8, "ui://app/main.html"))["result"],
            json!({})
        );
        // Unknown URI, overlong URI, missing URI.
        let r = call("resources/subscribe", 9, "file:///nope");
        assert_eq!(err_of(&r), (200, -32002));
        assert_eq!(body(&r)["error"]["data"]["uri"], "file:///nope");
        let long = format!("blob:///{}", "x".repeat(64));
        assert_eq!(
            err_of(&call("resources/subscribe", 10, &long)),
            (200, -32602)
        );
        let r = resp(
            &s,
            &legacy(
                &sid,
                V,
                r#"{"jsonrpc":"2.0","id":11,"method":"resources/subscribe","params":{}}"#,
            ),
        );
        assert_eq!(err_of(&r), (200, -32602));
        // Another session starts with an empty table.
        let other = init(&s, V);
        let r = resp(
            &s,
            &legacy(
                &other,
                V,
                &subscribe_body("resources/subscribe", 1, "blob:///b"),
            ),
        );
        assert_eq!(body(&r)["result"], json!({}));
    }

    #[test]
    fn stateless_mode_offers_no_subscriptions() {
        let mut config = McpConfig::new("test-server", "1.2.3");
        config.stateless = true;
        let s = mcpauth_core::mcp::McpServer::new(config, registry(), Box::new(NoSessionStore));
        let r = resp(&s, &post(INIT));
        assert_eq!(
            body(&r)["result"]["capabilities"]["resources"]["subscribe"],
            false
        );
        for m in ["resources/subscribe", "resources/unsubscribe"] {
            let r = resp(&s, &post(&subscribe_body(m, 1, "ui://widget/echo.html")));
            assert_eq!(err_of(&r), (200, -32601), "{m}");
        }
    }

    #[test]
    fn resource_updates_reach_the_subscribed_session_with_its_response() {
        use mcpauth_core::mcp::{
            CallToolResult, MemorySessionStore, Registry, Resource, ResourceContents, Tool,
        };
        const V: &str = "2025-11-25";
        let mut reg = Registry::new();
        reg.resource(
            Resource::new("test://counter", "counter", None),
            |_ctx, uri: &str| {
                let uri = uri.to_owned();
                Box::pin(async move { Ok(vec![ResourceContents::text(uri, None, "1")]) })
            },
        )
        .expect("resource");
        reg.tool(
            Tool::new("bump", json!({"type": "object"})),
            |ctx, _args| {
                Box::pin(async move {
                    ctx.resource_updated("test://counter");
                    ctx.resource_updated("test://counter");
                    ctx.resource_updated("test://other");
                    Ok(CallToolResult::text("bumped"))
                })
            },
        )
        .expect("tool");
        let s = mcpauth_core::mcp::McpServer::new(
            McpConfig::new("t", "1"),
            reg,
            Box::new(MemorySessionStore::new(4, 60)),
        );
        let bump = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"bump"}}"#;
        let watcher = init(&s, V);
        let r = resp(
            &s,
            &legacy(
                &watcher,
                V,
                &subscribe_body("resources/subscribe", 1, "test://counter"),
            ),
        );
        assert_eq!(body(&r)["result"], json!({}));
        // The subscribed session's own call carries one update, then the result.
        let r = resp(&s, &legacy(&watcher, V, bump));
        assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
        let msgs: Vec<Value> = sse(&r)
            .iter()
            .filter_map(|(_, d)| serde_json::from_str(d).ok())
            .collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert_eq!(msgs[0]["method"], "notifications/resources/updated");
        assert_eq!(msgs[0]["params"]["uri"], "test://counter");
        assert_eq!(msgs[1]["result"]["content"][0]["text"], "bumped");
        // An unsubscribed session is not told; after unsubscribe neither.
        let other = init(&s, V);
        let r = resp(&s, &legacy(&other, V, bump));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let r = resp(
            &s,
            &legacy(
                &watcher,
                V,
                &subscribe_body("resources/unsubscribe", 2, "test://counter"),
            ),
        );
        assert_eq!(body(&r)["result"], json!({}));
        let r = resp(&s, &legacy(&watcher, V, bump));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
    }

    #[test]
    fn post_accept_content_type_and_methods() {
        let s = server();
        let base = Request::new(Method::Post, "/mcp").with_body(INIT.as_bytes().to_vec());
        for accept in [
            None,
            Some("application/json"),
            Some("text/event-stream"),
            Some("text/html"),
            // A range with quality 0 is refused, not accepted.
            Some("application/json, text/event-stream;q=0"),
            Some("application/json; q=0.000 , text/event-stream"),
            Some("application/jsonx, text/event-stream"),
        ] {
            let mut r = base.clone();
            if let Some(a) = accept {
                r = r.with_header("Accept", a);
            }
            let out = resp(&s, &r);
            assert_eq!(out.status, 406, "{accept:?}");
            assert_eq!(body(&out)["error"]["code"], -32600);
        }
        for accept in [
            "*/*",
            "application/json;q=0.9, text/event-stream",
            "text/event-stream, application/*",
            " Application/JSON ;charset=utf-8,\tTEXT/Event-Stream ; q=0.5",
        ] {
            assert_eq!(
                resp(&s, &base.clone().with_header("Accept", accept)).status,
                200,
                "{accept}"
            );
        }
        let r = resp(
            &s,
            &base
                .clone()
                .with_header("Accept", "*/*")
                .with_header("Content-Type", "text/plain"),
        );
        assert_eq!(r.status, 415);
        let r = resp(
            &s,
            &base
                .clone()
                .with_header("Accept", "*/*")
                .with_header("Content-Type", "application/json; charset=utf-8"),
        );
        assert_eq!(r.status, 200);
        for (content_type, status) in [(" Application/JSON ", 200), ("application/json-seq", 415)] {
            let r = resp(
                &s,
                &base
                    .clone()
                    .with_header("Accept", "*/*")
                    .with_header("Content-Type", content_type),
            );
            assert_eq!(r.status, status, "{content_type}");
        }
        // GET: no server stream offered → 405; other methods → 405.
        let r = resp(
            &s,
            &Request::new(Method::Get, "/mcp").with_header("Accept", "text/event-stream"),
        );
        assert_eq!(r.status, 405);
        assert_eq!(r.header("Allow"), Some("POST, DELETE"));
        assert_eq!(resp(&s, &Request::new(Method::Other, "/mcp")).status, 405);
        // Another path is not ours.
        assert_eq!(resp(&s, &Request::new(Method::Post, "/other")).status, 404);
    }

    #[test]
    fn framing_errors_are_4xx_with_jsonrpc_bodies() {
        let s = server();
        let r = resp(&s, &post("{not json"));
        assert_eq!(err_of(&r), (400, -32700));
        assert_eq!(body(&r).get("id"), Some(&serde_json::Value::Null));
        // With a modern version header the unknown id is omitted instead.
        let r = resp(
            &s,
            &post("{not json").with_header("MCP-Protocol-Version", "2026-07-28"),
        );
        assert_eq!(err_of(&r), (400, -32700));
        assert!(body(&r).get("id").is_none());
        let r = resp(&s, &post(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#));
        assert_eq!(err_of(&r), (400, -32600));
        let r = resp(
            &s,
            &post(r#"{"jsonrpc":"2.0","id":9,"method":"ping","id":10}"#),
        );
        assert_eq!(err_of(&r), (400, -32600));
        let r = resp(
            &s,
            &post(&format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
        );
        assert_eq!(err_of(&r), (400, -32600));
        let mut big = post("");
        big.body = vec![b' '; 2 * 1024 * 1024];
        let r = resp(&s, &big);
        assert_eq!(err_of(&r), (413, -32600));
        let mut bad_utf8 = post("");
        bad_utf8.body = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}".to_vec();
        assert_eq!(err_of(&resp(&s, &bad_utf8)), (400, -32700));
        // Duplicate interpreted params members.
        let sid = init(&s, V);
        let r = resp(
            &s,
            &legacy(
                &sid,
                V,
                r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","name":"admin"}}"#,
            ),
        );
        assert_eq!(err_of(&r), (400, -32602));
        assert_eq!(body(&r)["id"], 3);
        // Messages never leak internals: the message is fixed text.
        assert!(!String::from_utf8_lossy(&r.body).contains("serde"));
    }

    #[test]
    fn notifications_and_client_responses_get_202() {
        let s = server();
        let sid = init(&s, V);
        for b in [
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":77}}"#,
            r#"{"jsonrpc":"2.0","id":"s1","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":"s2","error":{"code":-1,"message":"no"}}"#,
        ] {
            let r = resp(&s, &legacy(&sid, V, b));
            assert_eq!(r.status, 202, "{b}");
            assert!(r.body.is_empty());
        }
    }

    #[test]
    fn ping_logging_unknown_method() {
        let s = server();
        let sid = init(&s, V);
        let r = call_on(&s, &sid, V, 1, "ping", json!({}));
        assert_eq!(body(&r), json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
        let r = call_on(&s, &sid, V, 2, "nope/nope", json!({}));
        assert_eq!(err_of(&r), (200, -32601));
        assert_eq!(body(&r)["id"], 2);
        let r = call_on(&s, &sid, V, 3, "logging/setLevel", json!({"level": "loud"}));
        assert_eq!(err_of(&r), (200, -32602));
        // No level set: no logs, so a plain JSON response.
        let echo = json!({"name": "echo", "arguments": {"text": "a"}});
        let r = call_on(&s, &sid, V, 4, "tools/call", echo.clone());
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        // Level info: the echo tool's info log makes the response a stream.
        let r = call_on(&s, &sid, V, 4, "logging/setLevel", json!({"level": "info"}));
        assert_eq!(body(&r)["result"], json!({}));
        let r = call_on(&s, &sid, V, 4, "tools/call", echo);
        assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
        // After setLevel error, info logs are filtered: plain JSON.
        let r = call_on(
            &s,
            &sid,
            V,
            5,
            "logging/setLevel",
            json!({"level": "error"}),
        );
        assert_eq!(body(&r)["result"], json!({}));
        let r = call_on(
            &s,
            &sid,
            V,
            6,
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "a"}}),
        );
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(body(&r)["result"]["content"][0]["text"], "a");
        // server/discover belongs to the 2026 era.
        let r = call_on(&s, &sid, V, 7, "server/discover", json!({}));
        assert_eq!(err_of(&r), (200, -32601));
    }

    #[test]
    fn progress_and_logs_stream_as_sse() {
        let s = server();
        for (version, priming) in [("2025-06-18", false), ("2025-11-25", true)] {
            let sid = init(&s, version);
            let level = json!({"level": "debug"});
            assert_eq!(
                call_on(&s, &sid, version, 8, "logging/setLevel", level).status,
                200
            );
            let r = call_on(
                &s,
                &sid,
                version,
                9,
                "tools/call",
                json!({"name": "echo", "arguments": {"text": "hi"}, "_meta": {"progressToken": "p1"}}),
            );
            assert_eq!(r.status, 200);
            assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
            assert_eq!(r.header("X-Accel-Buffering"), Some("no"));
            assert!(String::from_utf8_lossy(&r.body).starts_with("retry: 3000\n\n"));
            let events = sse(&r);
            let mut it = events.iter();
            if priming {
                let (id, data) = it.next().expect("priming event");
                assert!(id.is_some());
                assert_eq!(data, "");
            }
            let json: Vec<serde_json::Value> = it
                .map(|(id, d)| {
                    assert!(id.is_some(), "2025-era events carry ids");
                    serde_json::from_str(d).expect("event json")
                })
                .collect();
            assert_eq!(json.len(), 3);
            assert_eq!(json[0]["method"], "notifications/progress");
            assert_eq!(
                json[0]["params"],
                json!({"progressToken": "p1", "progress": 1.0, "total": 2.0, "message": "half"})
            );
            assert_eq!(json[1]["method"], "notifications/message");
            assert_eq!(json[1]["params"]["level"], "info");
            assert_eq!(json[2]["id"], 9);
            assert_eq!(json[2]["result"]["content"][0]["text"], "hi");
            let ids: std::collections::HashSet<_> =
                events.iter().filter_map(|e| e.0.clone()).collect();
            assert_eq!(ids.len(), events.len(), "event ids are unique");
        }
    }

    #[test]
    fn tools_list_paginates_and_passes_meta_through() {
        let mut config = McpConfig::new("test-server", "1.2.3");
        config.limits.page_size = 2;
        let s = server_with(config);
        let sid = init(&s, V);
        let mut names = Vec::new();
        let mut cursor = None;
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let b = body(&call_on(&s, &sid, V, 1, "tools/list", params));
            let tools = b["result"]["tools"].as_array().expect("tools").clone();
            assert!(tools.len() <= 2);
            names.extend(
                tools
                    .iter()
                    .map(|t| t["name"].as_str().unwrap_or_default().to_owned()),
            );
            match b["result"]["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(
            names,
            [
                "echo",
                "weather",
                "bad_output",
                "admin",
                "fails",
                "wait_cancel"
            ]
        );
        let r = call_on(&s, &sid, V, 2, "tools/list", json!({"cursor": "garbage"}));
        assert_eq!(err_of(&r), (200, -32602));
        let r = call_on(&s, &sid, V, 2, "tools/list", json!({"cursor": "o999"}));
        assert_eq!(err_of(&r), (200, -32602));
        let b = body(&call_on(&s, &sid, V, 3, "tools/list", json!({})));
        let echo = &b["result"]["tools"][0];
        assert_eq!(
            echo["_meta"]["openai/outputTemplate"],
            "ui://widget/echo.html"
        );
        assert_eq!(echo["_meta"]["openai/toolInvocation/invoking"], "Echoing");
        assert_eq!(echo["annotations"]["readOnlyHint"], true);
        assert_eq!(echo["inputSchema"]["required"][0], "text");
    }

    #[test]
    fn tools_call_validation_and_results() {
        let s = server();
        let sid = init(&s, V);
        let c = |id, params| call_on(&s, &sid, V, id, "tools/call", params);
        assert_eq!(err_of(&c(1, json!({"name": "nope"}))), (200, -32602));
        assert_eq!(
            body(&c(1, json!({"name": "nope"})))["error"]["message"],
            "Unknown tool: nope"
        );
        assert_eq!(err_of(&c(2, json!({}))), (200, -32602));
        assert_eq!(
            err_of(&c(3, json!({"name": "echo", "arguments": {"text": 5}}))),
            (200, -32602)
        );
        assert_eq!(
            err_of(&c(3, json!({"name": "echo", "arguments": [1]}))),
            (200, -32602)
        );
        // Output schema: structured content validated; a bad one is an internal error.
        let b = body(&c(
            4,
            json!({"name": "weather", "arguments": {"location": "x"}}),
        ));
        assert_eq!(b["result"]["structuredContent"]["temperature"], 22.5);
        assert_eq!(b["result"]["content"][0]["type"], "text");
        assert_eq!(b["result"]["isError"], false);
        let r = c(5, json!({"name": "bad_output"}));
        assert_eq!(err_of(&r), (200, -32603));
        assert_eq!(body(&r)["error"]["message"], "Internal error");
        let r = c(6, json!({"name": "fails"}));
        assert_eq!(
            body(&r)["error"],
            json!({"code": -32603, "message": "Internal error"})
        );
        // 2025-11-25: invalid arguments are a tool execution error.
        let sid2 = init(&s, "2025-11-25");
        let r = call_on(
            &s,
            &sid2,
            "2025-11-25",
            7,
            "tools/call",
            json!({"name": "echo", "arguments": {}}),
        );
        let b = body(&r);
        assert_eq!(b["result"]["isError"], true);
        assert!(
            b["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("/text")
        );
    }

    /// A 2025-era `tools/call` whose params fit their fields is read
    /// without a map of them; any other is read as a map. Both readings
    /// answer as the map alone did: each case's answer here is the one the
    /// server gave before the fields were read apart.
    #[test]
    fn tools_call_params_are_answered_alike_however_they_are_read() {
        let s = server();
        let sid = init(&s, V);
        let cases: [(&str, u16, Option<i64>, &str); 14] = [
            (
                r#"{"name":"echo","arguments":{"text":"hi"}}"#,
                200,
                None,
                "hi",
            ),
            (
                r#"{"name":"ec\u0068o","arguments":{"text":"hi"}}"#,
                200,
                None,
                "hi",
            ),
            (
                r#"{"n\u0061me":"echo","\u0061rguments":{"text":"hi"}}"#,
                200,
                None,
                "hi",
            ),
            (
                "{ \"name\" :\t\"echo\" ,\n \"arguments\" : { \"text\" : \"hi\" } }",
                200,
                None,
                "hi",
            ),
            (
                r#"{"name":"echo","arguments":{"text":"hi"},"_meta":{"note":1},"other":[1,{"x":2}]}"#,
                200,
                None,
                "hi",
            ),
            (
                r#"{"name":"echo","arguments":null}"#,
                200,
                Some(-32602),
                "Invalid arguments for tool echo: /text: required property is missing",
            ),
            (
                r#"{"name":"echo"}"#,
                200,
                Some(-32602),
                "Invalid arguments for tool echo: /text: required property is missing",
            ),
            (
                r#"{"name":"echo","arguments":[1]}"#,
                200,
                Some(-32602),
                "Tool arguments must be an object",
            ),
            (
                r#"{"name":5}"#,
                200,
                Some(-32602),
                "Missing or invalid string parameter: name",
            ),
            (
                r#"{"arguments":{}}"#,
                200,
                Some(-32602),
                "Missing or invalid string parameter: name",
            ),
            (
                r#"{"name":"echo","_meta":null}"#,
                400,
                Some(-32602),
                "_meta must be an object",
            ),
            (
                r#"{"name":"echo","_meta":[]}"#,
                400,
                Some(-32602),
                "_meta must be an object",
            ),
            (
                r#"{"name":"echo","name":"nope"}"#,
                400,
                Some(-32602),
                "Duplicate member in params",
            ),
            (
                r#"{"name":"echo","arguments":{"text":"hi"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#,
                400,
                Some(-32020),
                "Header mismatch: MCP-Protocol-Version does not match _meta protocolVersion",
            ),
        ];
        for (params, status, code, text) in cases {
            let b =
                format!(r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{params}}}"#);
            let r = resp(&s, &legacy(&sid, V, &b));
            let answer = body(&r);
            assert_eq!(r.status, status, "{params}: {answer}");
            match code {
                None => assert_eq!(answer["result"]["content"][0]["text"], text, "{params}"),
                Some(code) => {
                    assert_eq!(answer["error"]["code"], code, "{params}: {answer}");
                    assert_eq!(answer["error"]["message"], text, "{params}: {answer}");
                }
            }
        }
        // `_meta` read as a field reaches the handler's context.
        let b = r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"progressToken":"p"}}}"#;
        let events = sse(&resp(&s, &legacy(&sid, V, b)));
        assert!(
            events
                .iter()
                .any(|(_, d)| d.contains(r#""progressToken":"p""#)),
            "{events:?}"
        );
        assert!(
            events.iter().any(|(_, d)| d.contains(r#""text":"hi""#)),
            "{events:?}"
        );
    }

    /// A `tools/call` refuses a duplicate of any member the server reads
    /// in some request (a reader would take one of the two), whether the
    /// params are read into their fields or as a map, escaped keys too.
    #[test]
    fn tools_call_refuses_every_duplicated_params_member() {
        let s = server();
        let sid = init(&s, V);
        let keys = [
            "name",
            "uri",
            "arguments",
            "_meta",
            "cursor",
            "level",
            "protocolVersion",
            "ref",
            "requestId",
            "inputResponses",
            "requestState",
        ];
        for key in keys {
            let escaped = format!("\\u{:04x}{}", key.as_bytes()[0], &key[1..]);
            for second in [key.to_owned(), escaped] {
                let params = format!(
                    r#"{{"name":"echo","arguments":{{"text":"hi"}},"_meta":{{}},"{key}":{{}},"{second}":{{}}}}"#
                );
                let b = format!(
                    r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{params}}}"#
                );
                let r = resp(&s, &legacy(&sid, V, &b));
                let answer = body(&r);
                assert_eq!(r.status, 400, "{params}: {answer}");
                assert_eq!(answer["error"]["code"], -32602, "{params}: {answer}");
                assert_eq!(
                    answer["error"]["message"], "Duplicate member in params",
                    "{params}"
                );
            }
        }
    }

    #[test]
    fn tool_scopes_step_up() {
        let s = server();
        let sid = init(&s, V);
        let req = legacy(
            &sid,
            V,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin"}}"#,
        );
        let want = McpOutcome::InsufficientScope {
            required: vec!["admin".into(), "mcp".into()],
        };
        // Without a principal (authorization off) a scoped tool is refused.
        assert_eq!(run(&s, &req, None), want);
        // The session belongs to alice; her token's scopes may change (step-up).
        let out = run(&s, &post(INIT), Some(&principal(&["mcp"])));
        let sid = out
            .response()
            .and_then(|r| r.header("Mcp-Session-Id"))
            .expect("sid");
        let req = legacy(
            sid,
            V,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin"}}"#,
        );
        assert_eq!(run(&s, &req, Some(&principal(&["mcp"]))), want);
        let ok = run(&s, &req, Some(&principal(&["mcp", "admin"])));
        let r = ok.response().expect("response");
        assert_eq!(body(r)["result"]["content"][0]["text"], "alice");
        // ChatGPT form: a tool error carrying the challenge in _meta.
        let mut config = McpConfig::new("test-server", "1.2.3");
        config.scope_challenge = ScopeChallenge::ToolErrorMeta;
        config.resource_metadata_url =
            Some("https://mcp.example/.well-known/oauth-protected-resource".into());
        let s = server_with(config);
        let sid = init(&s, V);
        let req = legacy(
            &sid,
            V,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin"}}"#,
        );
        let out = run(&s, &req, None);
        let r = out.response().expect("response");
        assert_eq!(r.status, 200);
        let b = body(r);
        assert_eq!(b["result"]["isError"], true);
        let challenge = b["result"]["_meta"]["mcp/www_authenticate"][0]
            .as_str()
            .expect("challenge");
        assert!(challenge.starts_with("Bearer resource_metadata=\"https://mcp.example/"));
        assert!(challenge.contains("error=\"insufficient_scope\""));
        assert!(challenge.contains("scope=\"admin mcp\""));
    }

    #[test]
    fn resources_prompts_completion() {
        let s = server();
        let sid = init(&s, V);
        let c = |id, method, params| call_on(&s, &sid, V, id, method, params);
        let b = body(&c(1, "resources/list", json!({})));
        assert_eq!(b["result"]["resources"][0]["uri"], "ui://widget/echo.html");
        assert_eq!(
            b["result"]["resources"][0]["mimeType"],
            "text/html+skybridge"
        );
        let b = body(&c(2, "resources/templates/list", json!({})));
        assert_eq!(
            b["result"]["resourceTemplates"][0]["uriTemplate"],
            "blob:///{name}"
        );
        let b = body(&c(
            3,
            "resources/read",
            json!({"uri": "ui://widget/echo.html"}),
        ));
        assert_eq!(
            b["result"]["contents"][0],
            json!({"uri": "ui://widget/echo.html", "mimeType": "text/html+skybridge", "text": "<div></div>"})
        );
        let b = body(&c(
            4,
            "resources/read",
            json!({"uri": "ui://app/main.html"}),
        ));
        assert_eq!(
            b["result"]["contents"][0]["mimeType"],
            "text/html;profile=mcp-app"
        );
        let b = body(&c(5, "resources/read", json!({"uri": "blob:///x"})));
        assert_eq!(b["result"]["contents"][0]["blob"], "AAEC/w==");
        // Not found: -32002 with the uri in this era.
        for uri in ["file:///nope", "blob:///missing", "blob:///a/b"] {
            let r = c(6, "resources/read", json!({"uri": uri}));
            assert_eq!(err_of(&r), (200, -32002), "{uri}");
            assert_eq!(body(&r)["error"]["data"]["uri"], uri);
        }
        let b = body(&c(7, "prompts/list", json!({})));
        assert_eq!(
            b["result"]["prompts"][0]["arguments"][0],
            json!({"name": "code", "required": true})
        );
        let b = body(&c(
            8,
            "prompts/get",
            json!({"name": "review", "arguments": {"code": "x"}}),
        ));
        assert_eq!(b["result"]["messages"][0]["content"]["text"], "Review: x");
        assert_eq!(
            err_of(&c(9, "prompts/get", json!({"name": "review"}))),
            (200, -32602)
        );
        assert_eq!(
            err_of(&c(
                9,
                "prompts/get",
                json!({"name": "review", "arguments": {"code": 1}})
            )),
            (200, -32602)
        );
        assert_eq!(
            err_of(&c(9, "prompts/get", json!({"name": "nope"}))),
            (200, -32602)
        );
        let b = body(&c(
            10,
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "review"}, "argument": {"name": "code", "value": "x"}}),
        ));
        assert_eq!(
            b["result"]["completion"],
            json!({"values": [], "total": 0, "hasMore": false})
        );
        assert_eq!(
            err_of(&c(11, "completion/complete", json!({}))),
            (200, -32602)
        );
    }

    #[test]
    fn cancellation_reaches_a_running_tool() {
        let s = server();
        let sid = init(&s, V);
        let call = legacy(
            &sid,
            V,
            r#"{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"wait_cancel"}}"#,
        );
        let cancel = legacy(
            &sid,
            V,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow","reason":"user"}}"#,
        );
        let mut rng = CountingRng(5);
        let mut running = pin!(s.handle(&call, None, T0, &mut rng));
        let mut cx = TaskContext::from_waker(Waker::noop());
        assert!(running.as_mut().poll(&mut cx).is_pending());
        assert!(running.as_mut().poll(&mut cx).is_pending());
        let r = resp(&s, &cancel);
        assert_eq!(r.status, 202);
        let Poll::Ready(McpOutcome::Response(r)) = running.as_mut().poll(&mut cx) else {
            panic!("the tool saw the cancellation");
        };
        assert_eq!(body(&r)["result"]["content"][0]["text"], "cancelled");
        let _ = UnixTime(0);
    }

    /// `Origin` is the router's CORS policy (`server::cors`); the MCP server
    /// checks `Host` against its allow-list.
    #[test]
    fn host_allow_list() {
        let mut config = McpConfig::new("test-server", "1.2.3");
        config.allowed_hosts = vec!["mcp.example".into(), "localhost:8080".into()];
        let s = server_with(config);
        let ok = post(INIT).with_header("Host", "mcp.example");
        assert_eq!(resp(&s, &ok).status, 200);
        let r = resp(&s, &post(INIT).with_header("Host", "evil.example"));
        assert_eq!(err_of(&r), (403, -32600));
        assert!(body(&r).get("id").is_none(), "403 errors have no id");
        assert_eq!(
            resp(&s, &post(INIT)).status,
            403,
            "Host required when allow-listed"
        );
        assert_eq!(
            resp(&s, &post(INIT).with_header("Host", "LOCALHOST:8080")).status,
            200
        );
        // Two Host fields, even both allowed, are not one allowed host.
        let twice = post(INIT)
            .with_header("Host", "mcp.example")
            .with_header("host", "mcp.example");
        assert_eq!(err_of(&resp(&s, &twice)), (403, -32600));
    }

    /// Mutated requests of both eras never panic and never get a 5xx.
    #[test]
    fn mutated_requests_never_get_5xx() {
        let s = server();
        let sid = init(&s, V);
        let seeds = [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"},"_meta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"blob:///x"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"review","arguments":{"code":"c"}}}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"cursor":"o1","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#,
        ];
        let alphabet = b"{}[]\":,\\ u0123456789aemnor.-\x00\xff";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for round in 0..3000 {
            let mut bytes = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..=next(2) {
                let at = next(bytes.len());
                match next(3) {
                    0 => bytes[at] = alphabet[next(alphabet.len())],
                    1 => bytes.insert(at, alphabet[next(alphabet.len())]),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            let mut req = legacy(&sid, V, "");
            if round % 2 == 1 {
                req = post("")
                    .with_header("MCP-Protocol-Version", "2026-07-28")
                    .with_header("Mcp-Method", "tools/list");
            }
            req.body = bytes;
            match run(&s, &req, Some(&principal(&["mcp"]))) {
                McpOutcome::Response(r) => {
                    assert!(
                        r.status < 500,
                        "{} for {}",
                        r.status,
                        String::from_utf8_lossy(&req.body)
                    );
                    if r.status != 202 && r.header("Content-Type") == Some("application/json") {
                        let b = body(&r);
                        assert_eq!(b["jsonrpc"], "2.0");
                    }
                }
                // Live streams are off in this configuration.
                McpOutcome::Stream(_) => panic!("no live stream without live_streams"),
                McpOutcome::InsufficientScope { .. } => {}
            }
        }
    }

    #[test]
    fn security_schemes_advertise_scopes() {
        use mcpauth_core::mcp::{CallToolResult, McpServer, Registry, Tool};
        let mut r = Registry::new();
        let scoped = Tool::new("files", json!({"type": "object"}))
            .with_required_scopes(&["files:read"])
            .with_security_schemes();
        let open = Tool::new("open", json!({"type": "object"})).with_security_schemes();
        for t in [scoped, open] {
            r.tool(t, |_c, _a| Box::pin(async { Ok(CallToolResult::text("")) }))
                .expect("register");
        }
        let mut config = McpConfig::new("s", "1");
        config.stateless = true;
        let s = McpServer::new(config, r, Box::new(NoSessionStore));
        let b = body(&resp(
            &s,
            &post(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
        ));
        let tools = &b["result"]["tools"];
        let oauth = json!([{"type": "oauth2", "scopes": ["files:read"]}]);
        assert_eq!(tools[0]["securitySchemes"], oauth);
        assert_eq!(tools[0]["_meta"]["securitySchemes"], oauth);
        assert_eq!(tools[1]["securitySchemes"], json!([{"type": "noauth"}]));
    }

    #[test]
    fn sessions_are_bound_to_their_owner() {
        let s = server();
        let alice = principal(&["mcp"]);
        let mut bob = principal(&["mcp"]);
        bob.subject = "bob".into();
        let out = run(&s, &post(INIT), Some(&alice));
        let sid = out
            .response()
            .and_then(|r| r.header("Mcp-Session-Id"))
            .expect("sid")
            .to_owned();
        let list = legacy(&sid, V, r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
        let status = |p: Option<&mcpauth_core::principal::Principal>, r: &Request| {
            run(&s, r, p).response().map(|r| r.status)
        };
        assert_eq!(status(Some(&alice), &list), Some(200));
        assert_eq!(status(Some(&bob), &list), Some(404));
        assert_eq!(status(None, &list), Some(404));
        let del = Request::new(Method::Delete, "/mcp").with_header("Mcp-Session-Id", &sid);
        assert_eq!(status(Some(&bob), &del), Some(404));
        assert_eq!(status(Some(&alice), &del), Some(200));
        assert_eq!(status(Some(&alice), &list), Some(404));
    }
}

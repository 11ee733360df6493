//! HTTP-level tests of the 2026-07-28 era (conformance with the
//! specification's examples is in `mcp_examples.rs`).

#[path = "mcp_support.rs"]
mod support;

mod mcp {
    use mcpauth_core::http::{Method, Request};
    use mcpauth_core::mcp::{
        CallToolResult, ErrorCode, GetPromptResult, InputRequired, McpConfig, McpError, McpOutcome,
        McpServer, MemorySessionStore, Prompt, Registry, Tool,
    };
    use serde_json::{Value, json};

    use super::support::*;

    const V: &str = "2026-07-28";

    fn meta() -> Value {
        json!({
            "io.modelcontextprotocol/protocolVersion": V,
            "io.modelcontextprotocol/clientCapabilities": {}
        })
    }

    fn raw(body: Value) -> Request {
        post(&body.to_string())
    }

    #[test]
    fn discover_and_result_decoration() {
        let s = server();
        let r = resp(&s, &modern(json!("d"), "server/discover", json!({})));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert!(r.header("Mcp-Session-Id").is_none());
        let b = body(&r);
        assert_eq!(b["id"], "d");
        let res = &b["result"];
        assert_eq!(res["resultType"], "complete");
        assert_eq!(
            res["supportedVersions"],
            json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
        );
        assert!(res["capabilities"]["tools"].is_object());
        assert!(
            res["capabilities"].get("logging").is_none(),
            "logging/setLevel is gone in 2026"
        );
        assert_eq!(
            res["_meta"]["io.modelcontextprotocol/serverInfo"],
            json!({"name": "test-server", "version": "1.2.3"})
        );
        assert_eq!(res["ttlMs"], 0);
        assert_eq!(res["cacheScope"], "public");
        // Authenticated callers get private caching hints.
        let out = run(
            &s,
            &modern(json!(1), "tools/list", json!({})),
            Some(&principal(&[])),
        );
        assert_eq!(
            body(out.response().expect("response"))["result"]["cacheScope"],
            "private"
        );
        // Tool results keep their own _meta and gain serverInfo; not cacheable.
        let r = resp(
            &s,
            &modern(
                json!(2),
                "tools/call",
                json!({"name": "weather", "arguments": {}}),
            ),
        );
        let res = &body(&r)["result"];
        assert_eq!(res["resultType"], "complete");
        assert!(res.get("ttlMs").is_none());
        assert_eq!(
            res["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "test-server"
        );
    }

    #[test]
    fn version_header_and_meta_rules() {
        let s = server();
        let body_with = |m: Value| json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": m}});
        // Header missing → -32020.
        let r = resp(
            &s,
            &raw(body_with(meta())).with_header("Mcp-Method", "tools/list"),
        );
        assert_eq!(err_of(&r), (400, -32020));
        // Header and _meta differ → -32020.
        let r = resp(
            &s,
            &raw(body_with(meta()))
                .with_header("MCP-Protocol-Version", "2025-11-25")
                .with_header("Mcp-Method", "tools/list"),
        );
        assert_eq!(err_of(&r), (400, -32020));
        // Unknown version in both → -32022 with supported and requested.
        let m = json!({"io.modelcontextprotocol/protocolVersion": "2027-01-01", "io.modelcontextprotocol/clientCapabilities": {}});
        let r = resp(
            &s,
            &raw(body_with(m))
                .with_header("MCP-Protocol-Version", "2027-01-01")
                .with_header("Mcp-Method", "tools/list"),
        );
        assert_eq!(err_of(&r), (400, -32022));
        let b = body(&r);
        assert_eq!(b["error"]["data"]["requested"], "2027-01-01");
        assert!(
            b["error"]["data"]["supported"]
                .as_array()
                .is_some_and(|v| v.contains(&json!("2026-07-28")))
        );
        assert_eq!(b["id"], 1);
        // A legacy version in _meta is not served statelessly → -32022.
        let m = json!({"io.modelcontextprotocol/protocolVersion": "2025-11-25", "io.modelcontextprotocol/clientCapabilities": {}});
        let r = resp(
            &s,
            &raw(body_with(m))
                .with_header("MCP-Protocol-Version", "2025-11-25")
                .with_header("Mcp-Method", "tools/list"),
        );
        assert_eq!(err_of(&r), (400, -32022));
        // Modern header without _meta version → -32602.
        let r = resp(
            &s,
            &raw(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
                .with_header("MCP-Protocol-Version", V)
                .with_header("Mcp-Method", "tools/list"),
        );
        assert_eq!(err_of(&r), (400, -32602));
        // Missing clientCapabilities → -32602.
        let m = json!({"io.modelcontextprotocol/protocolVersion": V});
        let r = resp(
            &s,
            &raw(body_with(m))
                .with_header("MCP-Protocol-Version", V)
                .with_header("Mcp-Method", "tools/list"),
        );
        assert_eq!(err_of(&r), (400, -32602));
        // Invalid logLevel → -32602.
        let m = json!({"io.modelcontextprotocol/protocolVersion": V, "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/logLevel": "loud"});
        let r = resp(
            &s,
            &raw(body_with(m))
                .with_header("MCP-Protocol-Version", V)
                .with_header("Mcp-Method", "tools/list"),
        );
        assert_eq!(err_of(&r), (400, -32602));
    }

    #[test]
    fn mirrored_headers() {
        let s = server();
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "x"}, "_meta": meta()}});
        let base = || raw(call.clone()).with_header("MCP-Protocol-Version", V);
        // Mcp-Method missing or different.
        assert_eq!(
            err_of(&resp(&s, &base().with_header("Mcp-Name", "echo"))),
            (400, -32020)
        );
        let r = resp(
            &s,
            &base()
                .with_header("Mcp-Method", "tools/list")
                .with_header("Mcp-Name", "echo"),
        );
        assert_eq!(err_of(&r), (400, -32020));
        // Header values are case-sensitive.
        let r = resp(
            &s,
            &base()
                .with_header("Mcp-Method", "Tools/Call")
                .with_header("Mcp-Name", "echo"),
        );
        assert_eq!(err_of(&r), (400, -32020));
        // Mcp-Name missing, different, malformed.
        assert_eq!(
            err_of(&resp(&s, &base().with_header("Mcp-Method", "tools/call"))),
            (400, -32020)
        );
        let r = resp(
            &s,
            &base()
                .with_header("Mcp-Method", "tools/call")
                .with_header("Mcp-Name", "admin"),
        );
        assert_eq!(err_of(&r), (400, -32020));
        let r = resp(
            &s,
            &base()
                .with_header("Mcp-Method", "tools/call")
                .with_header("Mcp-Name", "ech\u{f6}"),
        );
        assert_eq!(err_of(&r), (400, -32020));
        let r = resp(
            &s,
            &base()
                .with_header("Mcp-Method", "tools/call")
                .with_header("Mcp-Name", "=?base64?!!!?="),
        );
        assert_eq!(err_of(&r), (400, -32020));
        // Header names are case-insensitive; the Base64 sentinel is decoded.
        let r = resp(
            &s,
            &base()
                .with_header("mcp-method", "tools/call")
                .with_header("MCP-NAME", "=?base64?ZWNobw==?="),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        // Non-ASCII names travel Base64-encoded.
        let mut r2 = Registry::new();
        r2.tool(Tool::new("Grüße", json!({"type": "object"})), |_c, _a| {
            Box::pin(async { Ok(CallToolResult::text("hallo")) })
        })
        .expect("register");
        let s2 = McpServer::new(
            McpConfig::new("s", "1"),
            r2,
            Box::new(MemorySessionStore::new(4, 60)),
        );
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "Grüße", "_meta": meta()}});
        let r = resp(
            &s2,
            &raw(call)
                .with_header("MCP-Protocol-Version", V)
                .with_header("Mcp-Method", "tools/call")
                .with_header("Mcp-Name", "=?base64?R3LDvMOfZQ==?="),
        );
        assert_eq!(body(&r)["result"]["content"][0]["text"], "hallo");
        // resources/read and prompts/get mirror uri and name.
        let r = resp(
            &s,
            &modern(
                json!(2),
                "resources/read",
                json!({"uri": "ui://widget/echo.html"}),
            ),
        );
        assert_eq!(r.status, 200);
        let req = raw(json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": "ui://widget/echo.html", "_meta": meta()}}))
            .with_header("MCP-Protocol-Version", V)
            .with_header("Mcp-Method", "resources/read")
            .with_header("Mcp-Name", "ui://app/main.html");
        assert_eq!(err_of(&resp(&s, &req)), (400, -32020));
        let r = resp(
            &s,
            &modern(
                json!(4),
                "prompts/get",
                json!({"name": "review", "arguments": {"code": "c"}}),
            ),
        );
        assert_eq!(body(&r)["result"]["messages"][0]["role"], "user");
    }

    #[test]
    fn mcp_param_headers_mirror_annotated_arguments() {
        let mut r = Registry::new();
        let schema = json!({
            "type": "object",
            "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "limit": {"type": "integer", "x-mcp-header": "Limit"},
                "query": {"type": "string"}
            },
            "required": ["query"]
        });
        r.tool(Tool::new("execute_sql", schema), |_c, _a| {
            Box::pin(async { Ok(CallToolResult::text("ok")) })
        })
        .expect("valid annotations");
        // Invalid annotations refuse the tool.
        let bad =
            json!({"type": "object", "properties": {"x": {"type": "number", "x-mcp-header": "X"}}});
        assert!(
            r.tool(Tool::new("bad", bad), |_c, _a| Box::pin(async {
                Ok(CallToolResult::text(""))
            }))
            .is_err()
        );
        let s = McpServer::new(
            McpConfig::new("s", "1"),
            r,
            Box::new(MemorySessionStore::new(4, 60)),
        );
        let call = |args: Value, headers: &[(&str, &str)]| {
            let mut req = modern(
                json!(1),
                "tools/call",
                json!({"name": "execute_sql", "arguments": args}),
            );
            for (n, v) in headers {
                req = req.with_header(*n, *v);
            }
            resp(&s, &req)
        };
        let args = json!({"region": "us-west1", "limit": 42, "query": "SELECT 1"});
        let r = call(
            args.clone(),
            &[("Mcp-Param-Region", "us-west1"), ("mcp-param-limit", "42")],
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        // Integers compare numerically; Base64 sentinel decodes.
        let r = call(
            args.clone(),
            &[
                ("Mcp-Param-Region", "=?base64?dXMtd2VzdDE=?="),
                ("Mcp-Param-Limit", "42.0"),
            ],
        );
        assert_eq!(r.status, 200);
        // Missing, different, malformed, repeated → -32020.
        assert_eq!(
            err_of(&call(args.clone(), &[("Mcp-Param-Limit", "42")])),
            (400, -32020)
        );
        assert_eq!(
            err_of(&call(
                args.clone(),
                &[("Mcp-Param-Region", "eu"), ("Mcp-Param-Limit", "42")]
            )),
            (400, -32020)
        );
        assert_eq!(
            err_of(&call(
                args.clone(),
                &[
                    ("Mcp-Param-Region", "us-west1\u{1}"),
                    ("Mcp-Param-Limit", "42")
                ]
            )),
            (400, -32020)
        );
        let twice = [
            ("Mcp-Param-Region", "us-west1"),
            ("Mcp-Param-Region", "us-west1"),
            ("Mcp-Param-Limit", "42"),
        ];
        assert_eq!(err_of(&call(args, &twice)), (400, -32020));
        // Absent or null values need no header.
        assert_eq!(call(json!({"query": "q", "region": null}), &[]).status, 200);
    }

    #[test]
    fn subscriptions_listen_acknowledges_nothing_and_closes() {
        let s = server();
        let r = resp(
            &s,
            &modern(
                json!("l1"),
                "subscriptions/listen",
                json!({"notifications": {"toolsListChanged": true}}),
            ),
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
        let events = sse(&r);
        assert_eq!(events.len(), 2);
        let ack: Value = serde_json::from_str(&events[0].1).expect("ack");
        assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
        assert_eq!(
            ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            "l1"
        );
        assert_eq!(ack["params"]["notifications"], json!({}));
        let end: Value = serde_json::from_str(&events[1].1).expect("result");
        assert_eq!(end["id"], "l1");
        assert_eq!(end["result"]["resultType"], "complete");
        assert_eq!(
            end["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            "l1"
        );
    }

    #[test]
    fn methods_status_codes() {
        let s = server();
        for m in [
            "nope",
            "ping",
            "logging/setLevel",
            "resources/subscribe",
            "resources/unsubscribe",
        ] {
            let r = resp(&s, &modern(json!(1), m, json!({})));
            assert_eq!(err_of(&r), (404, -32601), "{m}");
        }
        // GET and DELETE are not part of this era.
        let get = Request::new(Method::Get, "/mcp").with_header("MCP-Protocol-Version", V);
        assert_eq!(resp(&s, &get).status, 405);
        let del = Request::new(Method::Delete, "/mcp")
            .with_header("MCP-Protocol-Version", V)
            .with_header("Mcp-Session-Id", "x");
        assert_eq!(resp(&s, &del).status, 405);
        // Clients must not send responses; notifications are accepted.
        let r = resp(
            &s,
            &raw(json!({"jsonrpc": "2.0", "id": 1, "result": {}}))
                .with_header("MCP-Protocol-Version", V),
        );
        assert_eq!(err_of(&r), (400, -32600));
        let r = resp(
            &s,
            &raw(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "_meta": meta()}}))
                .with_header("MCP-Protocol-Version", V),
        );
        assert_eq!(r.status, 202);
        assert!(r.body.is_empty());
        // A session id is ignored, never required or minted.
        let r = resp(
            &s,
            &modern(json!(1), "tools/list", json!({})).with_header("Mcp-Session-Id", "stale"),
        );
        assert_eq!(r.status, 200);
        assert!(r.header("Mcp-Session-Id").is_none());
        // Errors from methods are JSON-RPC errors with the request id.
        let r = resp(
            &s,
            &modern(json!(5), "tools/call", json!({"name": "fails"})),
        );
        assert_eq!(
            body(&r),
            json!({"jsonrpc": "2.0", "id": 5, "error": {"code": -32603, "message": "Internal error"}})
        );
        // Resource not found is -32602 in this era.
        let r = resp(
            &s,
            &modern(json!(6), "resources/read", json!({"uri": "file:///nope"})),
        );
        assert_eq!(err_of(&r), (200, -32602));
        assert_eq!(body(&r)["error"]["data"]["uri"], "file:///nope");
        // Invalid tool arguments are a tool execution error.
        let r = resp(
            &s,
            &modern(
                json!(7),
                "tools/call",
                json!({"name": "echo", "arguments": {"text": 1}}),
            ),
        );
        assert_eq!(body(&r)["result"]["isError"], true);
        // Scopes: the same step-up outcome as in the 2025 era.
        let out = run(
            &s,
            &modern(json!(8), "tools/call", json!({"name": "admin"})),
            Some(&principal(&["mcp"])),
        );
        assert_eq!(
            out,
            McpOutcome::InsufficientScope {
                required: vec!["admin".into(), "mcp".into()]
            }
        );
    }

    #[test]
    fn initialize_still_selects_the_2025_era() {
        let s = server();
        let r = resp(&s, &post(INIT).with_header("MCP-Protocol-Version", V));
        assert_eq!(r.status, 200);
        assert_eq!(body(&r)["result"]["protocolVersion"], "2025-06-18");
        assert!(r.header("Mcp-Session-Id").is_some());
    }

    #[test]
    fn initialize_with_modern_meta_is_a_2026_request() {
        let s = server();
        // A legacy client's initialize never carries the 2026 _meta: served
        // as a 2026-07-28 request, where initialize does not exist.
        let params = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
        let r = resp(&s, &modern(json!(500), "initialize", params.clone()));
        assert_eq!(err_of(&r), (404, -32601));
        assert_eq!(body(&r)["id"], 500);
        assert!(r.header("Mcp-Session-Id").is_none());
        // The _meta alone decides; its header rules then apply.
        let mut p = params;
        p["_meta"] = meta();
        let r = resp(
            &s,
            &raw(json!({"jsonrpc": "2.0", "id": 501, "method": "initialize", "params": p})),
        );
        assert_eq!(err_of(&r), (400, -32020));
        assert!(r.header("Mcp-Session-Id").is_none());
    }

    /// A server whose tools fail with the given codes.
    fn failing_server() -> McpServer {
        let mut reg = Registry::new();
        let codes = [
            ("needs_sampling", ErrorCode::MissingRequiredClientCapability),
            ("mismatch", ErrorCode::HeaderMismatch),
            ("version", ErrorCode::UnsupportedProtocolVersion),
            ("not_found", ErrorCode::MethodNotFound),
            ("invalid", ErrorCode::InvalidParams),
            ("internal", ErrorCode::InternalError),
            ("app", ErrorCode::Application(-1)),
        ];
        for (name, code) in codes {
            reg.tool(
                Tool::new(name, json!({"type": "object"})),
                move |ctx, _args| {
                    Box::pin(async move {
                        ctx.progress(1.0, None, None);
                        Err(McpError::new(code, "failed")
                            .with_data(json!({"requiredCapabilities": {"sampling": {}}})))
                    })
                },
            )
            .expect("register");
        }
        let config = McpConfig::new("t", "1");
        let sessions = MemorySessionStore::new(1, 60);
        McpServer::new(config, reg, Box::new(sessions))
    }

    #[test]
    fn handler_errors_get_the_status_of_their_code() {
        let s = failing_server();
        let cases = [
            ("needs_sampling", 400, -32021),
            ("mismatch", 400, -32020),
            ("version", 400, -32022),
            ("not_found", 404, -32601),
            ("invalid", 200, -32602),
            ("internal", 200, -32603),
            ("app", 200, -1),
        ];
        for (name, status, code) in cases {
            let r = resp(&s, &modern(json!(401), "tools/call", json!({"name": name})));
            assert_eq!(err_of(&r), (status, code), "{name}");
            assert_eq!(r.header("Content-Type"), Some("application/json"));
            let b = body(&r);
            assert_eq!(b["id"], 401, "{name}");
            assert_eq!(
                b["error"]["data"]["requiredCapabilities"],
                json!({"sampling": {}})
            );
        }
        // A 4xx drops notifications the handler emitted (plain JSON); a 200
        // error keeps them in the stream.
        let mut m = meta();
        m["progressToken"] = json!("p");
        let call = |name: &str| {
            raw(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": name, "_meta": m}}))
                .with_header("MCP-Protocol-Version", V)
                .with_header("Mcp-Method", "tools/call")
                .with_header("Mcp-Name", name)
        };
        let r = resp(&s, &call("needs_sampling"));
        assert_eq!(err_of(&r), (400, -32021));
        let r = resp(&s, &call("internal"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
        assert_eq!(sse(&r).len(), 2);
    }

    #[test]
    fn legacy_handler_errors_stay_http_200() {
        let s = failing_server();
        let sid = init(&s, "2025-11-25");
        let r = resp(
            &s,
            &legacy(
                &sid,
                "2025-11-25",
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"needs_sampling"}}"#,
            ),
        );
        assert_eq!(err_of(&r), (200, -32021));
    }

    fn mrtr_server() -> McpServer {
        let mut reg = Registry::new();
        reg.tool(Tool::new("ask", json!({"type": "object"})), |ctx, _args| {
            Box::pin(async move {
                let name = ctx
                    .input_response("user_name")
                    .and_then(|r| r["content"]["name"].as_str())
                    .map(str::to_owned);
                if let Some(name) = name {
                    let state = ctx.request_state().unwrap_or("none").to_owned();
                    return Ok(CallToolResult::text(format!("Hello, {name}! ({state})")));
                }
                if !ctx.can_request_input("elicitation/create") {
                    return Ok(CallToolResult::error("cannot ask"));
                }
                Ok(CallToolResult::input_required(
                    InputRequired::new()
                        .request(
                            "user_name",
                            "elicitation/create",
                            json!({"message": "Name?", "requestedSchema": {"type": "object"}}),
                        )
                        .with_state("s1"),
                ))
            })
        })
        .expect("ask");
        reg.tool(
            Tool::new("ask_all", json!({"type": "object"})),
            |_ctx, _args| {
                Box::pin(async move {
                    Ok(CallToolResult::input_required(
                        InputRequired::new()
                            .request("a", "elicitation/create", json!({"message": "?"}))
                            .request(
                                "b",
                                "sampling/createMessage",
                                json!({"messages": [], "maxTokens": 1}),
                            )
                            .request("c", "roots/list", json!({})),
                    ))
                })
            },
        )
        .expect("ask_all");
        reg.tool(
            Tool::new("ask_bad", json!({"type": "object"})),
            |ctx, _args| {
                let empty = ctx.input_responses().is_some();
                Box::pin(async move {
                    Ok(CallToolResult::input_required(if empty {
                        InputRequired::new()
                    } else {
                        InputRequired::new().request("x", "tools/call", json!({}))
                    }))
                })
            },
        )
        .expect("ask_bad");
        reg.prompt(
            Prompt {
                name: "p".into(),
                title: None,
                description: None,
                arguments: vec![],
            },
            |ctx, _args| {
                Box::pin(async move {
                    if let Some(r) = ctx.input_response("ctx") {
                        return Ok(GetPromptResult::user_text(
                            r["content"]["context"].to_string(),
                        ));
                    }
                    Ok(GetPromptResult::input_required(
                        InputRequired::new().request(
                            "ctx",
                            "elicitation/create",
                            json!({"message": "?"}),
                        ),
                    ))
                })
            },
        )
        .expect("prompt");
        McpServer::new(
            McpConfig::new("t", "1"),
            reg,
            Box::new(MemorySessionStore::new(2, 60)),
        )
    }

    fn call_with(method: &str, name: &str, caps: Value, extra: Value) -> Request {
        let mut params = json!({"name": name, "_meta": {
            "io.modelcontextprotocol/protocolVersion": V,
            "io.modelcontextprotocol/clientCapabilities": caps
        }});
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        raw(json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params}))
            .with_header("MCP-Protocol-Version", V)
            .with_header("Mcp-Method", method)
            .with_header("Mcp-Name", name)
    }

    #[test]
    fn input_required_round_trip() {
        let s = mrtr_server();
        let all = json!({"elicitation": {}, "sampling": {}, "roots": {}});
        // Round 1: an InputRequiredResult, decorated but with its own type.
        let r = resp(&s, &call_with("tools/call", "ask", all.clone(), json!({})));
        assert_eq!(r.status, 200);
        let res = body(&r)["result"].clone();
        assert_eq!(res["resultType"], "input_required");
        assert_eq!(
            res["inputRequests"]["user_name"]["method"],
            "elicitation/create"
        );
        assert_eq!(res["requestState"], "s1");
        assert!(res.get("content").is_none());
        assert_eq!(
            res["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "t"
        );
        // Round 2: the handler reads inputResponses and requestState; extra
        // keys are the client's noise.
        let retry = json!({
            "inputResponses": {
                "user_name": {"action": "accept", "content": {"name": "Alice"}},
                "extra": {"action": "accept", "content": {}}
            },
            "requestState": "s1"
        });
        let r = resp(&s, &call_with("tools/call", "ask", all.clone(), retry));
        let res = body(&r)["result"].clone();
        assert_eq!(res["resultType"], "complete");
        assert_eq!(res["content"][0]["text"], "Hello, Alice! (s1)");
        // A retry missing the answer is asked again.
        let r = resp(
            &s,
            &call_with(
                "tools/call",
                "ask",
                all.clone(),
                json!({"inputResponses": {"other": {}}}),
            ),
        );
        assert_eq!(body(&r)["result"]["resultType"], "input_required");
        // Malformed inputResponses / requestState: -32602.
        for bad in [
            json!({"inputResponses": null}),
            json!({"inputResponses": {"user_name": 12345}}),
            json!({"inputResponses": []}),
            json!({"requestState": 7}),
        ] {
            let r = resp(
                &s,
                &call_with("tools/call", "ask", all.clone(), bad.clone()),
            );
            assert_eq!(err_of(&r), (200, -32602), "{bad}");
        }
        // prompts/get too.
        let r = resp(&s, &call_with("prompts/get", "p", all.clone(), json!({})));
        assert_eq!(body(&r)["result"]["resultType"], "input_required");
        let retry =
            json!({"inputResponses": {"ctx": {"action": "accept", "content": {"context": "c"}}}});
        let r = resp(&s, &call_with("prompts/get", "p", all.clone(), retry));
        let res = body(&r)["result"].clone();
        assert_eq!(res["resultType"], "complete");
        assert_eq!(res["messages"][0]["content"]["text"], "\"c\"");
    }

    #[test]
    fn input_requests_need_declared_capabilities() {
        let s = mrtr_server();
        // The handler checks: without elicitation it does not ask.
        let r = resp(
            &s,
            &call_with("tools/call", "ask", json!({"sampling": {}}), json!({})),
        );
        assert_eq!(body(&r)["result"]["isError"], true);
        // The server enforces: undeclared capabilities are -32021 / 400.
        let r = resp(
            &s,
            &call_with("tools/call", "ask_all", json!({"sampling": {}}), json!({})),
        );
        assert_eq!(err_of(&r), (400, -32021));
        assert_eq!(
            body(&r)["error"]["data"]["requiredCapabilities"],
            json!({"elicitation": {}, "roots": {}})
        );
        let all = json!({"elicitation": {}, "sampling": {}, "roots": {}});
        let r = resp(
            &s,
            &call_with("tools/call", "ask_all", all.clone(), json!({})),
        );
        let res = body(&r)["result"].clone();
        assert_eq!(res["inputRequests"].as_object().map(|m| m.len()), Some(3));
        // Not an input method, or nothing at all: an internal error.
        let r = resp(
            &s,
            &call_with("tools/call", "ask_bad", all.clone(), json!({})),
        );
        assert_eq!(err_of(&r), (200, -32603));
        let r = resp(
            &s,
            &call_with("tools/call", "ask_bad", all, json!({"inputResponses": {}})),
        );
        assert_eq!(err_of(&r), (200, -32603));
    }

    fn sealing_server(key: Option<[u8; 32]>) -> McpServer {
        let mut reg = Registry::new();
        for name in ["stateful", "other"] {
            reg.tool(Tool::new(name, json!({"type": "object"})), |ctx, _args| {
                Box::pin(async move {
                    if let Some(v) = ctx.open_state()? {
                        return Ok(CallToolResult::text(format!("state-ok {}", v["step"])));
                    }
                    let Some(state) = ctx.seal_state(&json!({"step": 1})) else {
                        return Ok(CallToolResult::error("no key"));
                    };
                    Ok(CallToolResult::input_required(
                        InputRequired::new()
                            .request("ok", "elicitation/create", json!({"message": "?"}))
                            .with_state(state),
                    ))
                })
            })
            .expect("tool");
        }
        let s = McpServer::new(
            McpConfig::new("t", "1"),
            reg,
            Box::new(MemorySessionStore::new(2, 60)),
        );
        match key {
            Some(k) => s.with_request_state_key(k),
            None => s,
        }
    }

    #[test]
    fn sealed_request_state_is_bound_and_checked() {
        let caps = json!({"elicitation": {}});
        let s = sealing_server(Some([7; 32]));
        let alice = principal(&[]);
        let first = |s: &McpServer, name: &str| {
            let out = run(
                s,
                &call_with("tools/call", name, caps.clone(), json!({})),
                Some(&alice),
            );
            let b = body(out.response().expect("response"));
            assert_eq!(b["result"]["resultType"], "input_required", "{b}");
            b["result"]["requestState"]
                .as_str()
                .expect("state")
                .to_owned()
        };
        let retry = |name: &str, state: &str| {
            call_with(
                "tools/call",
                name,
                caps.clone(),
                json!({"inputResponses": {"ok": {"action": "accept", "content": {}}}, "requestState": state}),
            )
        };
        let state = first(&s, "stateful");
        assert!(!state.contains("step"), "encoded, not plain JSON");
        // Round trip under the same principal, tool and time window.
        let out = run(&s, &retry("stateful", &state), Some(&alice));
        let b = body(out.response().expect("response"));
        assert_eq!(b["result"]["content"][0]["text"], "state-ok 1");
        // Tampered, for another tool, another principal, expired, or opened
        // by a server with another key: -32602.
        let invalid = |out: McpOutcome| {
            let r = out.response().expect("response").clone();
            assert_eq!(err_of(&r), (200, -32602));
            assert_eq!(body(&r)["error"]["message"], "Invalid requestState");
        };
        invalid(run(
            &s,
            &retry("stateful", &format!("{state}-TAMPERED")),
            Some(&alice),
        ));
        invalid(run(&s, &retry("other", &state), Some(&alice)));
        let mut bob = principal(&[]);
        bob.subject = "bob".into();
        invalid(run(&s, &retry("stateful", &state), Some(&bob)));
        invalid(run(&s, &retry("stateful", &state), None));
        let late = mcpauth_core::time::UnixTime(T0.0 + 601);
        let r = run_at(&s, &retry("stateful", &state), Some(&alice), late);
        invalid(r);
        let other_key = sealing_server(Some([8; 32]));
        invalid(run(&other_key, &retry("stateful", &state), Some(&alice)));
        // Without a key nothing is sealed and any state is refused.
        let keyless = sealing_server(None);
        let out = run(
            &keyless,
            &call_with("tools/call", "stateful", caps.clone(), json!({})),
            None,
        );
        assert_eq!(
            body(out.response().expect("response"))["result"]["isError"],
            true
        );
        invalid(run(&keyless, &retry("stateful", &state), Some(&alice)));
    }

    #[test]
    fn input_required_does_not_exist_in_the_2025_era() {
        let s = mrtr_server();
        let sid = init(&s, "2025-11-25");
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask_all"}}"#;
        let r = resp(&s, &legacy(&sid, "2025-11-25", call));
        assert_eq!(err_of(&r), (200, -32603));
        // ...and handlers learn they cannot ask.
        let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask"}}"#;
        let r = resp(&s, &legacy(&sid, "2025-11-25", call));
        assert_eq!(body(&r)["result"]["isError"], true);
    }

    #[test]
    fn streams_have_no_event_ids_and_logs_need_a_level() {
        let s = server();
        let params = json!({"name": "echo", "arguments": {"text": "hi"}});
        // No progress token, no log level: plain JSON.
        let r = resp(&s, &modern(json!(1), "tools/call", params.clone()));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        // With both: SSE, notifications first, no ids, no retry.
        let mut m = meta();
        m["progressToken"] = json!(7);
        m["io.modelcontextprotocol/logLevel"] = json!("debug");
        let req = raw(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}, "_meta": m}}))
            .with_header("MCP-Protocol-Version", V)
            .with_header("Mcp-Method", "tools/call")
            .with_header("Mcp-Name", "echo");
        let r = resp(&s, &req);
        assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
        assert!(!String::from_utf8_lossy(&r.body).contains("retry:"));
        let events = sse(&r);
        assert_eq!(events.len(), 3);
        assert!(events.iter().all(|(id, _)| id.is_none()));
        let last: Value = serde_json::from_str(&events[2].1).expect("json");
        assert_eq!(last["result"]["resultType"], "complete");
        let first: Value = serde_json::from_str(&events[0].1).expect("json");
        assert_eq!(first["params"]["progressToken"], 7);
    }

    #[test]
    fn handle_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let s = server();
        let req = post(INIT);
        let mut rng = rng();
        let fut = s.handle(&req, None, T0, &mut rng);
        assert_send(&fut);
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<McpServer>();
    }
}

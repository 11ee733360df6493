//! Conformance with the specification's own examples and JSON Schema
//! (`../shared/specs/mcp/schema/2026-07-28`): every example validates
//! against its definition and frames; every request example we serve gets a
//! response that validates against the schema.

#[path = "mcp_support.rs"]
mod support;

mod mcp {
    use std::path::PathBuf;

    use mcpauth_core::http::{Request, Response};
    use mcpauth_core::mcp::jsonrpc::{self, FrameLimits, MessageKind};
    use mcpauth_core::mcp::schema::validate_with_root;
    use mcpauth_core::mcp::{
        BoxFuture, CallToolResult, CompletionHandler, ContentBlock, Context, GetPromptResult,
        McpConfig, McpError, McpServer, MemorySessionStore, Prompt, PromptArgument, Registry,
        Resource, ResourceContents, Tool,
    };
    use serde_json::{Value, json};

    use super::support::*;

    const V: &str = "2026-07-28";

    fn raw(body: Value) -> Request {
        post(&body.to_string())
    }

    // ----- The specification's examples -----

    fn spec_dir() -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/specs/mcp/schema/2026-07-28");
        assert!(
            dir.join("schema.json").is_file() && dir.join("examples").is_dir(),
            "the MCP specification is missing at {}: these tests need ../shared beside the repository",
            dir.display()
        );
        dir
    }

    fn load(path: &std::path::Path) -> Value {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn conforms(root: &Value, def: &str, v: &Value) -> Result<(), String> {
        let schema = json!({"$ref": format!("#/$defs/{def}")});
        validate_with_root(root, &schema, v, 64).map_err(|e| format!("{def}: {e}"))
    }

    /// Every example, grouped by the definition it illustrates.
    fn examples() -> Vec<(String, PathBuf, Value)> {
        let dir = spec_dir().join("examples");
        let mut out = Vec::new();
        let mut defs: Vec<_> = std::fs::read_dir(&dir)
            .expect("examples")
            .flatten()
            .collect();
        defs.sort_by_key(|e| e.file_name());
        for def in defs {
            let name = def.file_name().to_string_lossy().into_owned();
            let mut files: Vec<_> = std::fs::read_dir(def.path())
                .expect("def dir")
                .flatten()
                .collect();
            files.sort_by_key(|e| e.file_name());
            for f in files
                .into_iter()
                .filter(|f| f.path().extension().is_some_and(|x| x == "json"))
            {
                let v = load(&f.path());
                out.push((name.clone(), f.path(), v));
            }
        }
        assert!(
            out.len() > 80,
            "expected the full example set, found {}",
            out.len()
        );
        out
    }

    #[test]
    fn every_example_validates_and_frames() {
        let root = load(&spec_dir().join("schema.json"));
        let mut framed = 0;
        for (def, path, v) in examples() {
            // Our validator accepts each example against its definition.
            if let Err(e) = conforms(&root, &def, &v) {
                panic!("{}: {e}", path.display());
            }
            // JSON-RPC messages frame, with the right kind.
            if v.get("jsonrpc").is_some() {
                let text = std::fs::read(&path).expect("read");
                let env = jsonrpc::parse(&text, &FrameLimits::default())
                    .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                let want = if def.ends_with("Request") {
                    MessageKind::Request
                } else if def.ends_with("Notification") {
                    MessageKind::Notification
                } else {
                    MessageKind::Response
                };
                assert_eq!(env.kind, want, "{}", path.display());
                if let Some(m) = v.get("method").and_then(Value::as_str) {
                    assert_eq!(env.method.as_str(), m);
                }
                framed += 1;
            }
        }
        assert!(framed > 20, "framed {framed}");
        // The validator is not vacuous: broken examples fail.
        let bad = json!({"jsonrpc": "2.0", "id": 1, "result": {"resultType": "complete", "tools": [{"name": 5}]}});
        assert!(conforms(&root, "ListToolsResultResponse", &bad).is_err());
        let bad = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32022, "message": "x", "data": {"supported": []}}});
        assert!(conforms(&root, "UnsupportedProtocolVersionError", &bad).is_err());
    }

    struct Languages;
    impl CompletionHandler for Languages {
        fn complete<'a>(
            &'a self,
            _ctx: &'a mut Context,
            _reference: &'a Value,
            _name: &'a str,
            value: &'a str,
        ) -> BoxFuture<'a, Result<Vec<String>, McpError>> {
            let all = ["python", "pytorch", "rust"];
            Box::pin(async move {
                Ok(all
                    .iter()
                    .filter(|l| l.starts_with(value))
                    .map(|l| (*l).to_owned())
                    .collect())
            })
        }
    }

    /// A server offering what the examples ask for.
    fn example_server() -> McpServer {
        let mut r = Registry::new();
        r.tool(
            Tool::new("get_weather", json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}))
                .with_title("Weather")
                .with_output_schema(json!({"type": "object", "properties": {"temperature": {"type": "number"}}, "required": ["temperature"]})),
            |ctx, args| {
                Box::pin(async move {
                    ctx.progress(0.5, None, None);
                    let loc = args.get("location").and_then(Value::as_str).unwrap_or_default().to_owned();
                    let mut res = CallToolResult::structured(json!({"temperature": 21}));
                    res.content.insert(0, ContentBlock::Text(format!("Weather in {loc}")));
                    Ok(res)
                })
            },
        )
        .expect("tool");
        r.resource(
            Resource::new(
                "file:///project/src/main.rs",
                "main.rs",
                Some("text/x-rust"),
            ),
            |_c, uri: &str| {
                let uri = uri.to_owned();
                Box::pin(async move {
                    Ok(vec![ResourceContents::text(
                        uri,
                        Some("text/x-rust"),
                        "fn main() {}",
                    )])
                })
            },
        )
        .expect("resource");
        r.resource_template(
            mcpauth_core::mcp::ResourceTemplate::new("file:///{path}", "files", None),
            |_c, uri: &str| {
                let uri = uri.to_owned();
                Box::pin(async move { Ok(vec![ResourceContents::blob(uri, None, b"\x00")]) })
            },
        )
        .expect("template");
        r.prompt(
            Prompt {
                name: "code_review".into(),
                title: Some("Code review".into()),
                description: None,
                arguments: vec![PromptArgument {
                    name: "code".into(),
                    description: Some("The code".into()),
                    required: true,
                }],
            },
            |_c, args| {
                Box::pin(async move {
                    let code = args
                        .get("code")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    Ok(GetPromptResult::user_text(code))
                })
            },
        )
        .expect("prompt");
        r.completion(Languages);
        let mut config = McpConfig::new("ExampleServer", "1.0.0");
        config.instructions = Some("Weather and files.".into());
        config.cache_ttl_ms = 60_000;
        McpServer::new(config, r, Box::new(MemorySessionStore::new(4, 60)))
    }

    /// Send a request example as a client would (headers mirrored from the
    /// body) and check our response against the schema.
    fn replay(s: &McpServer, root: &Value, v: &Value, result_def: &str) -> Response {
        let method = v["method"].as_str().expect("method");
        let mut req = raw(v.clone())
            .with_header("MCP-Protocol-Version", V)
            .with_header("Mcp-Method", method);
        let name = v["params"]
            .get("name")
            .or_else(|| v["params"].get("uri"))
            .and_then(Value::as_str);
        if let (Some(n), true) = (
            name,
            matches!(method, "tools/call" | "resources/read" | "prompts/get"),
        ) {
            req = req.with_header("Mcp-Name", n);
        }
        let r = resp(s, &req);
        let messages: Vec<Value> = if r.header("Content-Type") == Some("text/event-stream") {
            sse(&r)
                .iter()
                .map(|(_, d)| serde_json::from_str(d).expect("event"))
                .collect()
        } else {
            vec![body(&r)]
        };
        let (last, notes) = messages.split_last().expect("a message");
        for n in notes {
            let def = match n["method"].as_str() {
                Some("notifications/progress") => "ProgressNotification",
                Some("notifications/message") => "LoggingMessageNotification",
                Some("notifications/subscriptions/acknowledged") => {
                    "SubscriptionsAcknowledgedNotification"
                }
                other => panic!("unexpected notification {other:?}"),
            };
            conforms(root, def, n).unwrap_or_else(|e| panic!("{method}: {e}: {n}"));
        }
        conforms(root, result_def, last).unwrap_or_else(|e| panic!("{method}: {e}: {last}"));
        assert_eq!(last["id"], v["id"]);
        r
    }

    #[test]
    fn request_examples_get_schema_valid_responses() {
        let root = load(&spec_dir().join("schema.json"));
        let s = example_server();
        let mut replayed = Vec::new();
        for (def, path, v) in examples() {
            let Some(stem) = def.strip_suffix("Request") else {
                continue;
            };
            if v.get("jsonrpc").is_none() {
                continue;
            }
            let result_def = format!("{stem}ResultResponse");
            let served = matches!(
                def.as_str(),
                "CallToolRequest"
                    | "CompleteRequest"
                    | "DiscoverRequest"
                    | "GetPromptRequest"
                    | "ListPromptsRequest"
                    | "ListResourceTemplatesRequest"
                    | "ListResourcesRequest"
                    | "ListToolsRequest"
                    | "ReadResourceRequest"
                    | "SubscriptionsListenRequest"
            );
            if served {
                let r = replay(&s, &root, &v, &result_def);
                assert_eq!(r.status, 200, "{}", path.display());
                replayed.push(def);
            } else if v["method"]
                .as_str()
                .is_some_and(|m| !m.starts_with("notifications/"))
            {
                // Client-side or unimplemented methods: a modern -32601 (404).
                let method = v["method"].as_str().unwrap_or_default();
                let req = raw(v.clone())
                    .with_header("MCP-Protocol-Version", V)
                    .with_header("Mcp-Method", method);
                let r = resp(&s, &req);
                assert_eq!(err_of(&r), (404, -32601), "{}", path.display());
                conforms(&root, "JSONRPCErrorResponse", &body(&r)).expect("error response");
            }
        }
        assert!(replayed.len() >= 10, "replayed {replayed:?}");
        // Progress notifications and caching hints appear where the spec puts them.
        let call = examples()
            .into_iter()
            .find(|(d, _, _)| d == "CallToolRequest")
            .expect("call example")
            .2;
        let mut with_progress = call.clone();
        with_progress["params"]["_meta"]["progressToken"] = json!("t");
        let r = replay(&s, &root, &with_progress, "CallToolResultResponse");
        assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
        let list = body(&resp(&s, &modern(json!(1), "resources/list", json!({}))));
        assert_eq!(list["result"]["ttlMs"], 60_000);
    }

    #[test]
    fn error_responses_match_the_schema() {
        let root = load(&spec_dir().join("schema.json"));
        let s = server();
        let m = json!({"io.modelcontextprotocol/protocolVersion": "1900-01-01", "io.modelcontextprotocol/clientCapabilities": {}});
        let r = resp(
            &s,
            &raw(
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": m}}),
            )
            .with_header("MCP-Protocol-Version", "1900-01-01")
            .with_header("Mcp-Method", "tools/list"),
        );
        conforms(&root, "UnsupportedProtocolVersionError", &body(&r)).expect("-32022 shape");
        let r = resp(
            &s,
            &modern(json!(1), "tools/list", json!({})).with_header("Mcp-Method", "x"),
        );
        conforms(&root, "HeaderMismatchError", &body(&r)).expect("-32020 shape");
        let r = resp(&s, &modern(json!(1), "nope", json!({})));
        conforms(&root, "JSONRPCErrorResponse", &body(&r)).expect("-32601 shape");
        let r = resp(&s, &modern(json!(1), "tools/call", json!({"name": "nope"})));
        conforms(&root, "JSONRPCErrorResponse", &body(&r)).expect("-32602 shape");
    }
}

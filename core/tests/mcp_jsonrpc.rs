//! JSON-RPC framing edge cases: every shape, every failure, every code.

mod mcp {
    use mcpauth_core::mcp::jsonrpc::{
        self, ErrorCode, FrameError, FrameLimits, MessageKind, RequestId,
    };

    fn parse(body: &[u8]) -> Result<jsonrpc::Envelope<'_>, FrameError> {
        jsonrpc::parse(body, &FrameLimits::default())
    }

    fn code(body: &[u8]) -> ErrorCode {
        match parse(body) {
            Ok(env) => panic!("expected an error, framed {env:?}"),
            Err(e) => e.code,
        }
    }

    fn sid(s: &str) -> RequestId {
        RequestId::String(heapless::String::try_from(s).expect("short"))
    }

    #[test]
    fn requests_notifications_responses() {
        let env =
            parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":"o1"}}"#)
                .expect("request");
        assert_eq!(env.kind, MessageKind::Request);
        assert_eq!(env.id, Some(RequestId::Number(7)));
        assert_eq!(env.method.as_str(), "tools/list");
        assert_eq!(env.params, Some(r#"{"cursor":"o1"}"#));

        let env = parse(br#"{"method":"notifications/initialized","jsonrpc":"2.0"}"#)
            .expect("notification");
        assert_eq!(env.kind, MessageKind::Notification);
        assert_eq!(env.id, None);

        let env = parse(br#"{"jsonrpc":"2.0","id":"r1","result":{"x":1}}"#).expect("response");
        assert_eq!(env.kind, MessageKind::Response);
        assert_eq!(env.id, Some(sid("r1")));
        let env = parse(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}"#)
            .expect("error response with null id");
        assert_eq!(env.kind, MessageKind::Response);
        assert_eq!(env.id, None);
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let env = parse(
            br#"{"jsonrpc":"2\u002e0","id":"a\"b\\c\u00e9\ud83d\ude00","method":"tools\/call"}"#,
        )
        .expect("escaped");
        assert_eq!(env.method.as_str(), "tools/call");
        assert_eq!(env.id, Some(sid("a\"b\\c\u{e9}\u{1F600}")));
        // Escaped member names count too (and duplicates are seen through escapes).
        let env =
            parse(br#"{"json\u0072pc":"2.0","\u0069d":1,"method":"ping"}"#).expect("escaped keys");
        assert_eq!(env.id, Some(RequestId::Number(1)));
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"\u0069d":2,"method":"ping"}"#),
            ErrorCode::InvalidRequest
        );
        // Lone surrogates are not strings we can decode.
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"\ud800"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":"\udc00x","method":"m"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(jsonrpc::unescape::<16>(r"a\nb").as_deref(), Some("a\nb"));
        assert!(jsonrpc::escaped_eq(r"tools\/list", "tools/list"));
        assert!(!jsonrpc::escaped_eq(r"tools\/list", "tools/lis"));
        assert!(!jsonrpc::escaped_eq(r"tools", "tools/list"));
    }

    #[test]
    fn ids() {
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"m"}"#).map(|e| e.id),
            Ok(Some(RequestId::Number(i64::MIN)))
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":9223372036854775808,"method":"m"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1e3,"method":"m"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":true,"method":"m"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":[1],"method":"m"}"#),
            ErrorCode::InvalidRequest
        );
        // Null ids are only for error responses.
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":null,"method":"m"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":null,"result":{}}"#),
            ErrorCode::InvalidRequest
        );
        // Huge ids are refused, never truncated.
        let long = format!(
            r#"{{"jsonrpc":"2.0","id":"{}","method":"m"}}"#,
            "x".repeat(65)
        );
        assert_eq!(code(long.as_bytes()), ErrorCode::InvalidRequest);
        let ok = format!(
            r#"{{"jsonrpc":"2.0","id":"{}","method":"m"}}"#,
            "x".repeat(64)
        );
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn structure_errors() {
        // Not JSON.
        for b in [
            &b"{"[..],
            b"",
            b"   ",
            b"{\"a\":}",
            b"{'a':1}",
            b"{\"a\":01}",
            b"{\"a\":1,}",
            b"[1,]",
            b"nul",
        ] {
            assert_eq!(
                code(b),
                ErrorCode::ParseError,
                "{}",
                String::from_utf8_lossy(b)
            );
        }
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"m"} {}"#),
            ErrorCode::ParseError
        );
        // Invalid UTF-8 anywhere, control characters in strings.
        assert_eq!(
            code(
                b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"a\":\"\xc3\x28\"}}"
            ),
            ErrorCode::ParseError
        );
        assert_eq!(
            code(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\nb\"}"),
            ErrorCode::ParseError
        );
        // Batches are refused (2025-06-18 and later).
        let e = parse(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).expect_err("batch");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.reason.contains("Batch"));
        // Other top-level values.
        assert_eq!(code(b"\"x\""), ErrorCode::InvalidRequest);
        assert_eq!(code(b"42"), ErrorCode::InvalidRequest);
        // Wrong member types and missing members.
        assert_eq!(
            code(br#"{"jsonrpc":"1.0","id":1,"method":"m"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":2.0,"id":1,"method":"m"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(code(br#"{"id":1,"method":"m"}"#), ErrorCode::InvalidRequest);
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":["m"]}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"m","params":"p"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"m","params":[1]}"#),
            ErrorCode::InvalidParams
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"m","result":{}}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","result":{}}"#),
            ErrorCode::InvalidRequest
        );
        // Duplicate envelope members.
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"a"}"#),
            ErrorCode::InvalidRequest
        );
        // The id is kept for errors found after it was read.
        let e = parse(br#"{"jsonrpc":"2.0","id":4,"method":"a","method":"b"}"#).expect_err("dup");
        assert_eq!(e.id, Some(RequestId::Number(4)));
    }

    #[test]
    fn limits() {
        let limits = FrameLimits {
            max_body: 64,
            max_depth: 4,
        };
        let e = jsonrpc::parse(&[b' '; 65], &limits).expect_err("too large");
        assert!(e.too_large);
        let nested = br#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":{"b":{"c":1}}}}"#;
        assert!(
            jsonrpc::parse(
                nested,
                &FrameLimits {
                    max_body: 1000,
                    max_depth: 4
                }
            )
            .is_ok()
        );
        let e = jsonrpc::parse(
            nested,
            &FrameLimits {
                max_body: 1000,
                max_depth: 3,
            },
        )
        .expect_err("deep");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        // 200k levels: refused quickly, no stack overflow.
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        assert!(parse(deep.as_bytes()).is_err());
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{}{}"#,
            r#"{"a":"#.repeat(200_000),
            "}".repeat(200_001)
        );
        assert!(parse(deep.as_bytes()).is_err());
        // Very long method names are framed as unknown methods.
        let long = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"{}"}}"#,
            "m".repeat(100)
        );
        let env = parse(long.as_bytes()).expect("long method");
        assert!(env.method_too_long);
    }

    #[test]
    fn count_members_sees_through_escapes() {
        assert_eq!(
            jsonrpc::count_members(r#"{"name":"a","n\u0061me":"b","x":{"name":1}}"#, "name"),
            2
        );
        assert_eq!(jsonrpc::count_members(r#"{"name":"a"}"#, "uri"), 0);
        assert_eq!(jsonrpc::count_members("[]", "name"), 0);
        let keys = ["name", "arguments"];
        assert!(jsonrpc::has_duplicate_member(
            r#"{"name":"a","x":1,"n\u0061me":"b"}"#,
            &keys
        ));
        assert!(jsonrpc::has_duplicate_member(
            r#"{"arguments":{},"name":"a","arguments":null}"#,
            &keys
        ));
        assert!(!jsonrpc::has_duplicate_member(
            r#"{"name":"a","arguments":{"name":1,"name":2},"x":1,"x":2}"#,
            &keys
        ));
        assert!(!jsonrpc::has_duplicate_member("[]", &keys));
    }

    /// Differential check against serde_json on mutated messages: framing
    /// never panics, and whatever it accepts serde_json reads the same way.
    #[test]
    fn mutated_messages_agree_with_serde_json() {
        let seeds: [&[u8]; 5] = [
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,2.5,"s\n"]}}}"#,
            br#"{"jsonrpc":"2.0","id":"a\u00e9","method":"ping"}"#,
            br#"{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}"#,
            br#"{"jsonrpc":"2.0","id":-5,"result":{"ok":true,"n":null}}"#,
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"m"}}"#,
        ];
        let alphabet = b"{}[]\":,\\/ u0123456789abcdefnrtlse.-+E\x00\x7f\xc3\xa9\xff";
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let limits = FrameLimits::default();
        let mut accepted = 0;
        for round in 0..20_000 {
            let mut body = seeds[round % seeds.len()].to_vec();
            for _ in 0..=next(3) {
                let at = next(body.len() + 1);
                match next(4) {
                    0 if at < body.len() => body[at] = alphabet[next(alphabet.len())],
                    1 => body.insert(at, alphabet[next(alphabet.len())]),
                    2 if at < body.len() => {
                        body.remove(at);
                    }
                    _ => {
                        let end = (at + next(8)).min(body.len());
                        let chunk = body[at..end].to_vec();
                        body.splice(at..at, chunk);
                    }
                }
            }
            let Ok(env) = jsonrpc::parse(&body, &limits) else {
                continue;
            };
            accepted += 1;
            let value: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                // Lone UTF-16 surrogates and numbers beyond f64 in values we
                // do not decode are valid JSON text; serde_json refuses them
                // (in params the server answers -32602).
                Err(e)
                    if e.to_string().contains("surrogate")
                        || e.to_string().contains("number out of range") =>
                {
                    continue;
                }
                Err(e) => panic!(
                    "framed but not JSON ({e}): {}",
                    String::from_utf8_lossy(&body)
                ),
            };
            assert!(value.is_object());
            if env.kind != MessageKind::Response && !env.method_too_long {
                assert_eq!(value["method"].as_str(), Some(env.method.as_str()));
            }
            match &env.id {
                Some(RequestId::Number(n)) => assert_eq!(value["id"].as_i64(), Some(*n)),
                Some(RequestId::String(s)) => assert_eq!(value["id"].as_str(), Some(s.as_str())),
                None => assert!(value.get("id").is_none_or(|v| v.is_null())),
            }
        }
        assert!(
            accepted > 100,
            "the mutations kept some messages valid ({accepted})"
        );
    }
}

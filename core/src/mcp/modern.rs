//! The 2026-07-28 era: stateless requests with per-request `_meta`, the
//! `MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` header mirror, and
//! `resultType` + `serverInfo` on every result.
//!
//! Check order for a request (first failure answers):
//! 1. `MCP-Protocol-Version` header present (else 400, -32020);
//! 2. `_meta["io.modelcontextprotocol/protocolVersion"]` present and a string
//!    (else 400, -32602);
//! 3. header equals `_meta` version (else 400, -32020);
//! 4. version supported in this era (else 400, -32022 with `data.supported`);
//! 5. `Mcp-Method` equals `method` (else 400, -32020);
//! 6. `Mcp-Name` equals `params.name` / `params.uri` after Base64-sentinel
//!    decoding, for `tools/call`, `resources/read`, `prompts/get`, and each
//!    `x-mcp-header` argument of a `tools/call` equals its `Mcp-Param-*`
//!    header (else 400, -32020);
//! 7. `clientCapabilities` present (else 400, -32602); `logLevel` valid
//!    (else 400, -32602);
//! 8. method known (else 404, -32601); for `tools/call`, `prompts/get` and
//!    `resources/read`, `inputResponses` an object of objects and
//!    `requestState` a string when present (else -32602).
//!
//! Handler errors get [`http_status`] of their code. A handler's
//! [`InputRequired`](super::InputRequired) becomes a result with
//! `resultType: "input_required"`.
//!
//! `subscriptions/listen` is answered with an acknowledgment of an empty
//! filter followed by the graceful-closure result: registrations are fixed
//! at start-up, so there is nothing to notify.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value, json};

use super::context::LogLevel;
use super::jsonrpc::{Envelope, ErrorCode, MessageKind, RequestId};
use super::legacy::error_json;
use super::methods::Dispatch;
use super::params::{check_param_headers, decode_header_value};
use super::server::{Entropy, McpServer, WireError, error_response, unsupported_version};
use super::session::session_owner;
use super::state::{StateSeal, hex};
use super::{McpOutcome, ProtocolVersion};
use crate::http::{Request, Response};
use crate::principal::Principal;
use crate::sync::Arc;
use crate::time::UnixTime;

pub(crate) const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
const META_LOG: &str = "io.modelcontextprotocol/logLevel";
const META_SERVER: &str = "io.modelcontextprotocol/serverInfo";
const META_SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";

/// Methods that may answer with an `InputRequiredResult` and so read
/// `inputResponses` / `requestState` of a retry.
const INPUT_CAPABLE: [&str; 3] = ["tools/call", "prompts/get", "resources/read"];

/// Methods whose results carry caching hints.
const CACHEABLE: [&str; 6] = [
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// The HTTP status of a JSON-RPC error in this era (the one mapping from
/// error code to status, used for handler errors): the 2026-07-28 transport
/// prescribes 400 for `HeaderMismatch`, `MissingRequiredClientCapability`
/// and `UnsupportedProtocolVersion`, and 404 for `Method not found`. Every
/// other error travels in a 200 response.
pub(crate) const fn http_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::HeaderMismatch
        | ErrorCode::MissingRequiredClientCapability
        | ErrorCode::UnsupportedProtocolVersion => 400,
        ErrorCode::MethodNotFound => 404,
        _ => 200,
    }
}

fn respond(e: WireError) -> McpOutcome {
    McpOutcome::Response(error_response(&e, true))
}

fn mismatch(id: &Option<RequestId>, msg: &'static str) -> McpOutcome {
    respond(WireError::new(
        400,
        id.clone(),
        ErrorCode::HeaderMismatch,
        msg,
    ))
}

fn bad_params(id: &Option<RequestId>, msg: &'static str) -> McpOutcome {
    respond(WireError::new(
        400,
        id.clone(),
        ErrorCode::InvalidParams,
        msg,
    ))
}

/// `subscriptions/listen`: this server's lists never change at run time
/// (registrations are fixed at start-up), so it honours no notification type.
/// It acknowledges an empty filter and ends the subscription gracefully at
/// once (acknowledgment, then the completion result), rather than holding a
/// stream open that would never carry anything.
fn listen(id: &RequestId) -> (Value, Map<String, Value>) {
    let sub = super::server::id_json(id);
    let ack = json!({
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": {META_SUBSCRIPTION: sub}, "notifications": {}}
    });
    let mut meta = Map::new();
    meta.insert(META_SUBSCRIPTION.into(), sub);
    let mut result = Map::new();
    result.insert("_meta".into(), Value::Object(meta));
    (ack, result)
}

impl McpServer {
    pub(crate) async fn modern(
        &self,
        req: &Request,
        principal: Option<&Arc<Principal>>,
        now: UnixTime,
        env: &Envelope<'_>,
        params: Option<Map<String, Value>>,
    ) -> McpOutcome {
        let id = env.id.clone();
        match env.kind {
            // No client-to-server notifications are defined on Streamable
            // HTTP in this era; accepting them is harmless.
            MessageKind::Notification => return McpOutcome::Response(Response::empty(202)),
            MessageKind::Response => {
                return respond(WireError::new(
                    400,
                    id,
                    ErrorCode::InvalidRequest,
                    "Clients must not send JSON-RPC responses",
                ));
            }
            MessageKind::Request => {}
        }
        let Some(rid) = id.clone() else {
            return respond(WireError::new(
                400,
                None,
                ErrorCode::InvalidRequest,
                "Invalid Request",
            ));
        };
        let mut params = params.unwrap_or_default();

        // 1–4: versions.
        let Some(header_version) = req.header("mcp-protocol-version").map(str::trim) else {
            return mismatch(
                &id,
                "Header mismatch: MCP-Protocol-Version header is required",
            );
        };
        let meta = params.get("_meta").and_then(Value::as_object);
        let Some(meta_version) = meta.and_then(|m| m.get(META_VERSION)) else {
            return bad_params(&id, "Missing _meta io.modelcontextprotocol/protocolVersion");
        };
        let Some(meta_version) = meta_version.as_str() else {
            return bad_params(
                &id,
                "_meta io.modelcontextprotocol/protocolVersion must be a string",
            );
        };
        if meta_version != header_version {
            return mismatch(
                &id,
                "Header mismatch: MCP-Protocol-Version does not match _meta protocolVersion",
            );
        }
        let version = match ProtocolVersion::parse(meta_version) {
            Some(v) if v.is_modern() => v,
            _ => return respond(unsupported_version(id, meta_version)),
        };

        // 5–6: mirrored headers.
        if req.header_count("Mcp-Method") != 1 {
            return mismatch(&id, "Header mismatch: Mcp-Method header is required");
        }
        if req.header("Mcp-Method").map(str::trim) != Some(env.method.as_str())
            || env.method_too_long
        {
            return mismatch(&id, "Header mismatch: Mcp-Method does not match the body");
        }
        let name_source = match env.method.as_str() {
            "tools/call" | "prompts/get" => Some("name"),
            "resources/read" => Some("uri"),
            _ => None,
        };
        if let Some(field) = name_source {
            if req.header_count("Mcp-Name") != 1 {
                return mismatch(&id, "Header mismatch: Mcp-Name header is required");
            }
            let Some(header) = req.header("Mcp-Name").and_then(decode_header_value) else {
                return mismatch(&id, "Header mismatch: Mcp-Name header is malformed");
            };
            if params.get(field).and_then(Value::as_str) != Some(header.as_str()) {
                return mismatch(&id, "Header mismatch: Mcp-Name does not match the body");
            }
        }
        if env.method == "tools/call" {
            let tool = params
                .get("name")
                .and_then(Value::as_str)
                .and_then(|n| self.registry.find_tool(n));
            if let Some(tool) = tool {
                let headers = |name: &str| {
                    req.headers
                        .iter()
                        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                        .collect::<Vec<_>>()
                };
                if let Err(msg) =
                    check_param_headers(&tool.param_headers, params.get("arguments"), headers)
                {
                    return mismatch(&id, msg);
                }
            }
        }

        // 7: required per-request fields.
        let caps = match meta.and_then(|m| m.get(META_CAPS)) {
            Some(c @ Value::Object(_)) => c.clone(),
            _ => {
                return bad_params(
                    &id,
                    "Missing _meta io.modelcontextprotocol/clientCapabilities",
                );
            }
        };
        let log_level = match meta.and_then(|m| m.get(META_LOG)) {
            None => None,
            Some(v) => match v.as_str().and_then(LogLevel::parse) {
                Some(l) => Some(l),
                None => return bad_params(&id, "Invalid log level"),
            },
        };

        // 8: the method.
        let mut ctx = self.context(principal, version, &rid, &params);
        ctx.client_capabilities = Some(caps);
        ctx.log_level = log_level;
        if INPUT_CAPABLE.contains(&env.method.as_str()) {
            // A retry of an input-required request (multi round-trip).
            match params.get("inputResponses") {
                None => {}
                Some(Value::Object(m)) if m.values().all(Value::is_object) => {
                    ctx.input_responses = Some(m.clone());
                }
                Some(_) => {
                    return respond(WireError::new(
                        200,
                        id,
                        ErrorCode::InvalidParams,
                        "inputResponses must be an object of result objects",
                    ));
                }
            }
            if let Some(key) = &self.state_key {
                let target = name_source
                    .and_then(|f| params.get(f))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                ctx.seal = Some(StateSeal {
                    key: key.clone(),
                    now,
                    ttl_secs: self.config.limits.request_state_ttl_secs,
                    owner: session_owner(principal.map(|p| &**p)).map(|o| hex(&o)),
                    binding: alloc::format!("{}\u{0}{target}", env.method),
                });
            }
            match params.get("requestState") {
                None => {}
                Some(Value::String(st)) => ctx.request_state = Some(st.clone()),
                Some(_) => {
                    return respond(WireError::new(
                        200,
                        id,
                        ErrorCode::InvalidParams,
                        "requestState must be a string",
                    ));
                }
            }
        }
        let mut notes = Vec::new();
        let outcome = match env.method.as_str() {
            "server/discover" => Ok(Dispatch::Result(self.discover())),
            "subscriptions/listen" => {
                let (ack, result) = listen(&rid);
                notes.push(ack);
                Ok(Dispatch::Result(result))
            }
            _ => {
                self.dispatch(&env.method, &mut params, false, &mut ctx)
                    .await
            }
        };
        notes.append(&mut ctx.notifications);
        let entropy = Entropy::none();
        let message = match outcome {
            Ok(Dispatch::Tool(t)) => {
                let r = self.decorate(&env.method, t.to_json(), principal.is_some());
                json!({"jsonrpc": "2.0", "id": super::server::id_json(&rid), "result": r})
            }
            Ok(Dispatch::Result(r)) => {
                let r = self.decorate(&env.method, r, principal.is_some());
                json!({"jsonrpc": "2.0", "id": super::server::id_json(&rid), "result": r})
            }
            Ok(Dispatch::InsufficientScope(required)) => {
                return McpOutcome::InsufficientScope { required };
            }
            // Only 2025-era live calls ask through the stream.
            Ok(Dispatch::Input(_)) => error_json(&rid, &super::context::McpError::internal()),
            Ok(Dispatch::NotFound) => {
                return respond(WireError::new(
                    404,
                    id,
                    ErrorCode::MethodNotFound,
                    "Method not found",
                ));
            }
            Err(e) => {
                let status = http_status(e.code);
                if status != 200 {
                    // A 4xx is a plain JSON error: notifications the handler
                    // emitted before failing are dropped with its work.
                    return respond(WireError {
                        status,
                        id,
                        error: e,
                    });
                }
                error_json(&rid, &e)
            }
        };
        McpOutcome::Response(self.maybe_stream(message, notes, version, &entropy, 200))
    }

    fn discover(&self) -> Map<String, Value> {
        let supported: Vec<&str> = ProtocolVersion::ALL
            .iter()
            .rev()
            .map(|v| v.as_str())
            .collect();
        let mut m = Map::new();
        m.insert("supportedVersions".into(), json!(supported));
        m.insert(
            "capabilities".into(),
            self.registry.capabilities(false, false),
        );
        if let Some(i) = &self.config.instructions {
            m.insert("instructions".into(), Value::String(i.clone()));
        }
        m
    }

    /// Add `resultType`, `_meta.serverInfo` and caching hints.
    fn decorate(
        &self,
        method: &str,
        mut r: Map<String, Value>,
        private: bool,
    ) -> Map<String, Value> {
        // Handlers' input-required results carry their own resultType.
        r.entry("resultType")
            .or_insert_with(|| Value::String("complete".into()));
        let mut info =
            json!({"name": self.config.server_name, "version": self.config.server_version});
        if let (Some(t), Some(o)) = (&self.config.server_title, info.as_object_mut()) {
            o.insert("title".into(), Value::String(t.clone()));
        }
        match r.get_mut("_meta") {
            Some(Value::Object(meta)) => {
                meta.entry(META_SERVER).or_insert(info);
            }
            _ => {
                let mut meta = Map::new();
                meta.insert(META_SERVER.into(), info);
                r.insert("_meta".into(), Value::Object(meta));
            }
        }
        if CACHEABLE.contains(&method) {
            r.insert("ttlMs".into(), Value::from(self.config.cache_ttl_ms));
            let scope = if private { "private" } else { "public" };
            r.insert("cacheScope".into(), Value::String(scope.into()));
        }
        r
    }
}

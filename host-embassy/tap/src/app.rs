//! The application body, identical on a board and on the TAP device: which
//! MCP tools the device serves and how the fleet resource server is built.
//! Written without std so a board crate can include it unchanged; only the
//! initialisation (network driver, RNG, time driver, provisioning source)
//! differs, in `main.rs` here and in the board's `main`.

use alloc::boxed::Box;
use alloc::format;

use mcpauth_core::jose::SigningKey;
use mcpauth_core::mcp::{CallToolResult, McpConfig, McpServer, MemorySessionStore, Registry, Tool};
use mcpauth_core::store::MemoryStoreLimits;
use mcpauth_embassy::{
    DeviceAuthorizationServer, DeviceLogin, FleetService, Provisioning, ProvisioningError,
    StandaloneError, StandaloneService,
};
use serde_json::json;

/// MCP sessions kept at once (2025-era clients); each costs a few hundred
/// bytes of heap.
pub const MCP_SESSIONS: usize = 4;

/// The device's tools: `echo`, `device_status`, `wait` (a slow tool: the
/// other sockets must keep serving meanwhile) and `actuate` (needs
/// `mcp:admin` too, to exercise the 403 step-up).
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    let echo_schema = json!({
        "type": "object",
        "properties": {"text": {"type": "string", "maxLength": 256}},
        "required": ["text"]
    });
    let _ = registry.tool(
        Tool::new("echo", echo_schema).with_description("Echo the text back"),
        |_ctx, args| {
            Box::pin(async move {
                let text = args
                    .get("text")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                Ok(CallToolResult::text(text))
            })
        },
    );
    let _ = registry.tool(
        Tool::new("device_status", json!({"type": "object", "properties": {}}))
            .with_description("Uptime of the device and who is asking"),
        |ctx, _args| {
            Box::pin(async move {
                let uptime = embassy_time::Instant::now().as_secs();
                let who = ctx
                    .principal
                    .as_ref()
                    .map(|p| p.subject.as_str())
                    .unwrap_or("anonymous");
                Ok(CallToolResult::text(format!(
                    "uptime_secs={uptime} caller={who}"
                )))
            })
        },
    );
    let _ = registry.tool(
        Tool::new(
            "actuate",
            json!({"type": "object", "properties": {"on": {"type": "boolean"}}, "required": ["on"]}),
        )
        .with_description("Switch the relay (needs mcp:admin)")
        .with_required_scopes(&["mcp:admin"]),
        |_ctx, args| {
            Box::pin(async move {
                let on = args.get("on").and_then(|v| v.as_bool()).unwrap_or(false);
                Ok(CallToolResult::text(if on { "relay on" } else { "relay off" }))
            })
        },
    );
    let _ = registry.tool(
        Tool::new(
            "wait",
            json!({"type": "object", "properties": {"ms": {"type": "integer", "minimum": 0, "maximum": 5000}}, "required": ["ms"]}),
        )
        .with_description("Wait, as a slow sensor read would (at most 5 s)"),
        |_ctx, args| {
            Box::pin(async move {
                let ms = args.get("ms").and_then(|v| v.as_u64()).unwrap_or(0).min(5000);
                embassy_time::Timer::after_millis(ms).await;
                Ok(CallToolResult::text(format!("waited {ms} ms")))
            })
        },
    );
    registry
}

/// The fleet resource server for `provisioning`, with the MCP endpoint at
/// the path of the resource URL.
pub fn resource_server(provisioning: Provisioning<'_>) -> Result<FleetService, ProvisioningError> {
    let path = Some(mcpauth_core::server::resource_path(provisioning.resource))
        .filter(|p| !p.is_empty())
        .unwrap_or("/mcp");
    FleetService::new(provisioning, mcp_server(path))
}

fn mcp_server(endpoint_path: &str) -> McpServer {
    let mut config = McpConfig::new("mcpauth-embassy-device", env!("CARGO_PKG_VERSION"));
    config.endpoint_path = endpoint_path.into();
    config.limits.sessions = MCP_SESSIONS;
    config.limits.page_size = 16;
    let sessions = MemorySessionStore::new(MCP_SESSIONS, config.limits.session_idle_secs);
    McpServer::new(config, registry(), Box::new(sessions))
}

/// The standalone device's authorization server: `issuer` is the device's
/// public base URL; the store has the core's device-sized tables.
pub fn authorization_server(issuer: &str, login: DeviceLogin) -> DeviceAuthorizationServer {
    mcpauth_embassy::authorization_server(
        issuer,
        login,
        MemoryStoreLimits::DEVICE,
        "mcpauth device",
    )
}

/// Issuer + MCP on the device, signing with `key`.
pub fn standalone_service(
    auth: DeviceAuthorizationServer,
    key: SigningKey,
) -> Result<StandaloneService, StandaloneError> {
    StandaloneService::new(auth, mcp_server("/mcp"), key)
}

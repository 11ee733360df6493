//! A fleet device on a chip without compare-and-swap, as far as it can be
//! had without a board: mcpauth-core without `issuer` (no `rsa`, no `url`)
//! and mcpauth-embassy without `standalone`, linked into a `#![no_std]`
//! `#![no_main]` binary for thumbv6m-none-eabi and riscv32imc-unknown-none-elf
//! (scripts/cas-free-check.sh). `check` is what the binary would run: the
//! fleet checks of nostd-check (metadata, 401, 503 without a clock, a
//! token of the issuer accepted, expired refused, a stateless 2026-07-28
//! `tools/call`) and one poll of the server's runner on a null network
//! driver. The token was signed by the build script (the issuer's side).
#![no_std]
#![no_main]

extern crate alloc;

mod board;

use alloc::boxed::Box;
use alloc::string::String;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use mcpauth_core::http::Response;
use mcpauth_core::mcp::{CallToolResult, McpConfig, McpServer, NoSessionStore, Registry, Tool};
use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::time::UnixTime;
use mcpauth_embassy::{
    BoardRng, Config, DeviceEnv, FleetService, Provisioning, Resources, Service, WallClock,
};

const ISSUER: &str = "https://issuer.example";
const RESOURCE: &str = "http://device.example/mcp";
const TOKEN: &str = include_str!(concat!(env!("OUT_DIR"), "/token.txt"));
const JWKS: &str = include_str!(concat!(env!("OUT_DIR"), "/jwks.json"));

/// SplitMix64 — **no security**: this binary only proves building and linking.
struct CheckOnlyRandom(u64);

impl SecureRandom for CheckOnlyRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        for chunk in dest.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// A network driver whose link is down: nothing is sent or received.
struct NullDriver;
struct NoToken;

impl embassy_net_driver::RxToken for NoToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        f(&mut [])
    }
}

impl embassy_net_driver::TxToken for NoToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = alloc::vec![0u8; len];
        f(&mut buf)
    }
}

impl embassy_net_driver::Driver for NullDriver {
    type RxToken<'a> = NoToken;
    type TxToken<'a> = NoToken;
    fn receive(&mut self, _: &mut Context<'_>) -> Option<(NoToken, NoToken)> {
        None
    }
    fn transmit(&mut self, _: &mut Context<'_>) -> Option<NoToken> {
        None
    }
    fn link_state(&mut self, _: &mut Context<'_>) -> LinkState {
        LinkState::Down
    }
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = 1514;
        caps
    }
    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet([2, 0, 0, 0, 0, 1])
    }
}

fn serve(
    service: &impl Service,
    raw: &[u8],
    now: Option<UnixTime>,
) -> Result<Response, &'static str> {
    let head = mcpauth_embassy::http::parse_head(raw, 4096, 4096, None)
        .map_err(|_| "framing refused")?
        .ok_or("incomplete head")?;
    let mut req = head.request;
    req.body = raw.get(head.len..).ok_or("body")?.to_vec();
    let rng = BoardRng::new(CheckOnlyRandom(7));
    let mut handle = rng.handle();
    let env = DeviceEnv {
        now,
        rng: &mut handle,
    };
    Ok(embassy_futures::block_on(service.handle(req, env)))
}

fn request(auth: &str, body: &str) -> String {
    alloc::format!(
        "POST /mcp HTTP/1.1\r\nHost: device.example\r\n{auth}Content-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn modern_call(auth: &str) -> String {
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ping","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    alloc::format!(
        "POST /mcp HTTP/1.1\r\nHost: device.example\r\n{auth}Content-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n\
         Mcp-Method: tools/call\r\nMcp-Name: ping\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// What the firmware would run; `Err` names the first failed check.
fn check() -> Result<(), &'static str> {
    let now = UnixTime(1_800_000_000);
    let mut registry = Registry::new();
    registry
        .tool(
            Tool::new("ping", serde_json::json!({"type": "object"})),
            |_ctx, _args| Box::pin(async move { Ok(CallToolResult::text("pong")) }),
        )
        .map_err(|_| "registry")?;
    let mut mcp_config = McpConfig::new("cas-free-device", "0");
    mcp_config.stateless = true;
    let mcp = McpServer::new(mcp_config, registry, Box::new(NoSessionStore));
    let service = FleetService::new(
        Provisioning {
            issuer: ISSUER,
            resource: RESOURCE,
            jwks_json: JWKS,
            scopes: &["mcp"],
            clock_leeway_secs: mcpauth_core::jose::DEFAULT_LEEWAY_SECS,
        },
        mcp,
    )
    .map_err(|_| "provisioning refused")?;

    let meta = serve(
        &service,
        b"GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: d\r\n\r\n",
        Some(now),
    )?;
    if meta.status != 200 {
        return Err("metadata not served");
    }
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#;
    if serve(&service, request("", init).as_bytes(), Some(now))?.status != 401 {
        return Err("request without a token not challenged");
    }
    let bearer = alloc::format!("Authorization: Bearer {TOKEN}\r\n");
    if serve(&service, request(&bearer, init).as_bytes(), None)?.status != 503 {
        return Err("token accepted without a clock");
    }
    if serve(&service, request(&bearer, init).as_bytes(), Some(now))?.status != 200 {
        return Err("valid token refused");
    }
    let late = Some(now.plus(3600));
    if serve(&service, request(&bearer, init).as_bytes(), late)?.status != 401 {
        return Err("expired token accepted");
    }
    let modern = serve(&service, modern_call(&bearer).as_bytes(), Some(now))?;
    if modern.status != 200 {
        return Err("2026-07-28: tools/call with a valid token refused");
    }

    // The whole server on a null driver: one poll makes every socket listen.
    let mut stack_resources = embassy_net::StackResources::<3>::new();
    let (stack, _net_runner) = embassy_net::new(
        NullDriver,
        embassy_net::Config::default(),
        &mut stack_resources,
        1,
    );
    let mut resources = Resources::<2>::new();
    let board_rng = BoardRng::new(CheckOnlyRandom(9));
    let clock = WallClock::unknown();
    clock.set(now);
    let mut runner = mcpauth_embassy::new(
        stack,
        Config::default(),
        &mut resources,
        &service,
        &board_rng,
        &clock,
    );
    let mut run = pin!(runner.run());
    let mut cx = Context::from_waker(Waker::noop());
    if !matches!(run.as_mut().poll(&mut cx), Poll::Pending) {
        return Err("runner returned");
    }
    Ok(())
}

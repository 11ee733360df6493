//! The host-embassy half of the link check: links `mcpauth-embassy` (and
//! through it embassy-net, embassy-time, embassy-sync, httparse) without
//! std, builds the whole server on a null network driver, polls its
//! `Runner::run` once (every socket starts listening), and serves requests
//! through the fleet `FleetService` from raw HTTP bytes.
//!
//! The board pieces a real device supplies are stubbed here, with the only
//! unsafe code of this module: a single-threaded critical section (this
//! binary has one thread and no interrupts) and a time driver counting
//! calls (nothing here waits on a timer).
#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::string::String;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use mcpauth_core::http::Response;
use mcpauth_core::jose::{AccessTokenClaims, Audience, JwksRefreshSchedule, KeySet, SigningKey};
use mcpauth_core::mcp::{CallToolResult, McpConfig, McpServer, NoSessionStore, Registry, Tool};
use mcpauth_core::store::MemoryStoreLimits;
use mcpauth_core::time::UnixTime;

use crate::CheckOnlyRandom;
use mcpauth_embassy::{
    BoardRng, Config, DeviceEnv, DeviceLogin, FetchBuffers, FleetService, HttpJwksFetcher,
    Provisioning, Resources, Service, StandaloneService, WallClock,
};

// ------------------------------------------------------------ board stubs

struct SingleThread;
critical_section::set_impl!(SingleThread);

// SAFETY: one thread, no interrupts: nothing can preempt a critical section.
unsafe impl critical_section::Impl for SingleThread {
    unsafe fn acquire() -> critical_section::RawRestoreState {}
    unsafe fn release(_: critical_section::RawRestoreState) {}
}

static TICKS: AtomicU64 = AtomicU64::new(0);

struct CountingTimeDriver;

impl embassy_time_driver::Driver for CountingTimeDriver {
    fn now(&self) -> u64 {
        TICKS.fetch_add(1, Ordering::Relaxed)
    }
    fn schedule_wake(&self, _at: u64, _waker: &Waker) {}
}

embassy_time_driver::time_driver_impl!(static DRIVER: CountingTimeDriver = CountingTimeDriver);

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
        let mut frame = [0u8; 1514];
        f(&mut frame[..len.min(1514)])
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
        HardwareAddress::Ethernet([0x02, 0, 0, 0, 0, 1])
    }
}

// ------------------------------------------------------------- the check

const ISSUER: &str = "https://issuer.example";
const RESOURCE: &str = "http://device.example/mcp";

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

/// A stateless 2026-07-28 `tools/call` (no session: version and method in
/// the headers and in `_meta`).
fn modern_call(auth: &str, tool: &str) -> String {
    let body = alloc::format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    );
    alloc::format!(
        "POST /mcp HTTP/1.1\r\nHost: device.example\r\n{auth}Content-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n\
         Mcp-Method: tools/call\r\nMcp-Name: {tool}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Runs the checks; returns the size report.
pub fn embassy_check() -> Result<String, &'static str> {
    // The issuer side: a key set and a token for this device.
    let mut rng = CheckOnlyRandom(0x6465_7669_6365);
    let issuer = KeySet::new(SigningKey::generate(&mut rng, 2048).map_err(|_| "keygen")?);
    let now = UnixTime(1_800_000_000);
    let claims = AccessTokenClaims {
        iss: String::from(ISSUER),
        sub: String::from("alice"),
        aud: Audience::One(String::from(RESOURCE)),
        client_id: String::from("client-1"),
        scope: String::from("mcp"),
        iat: now.secs(),
        exp: now.secs() + 300,
        jti: String::new(),
        extra: Default::default(),
    };
    let token = issuer
        .issue_access_token(&claims, &mut rng)
        .map_err(|_| "signing failed")?;

    // The device side: fleet resource server provisioned with the JWKS.
    let mut registry = Registry::new();
    registry
        .tool(
            Tool::new("ping", serde_json::json!({"type": "object"})),
            |_ctx, _args| Box::pin(async move { Ok(CallToolResult::text("pong")) }),
        )
        .map_err(|_| "registry")?;
    let mut mcp_config = McpConfig::new("nostd-device", "0");
    mcp_config.stateless = true;
    let mcp = McpServer::new(mcp_config, registry, Box::new(NoSessionStore));
    let jwks = issuer.to_jwks_json();
    let service = FleetService::new(
        Provisioning {
            issuer: ISSUER,
            resource: RESOURCE,
            jwks_json: &jwks,
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
    let bearer = alloc::format!("Authorization: Bearer {token}\r\n");
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
    // The 2026-07-28 era: a stateless tools/call, answered by the tool.
    if serve(&service, modern_call("", "ping").as_bytes(), Some(now))?.status != 401 {
        return Err("2026-07-28: request without a token not challenged");
    }
    let modern = serve(&service, modern_call(&bearer, "ping").as_bytes(), Some(now))?;
    if modern.status != 200 {
        return Err("2026-07-28: tools/call with a valid token refused");
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&modern.body).map_err(|_| "2026-07-28: response not JSON")?;
    if answer["result"]["content"][0]["text"] != "pong" {
        return Err("2026-07-28: tools/call did not return the tool's result");
    }
    if serve(&service, modern_call(&bearer, "ping").as_bytes(), late)?.status != 401 {
        return Err("2026-07-28: expired token accepted");
    }

    // The standalone shape: the device as its own issuer.
    let login = DeviceLogin::new("admin", "device password", &mut rng).map_err(|_| "rng")?;
    let auth = mcpauth_embassy::authorization_server(
        "http://device.example",
        login,
        MemoryStoreLimits::DEVICE,
        "device",
    );
    let standalone_mcp = McpServer::new(
        McpConfig::new("nostd-device", "0"),
        Registry::new(),
        Box::new(NoSessionStore),
    );
    let device_key = SigningKey::generate(&mut rng, 2048).map_err(|_| "keygen")?;
    let standalone =
        StandaloneService::new(auth, standalone_mcp, device_key).map_err(|_| "standalone")?;
    let as_meta = serve(
        &standalone,
        b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: d\r\n\r\n",
        Some(now),
    )?;
    if as_meta.status != 200 {
        return Err("standalone: authorization-server metadata not served");
    }
    if serve(&standalone, request("", init).as_bytes(), Some(now))?.status != 401 {
        return Err("standalone: request without a token not challenged");
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
    let run_future = size_of_val(&*run);

    // A fleet service with the plain-HTTP fetcher, and its key-refresh task.
    let mut fetch_buffers = FetchBuffers::new();
    let fetcher = HttpJwksFetcher::new(
        stack,
        "http://10.0.0.1/.well-known/jwks.json",
        &mut fetch_buffers,
        embassy_time::Duration::from_secs(5),
    )
    .map_err(|_| "fetcher")?;
    let mut fetching_mcp_config = McpConfig::new("nostd-device", "0");
    fetching_mcp_config.stateless = true;
    let fetching = FleetService::new(
        Provisioning {
            issuer: ISSUER,
            resource: RESOURCE,
            jwks_json: &jwks,
            scopes: &["mcp"],
            clock_leeway_secs: mcpauth_core::jose::DEFAULT_LEEWAY_SECS,
        },
        McpServer::new(fetching_mcp_config, Registry::new(), Box::new(NoSessionStore)),
    )
    .map_err(|_| "provisioning refused")?
    .with_fetcher(fetcher, JwksRefreshSchedule::new());
    let refresh_future = size_of_val(&fetching.run_key_refresh());

    Ok(alloc::format!(
        "nostd-check: static RAM of the board pieces (x86_64 release, no_std; bytes):\n\
         \x20 socket slot (Resources<N> per socket: TCP rx + tx + request buffer) {slot} (Resources<2> = {resources2})\n\
         \x20 Runner::run() future, fleet service, 2 sockets {run_future}\n\
         \x20 FleetService<NoFetcher> {fleet}, FleetService<HttpJwksFetcher> {fleet_http}, StandaloneService {standalone}\n\
         \x20 run_key_refresh() future (HttpJwksFetcher) {refresh_future}, FetchBuffers {fetch_buffers_size}\n\
         \x20 WallClock {clock_size}, BoardRng<_> around a {rng_inner} B RNG {rng_size}\n\
         \x20 embassy_net::StackResources<3> {stack_resources_size}\n",
        slot = mcpauth_embassy::SLOT_BYTES,
        resources2 = size_of::<Resources<2>>(),
        fleet = size_of::<FleetService>(),
        fleet_http = size_of_val(&fetching),
        standalone = size_of::<StandaloneService>(),
        fetch_buffers_size = size_of::<FetchBuffers>(),
        clock_size = size_of::<WallClock>(),
        rng_inner = size_of::<CheckOnlyRandom>(),
        rng_size = size_of::<BoardRng<CheckOnlyRandom>>(),
        stack_resources_size = size_of::<embassy_net::StackResources<3>>(),
    ))
}

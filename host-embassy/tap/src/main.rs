//! host-embassy on Linux: embassy-executor (`platform-std`), embassy-time's
//! std driver and `embassy-net-tuntap`, serving on a TAP device. The
//! stand-in for a board: here the "hardware RNG" is getrandom and the
//! provisioning comes from files and arguments.
//!
//! ```text
//! # fleet resource server (tokens from a central issuer)
//! mcpauth-embassy-tap --tap tap0 --ip 10.42.0.2/24 --port 80 \
//!     --issuer https://issuer.example --resource http://10.42.0.2/mcp \
//!     --jwks jwks.json [--scopes mcp] [--clock provisioned|unset] \
//!     [--idle-timeout-ms N] [--request-timeout-ms N] \
//!     [--jwks-url http://10.42.0.1:8080/.well-known/jwks.json] [--leeway-secs N] \
//!     [--unknown-kid-spacing-secs N] [--jwks-refresh-secs N]
//! # standalone: the device is its own issuer
//! mcpauth-embassy-tap --mode standalone --tap tap2 --ip 10.42.2.2/24 \
//!     --issuer http://10.42.2.2 --key signing-key.der --user admin --password PW
//! ```
extern crate alloc;

mod app;

use std::net::Ipv4Addr;

use embassy_executor::Spawner;
use embassy_net::{Ipv4Cidr, Stack, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use mcpauth_core::jose::{DEFAULT_LEEWAY_SECS, JwksRefreshSchedule, SigningKey};
use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::time::UnixTime;
use mcpauth_embassy::{
    BoardRng, Config, DeviceAuthorizationServer, DeviceLogin, FetchBuffers, FleetService,
    HttpJwksFetcher, Provisioning, Resources, StandaloneService, WallClock,
};
use static_cell::{ConstStaticCell, StaticCell};

/// Concurrent HTTP connections.
const SOCKETS: usize = 4;

/// The "board RNG" of this stand-in board: the OS CSPRNG.
struct LinuxRng;

impl SecureRandom for LinuxRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        getrandom::fill(dest).map_err(|_| RngError)
    }
}

struct Args {
    standalone: bool,
    tap: String,
    ip: Ipv4Cidr,
    port: u16,
    issuer: String,
    resource: String,
    jwks: String,
    key: Vec<u8>,
    user: String,
    password: String,
    scopes: Vec<String>,
    clock_known: bool,
    idle_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    jwks_url: Option<String>,
    leeway_secs: u64,
    schedule: JwksRefreshSchedule,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        standalone: false,
        tap: "tap0".into(),
        ip: Ipv4Cidr::new(Ipv4Addr::new(10, 42, 0, 2), 24),
        port: 80,
        issuer: String::new(),
        resource: String::new(),
        jwks: String::new(),
        key: Vec::new(),
        user: "admin".into(),
        password: String::new(),
        scopes: vec!["mcp".into()],
        clock_known: true,
        idle_timeout_ms: None,
        request_timeout_ms: None,
        jwks_url: None,
        leeway_secs: DEFAULT_LEEWAY_SECS,
        schedule: JwksRefreshSchedule::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--mode" => args.standalone = value == "standalone",
            "--tap" => args.tap = value,
            "--ip" => {
                let (ip, len) = value.split_once('/').ok_or("--ip wants a.b.c.d/len")?;
                let ip: Ipv4Addr = ip.parse().map_err(|_| "bad --ip address")?;
                let len: u8 = len.parse().map_err(|_| "bad --ip prefix")?;
                args.ip = Ipv4Cidr::new(ip, len);
            }
            "--port" => args.port = value.parse().map_err(|_| "bad --port")?,
            "--issuer" => args.issuer = value,
            "--resource" => args.resource = value,
            "--jwks" => {
                args.jwks = std::fs::read_to_string(&value).map_err(|e| format!("{value}: {e}"))?
            }
            "--key" => args.key = std::fs::read(&value).map_err(|e| format!("{value}: {e}"))?,
            "--user" => args.user = value,
            "--password" => args.password = value,
            "--scopes" => args.scopes = value.split(' ').map(String::from).collect(),
            "--clock" => args.clock_known = value != "unset",
            "--idle-timeout-ms" => {
                args.idle_timeout_ms = Some(value.parse().map_err(|_| "bad --idle-timeout-ms")?)
            }
            "--request-timeout-ms" => {
                args.request_timeout_ms =
                    Some(value.parse().map_err(|_| "bad --request-timeout-ms")?)
            }
            "--jwks-url" => args.jwks_url = Some(value),
            "--leeway-secs" => args.leeway_secs = value.parse().map_err(|_| "bad --leeway-secs")?,
            "--unknown-kid-spacing-secs" => {
                args.schedule.unknown_kid_spacing_secs = value
                    .parse()
                    .map_err(|_| "bad --unknown-kid-spacing-secs")?
            }
            "--jwks-refresh-secs" => {
                args.schedule.period_secs = value.parse().map_err(|_| "bad --jwks-refresh-secs")?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let complete = if args.standalone {
        !args.issuer.is_empty() && !args.key.is_empty() && !args.password.is_empty()
    } else {
        !args.issuer.is_empty() && !args.resource.is_empty() && !args.jwks.is_empty()
    };
    if !complete {
        return Err("fleet needs --issuer, --resource and --jwks; \
                    standalone needs --issuer, --key and --password"
            .into());
    }
    Ok(args)
}

fn fail(msg: &str) -> ! {
    eprintln!("mcpauth-embassy-tap: {msg}");
    std::process::exit(2);
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

/// The plain-HTTP JWKS fetcher, reporting each fetch on stderr.
struct LoggedFetcher(HttpJwksFetcher<'static>);

impl mcpauth_embassy::JwksFetcher for LoggedFetcher {
    async fn fetch(&mut self, buf: &mut [u8]) -> Result<usize, mcpauth_embassy::FetchError> {
        let result = self.0.fetch(buf).await;
        match &result {
            Ok(n) => eprintln!("mcpauth-embassy-tap: fetched the issuer's JWKS ({n} B)"),
            Err(e) => eprintln!("mcpauth-embassy-tap: JWKS fetch failed: {e:?}"),
        }
        result
    }
}

/// The fleet service with the plain-HTTP JWKS fetcher (or none).
type Fleet = FleetService<Option<LoggedFetcher>>;
type FleetRunner = mcpauth_embassy::Runner<'static, Fleet, LinuxRng, SOCKETS>;
type StandaloneRunner =
    mcpauth_embassy::Runner<'static, StandaloneService<'static>, LinuxRng, SOCKETS>;

#[embassy_executor::task]
async fn fleet_task(mut runner: FleetRunner) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn keys_task(service: &'static Fleet) -> ! {
    service.run_key_refresh().await
}

#[embassy_executor::task]
async fn standalone_task(mut runner: StandaloneRunner) -> ! {
    runner.run().await
}

static STACK_RESOURCES: StaticCell<StackResources<{ SOCKETS + 1 }>> = StaticCell::new();
// Const-initialised in place: no 47 KiB temporary on the stack (matters on a board).
static HTTP_RESOURCES: ConstStaticCell<Resources<SOCKETS>> = ConstStaticCell::new(Resources::new());
static FLEET: StaticCell<Fleet> = StaticCell::new();
static FETCH_BUFFERS: ConstStaticCell<FetchBuffers> = ConstStaticCell::new(FetchBuffers::new());
static AUTH: StaticCell<DeviceAuthorizationServer> = StaticCell::new();
static STANDALONE: StaticCell<StandaloneService<'static>> = StaticCell::new();
static RNG: StaticCell<BoardRng<LinuxRng>> = StaticCell::new();
static CLOCK: WallClock = WallClock::unknown();

fn start_network(spawner: &Spawner, args: &Args, rng: &BoardRng<LinuxRng>) -> Stack<'static> {
    let device = TunTapDevice::new(&args.tap)
        .unwrap_or_else(|e| fail(&format!("cannot open TAP device {}: {e}", args.tap)));
    let net_config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: args.ip,
        gateway: None,
        dns_servers: Default::default(),
    });
    let mut seed = [0u8; 8];
    if rng.handle().fill(&mut seed).is_err() {
        fail("RNG failed");
    }
    let (stack, net_runner) = embassy_net::new(
        device,
        net_config,
        STACK_RESOURCES.init(StackResources::new()),
        u64::from_le_bytes(seed),
    );
    spawner.spawn(net_task(net_runner).expect("net task"));
    stack
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let args = parse_args().unwrap_or_else(|e| fail(&e));

    // Provisioning of the wall clock (a board would read an RTC or run SNTP).
    if args.clock_known {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        CLOCK.set(UnixTime(secs));
    }
    let rng: &'static BoardRng<LinuxRng> = RNG.init(BoardRng::new(LinuxRng));
    let stack = start_network(&spawner, &args, rng);
    let mut config = Config {
        port: args.port,
        ..Config::default()
    };
    if let Some(ms) = args.idle_timeout_ms {
        config.idle_timeout = embassy_time::Duration::from_millis(ms);
    }
    if let Some(ms) = args.request_timeout_ms {
        config.request_timeout = embassy_time::Duration::from_millis(ms);
    }
    let resources = HTTP_RESOURCES.take();
    let (task_bytes, what) = if args.standalone {
        let key = SigningKey::from_pkcs8_der(&args.key)
            .unwrap_or_else(|_| fail("the signing key is not an RSA PKCS#8 DER key"));
        let login = DeviceLogin::new(&args.user, &args.password, &mut rng.handle())
            .unwrap_or_else(|_| fail("RNG failed"));
        let auth = AUTH.init(app::authorization_server(&args.issuer, login));
        let service = STANDALONE.init(
            app::standalone_service(auth, key)
                .unwrap_or_else(|e| fail(&format!("standalone refused: {e:?}"))),
        );
        let mut runner = mcpauth_embassy::new(stack, config, resources, &*service, rng, &CLOCK);
        // RAM of the server task's state besides the static buffers.
        let bytes = core::mem::size_of_val(&runner.run());
        spawner.spawn(standalone_task(runner).expect("http task"));
        (bytes, format!("standalone issuer {}", args.issuer))
    } else {
        let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
        let fetcher = args.jwks_url.as_deref().map(|url| {
            HttpJwksFetcher::new(
                stack,
                url,
                FETCH_BUFFERS.take(),
                embassy_time::Duration::from_secs(5),
            )
            .map(LoggedFetcher)
            .unwrap_or_else(|e| fail(&format!("--jwks-url refused: {e:?}")))
        });
        let service: &'static Fleet = FLEET.init(
            app::resource_server(Provisioning {
                issuer: &args.issuer,
                resource: &args.resource,
                jwks_json: &args.jwks,
                scopes: &scopes,
                clock_leeway_secs: args.leeway_secs,
            })
            .unwrap_or_else(|e| fail(&format!("provisioning refused: {e}")))
            .with_fetcher(fetcher, args.schedule.clone()),
        );
        let mut runner = mcpauth_embassy::new(stack, config, resources, service, rng, &CLOCK);
        let bytes = core::mem::size_of_val(&runner.run());
        spawner.spawn(fleet_task(runner).expect("http task"));
        spawner.spawn(keys_task(service).expect("keys task"));
        (bytes, format!("fleet resource {}", args.resource))
    };
    println!(
        "mcpauth-embassy-tap: serving {what} on {} port {} ({SOCKETS} sockets, {} B static \
         buffers, {task_bytes} B run() future, clock {})",
        args.ip,
        args.port,
        core::mem::size_of::<Resources<SOCKETS>>(),
        if args.clock_known {
            "provisioned"
        } else {
            "unset"
        }
    );
}

//! host-embassy on Linux: embassy-executor (`platform-std`), embassy-time's
//! std driver and `embassy-net-tuntap`, serving the fleet resource server on
//! a TAP device. The stand-in for a board: here the "hardware RNG" is
//! getrandom and the provisioning comes from files and arguments.
//!
//! ```text
//! mcpauth-embassy-tap --tap tap0 --ip 10.42.0.2/24 --port 80 \
//!     --issuer https://issuer.example --resource http://10.42.0.2/mcp \
//!     --jwks jwks.json [--scopes mcp] [--clock provisioned|unset]
//! ```
extern crate alloc;

mod app;

use std::net::Ipv4Addr;

use embassy_executor::Spawner;
use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::time::UnixTime;
use mcpauth_embassy::{BoardRng, Config, FleetService, Provisioning, Resources, WallClock};
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
    tap: String,
    ip: Ipv4Cidr,
    port: u16,
    issuer: String,
    resource: String,
    jwks: String,
    scopes: Vec<String>,
    clock_known: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tap: "tap0".into(),
        ip: Ipv4Cidr::new(Ipv4Addr::new(10, 42, 0, 2), 24),
        port: 80,
        issuer: String::new(),
        resource: String::new(),
        jwks: String::new(),
        scopes: vec!["mcp".into()],
        clock_known: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
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
            "--scopes" => args.scopes = value.split(' ').map(String::from).collect(),
            "--clock" => args.clock_known = value != "unset",
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.issuer.is_empty() || args.resource.is_empty() || args.jwks.is_empty() {
        return Err("--issuer, --resource and --jwks are required".into());
    }
    Ok(args)
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

type HttpRunner = mcpauth_embassy::Runner<'static, FleetService, LinuxRng, SOCKETS>;

#[embassy_executor::task]
async fn http_task(mut runner: HttpRunner) -> ! {
    runner.run().await
}

static STACK_RESOURCES: StaticCell<StackResources<{ SOCKETS + 1 }>> = StaticCell::new();
// Const-initialised in place: no 47 KiB temporary on the stack (matters on a board).
static HTTP_RESOURCES: ConstStaticCell<Resources<SOCKETS>> = ConstStaticCell::new(Resources::new());
static SERVICE: StaticCell<FleetService> = StaticCell::new();
static RNG: StaticCell<BoardRng<LinuxRng>> = StaticCell::new();
static CLOCK: WallClock = WallClock::unknown();

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mcpauth-embassy-tap: {e}");
            std::process::exit(2);
        }
    };

    // Provisioning: the wall clock (a board would read an RTC or run SNTP),
    // the issuer, the resource URL and the JWKS.
    if args.clock_known {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        CLOCK.set(UnixTime(secs));
    }
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let service = match app::resource_server(Provisioning {
        issuer: &args.issuer,
        resource: &args.resource,
        jwks_json: &args.jwks,
        scopes: &scopes,
    }) {
        Ok(s) => SERVICE.init(s),
        Err(e) => {
            eprintln!("mcpauth-embassy-tap: provisioning refused: {e}");
            std::process::exit(2);
        }
    };

    let device = match TunTapDevice::new(&args.tap) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "mcpauth-embassy-tap: cannot open TAP device {}: {e}",
                args.tap
            );
            std::process::exit(2);
        }
    };
    let net_config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: args.ip,
        gateway: None,
        dns_servers: Default::default(),
    });
    let mut seed = [0u8; 8];
    let rng = RNG.init(BoardRng::new(LinuxRng));
    if rng.handle().fill(&mut seed).is_err() {
        eprintln!("mcpauth-embassy-tap: RNG failed");
        std::process::exit(2);
    }
    let (stack, net_runner) = embassy_net::new(
        device,
        net_config,
        STACK_RESOURCES.init(StackResources::new()),
        u64::from_le_bytes(seed),
    );
    spawner.spawn(net_task(net_runner).expect("net task"));

    let config = Config {
        port: args.port,
        ..Config::default()
    };
    let mut runner =
        mcpauth_embassy::new(stack, config, HTTP_RESOURCES.take(), service, rng, &CLOCK);
    // RAM of the server task's state besides the static buffers (what the
    // task pool reserves for `run()`), reported in BENCHMARKS.md.
    let task_bytes = core::mem::size_of_val(&runner.run());
    spawner.spawn(http_task(runner).expect("http task"));
    println!(
        "mcpauth-embassy-tap: serving {} on {} port {} ({} sockets, {} B static buffers, \
         {} B run() future, clock {})",
        args.resource,
        args.ip,
        args.port,
        SOCKETS,
        core::mem::size_of::<Resources<SOCKETS>>(),
        task_bytes,
        if args.clock_known {
            "provisioned"
        } else {
            "unset"
        }
    );
}

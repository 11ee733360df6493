//! The yardstick of `bench/run.sh interleaved`'s refresh phase: raw RS256
//! signatures with the provider the `mcpauth` binary of the same build uses
//! (aws-lc-rs by default, the pure-Rust `rsa` crate with
//! `--no-default-features`), on one thread, for a given time. Prints the CPU
//! time per signature, so a refresh grant's CPU can be read as "one
//! signature plus the rest".
//!
//! `cargo run --release -p mcpauth --example rs256_sign -- 2`   (seconds)

use std::time::{Duration, Instant};

use mcpauth::env::OsRandom;
use mcpauth::keys::KEY_BITS;
use mcpauth_core::jose::{RsaProvider, SigningKey};

/// A JWS signing input the size of an issued access token's (header and
/// claims, base64url): ~560 bytes.
const SIGNING_INPUT_BYTES: usize = 560;

fn provider() -> &'static dyn RsaProvider {
    #[cfg(feature = "aws-lc")]
    return &mcpauth::aws_lc::AWS_LC_RSA;
    #[cfg(not(feature = "aws-lc"))]
    return &mcpauth_core::jose::PURE_RUST_RSA;
}

/// CPU time this thread has used (`/proc/thread-self/schedstat`, in ns).
fn thread_cpu() -> Result<Duration, String> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").map_err(|e| e.to_string())?;
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or("unreadable schedstat")?;
    Ok(Duration::from_nanos(ns))
}

fn main() -> Result<(), String> {
    let secs: f64 = match std::env::args().nth(1) {
        Some(s) => s
            .parse()
            .map_err(|_| format!("not a number of seconds: {s}"))?,
        None => 2.0,
    };
    let key = SigningKey::generate(&mut OsRandom, KEY_BITS).map_err(|e| e.to_string())?;
    let input = vec![b'e'; SIGNING_INPUT_BYTES];
    let provider = provider();
    // The first signature parses the key into the provider's form (once per
    // key in the server too), and aws-lc seeds its random generator
    // (jitter entropy) on a thread's first draw: shown, not counted below.
    let first = |what: &str| -> Result<(), String> {
        let (wall, cpu) = (Instant::now(), thread_cpu()?);
        provider
            .sign_rs256(&key, &input, &mut OsRandom)
            .map_err(|e| format!("{e:?}"))?;
        println!(
            "{what}: {:.2} ms wall, {:.2} ms CPU",
            wall.elapsed().as_secs_f64() * 1e3,
            (thread_cpu()? - cpu).as_secs_f64() * 1e3
        );
        Ok(())
    };
    first("first signature of the process")?;
    first("second signature")?;
    std::thread::scope(|s| s.spawn(|| first("first signature on a new thread")).join())
        .map_err(|_| "the thread panicked".to_owned())??;
    let wall = Instant::now();
    let cpu = thread_cpu()?;
    let mut signatures = 0u64;
    while wall.elapsed().as_secs_f64() < secs {
        provider
            .sign_rs256(&key, &input, &mut OsRandom)
            .map_err(|e| format!("{e:?}"))?;
        signatures += 1;
    }
    let cpu = thread_cpu()? - cpu;
    println!(
        "raw RS256 sign ({}, {KEY_BITS} bits): {signatures} signatures, {:.1} us CPU per signature",
        provider.name(),
        cpu.as_secs_f64() * 1e6 / signatures.max(1) as f64
    );
    Ok(())
}

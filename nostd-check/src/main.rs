//! A `#![no_std]` `#![no_main]` binary that links mcpauth-core, signs one
//! access token and verifies it. It links against the C runtime only for its
//! entry point, allocator and exit status; Rust's std is never linked.
#![no_std]
#![no_main]

extern crate alloc;

mod embassy;
mod platform;

use alloc::string::String;
use alloc::vec;
use mcpauth_core::jose::{AccessTokenClaims, Audience, KeySet, SigningKey, ValidationPolicy};
use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::time::UnixTime;

/// SplitMix64 — **no security**: this binary only proves linking and logic.
/// Shared by both checks (`embassy.rs` too).
pub(crate) struct CheckOnlyRandom(pub(crate) u64);

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

fn sign_and_verify() -> Result<(), &'static str> {
    let mut rng = CheckOnlyRandom(0x6d63_7061_7574_68);
    let key = SigningKey::generate(&mut rng, 2048).map_err(|_| "key generation failed")?;
    let keys = KeySet::new(key);
    let now = UnixTime(1_800_000_000);
    let claims = AccessTokenClaims {
        iss: String::from("https://issuer.example"),
        sub: String::from("alice"),
        aud: Audience::One(String::from("https://issuer.example/mcp")),
        client_id: String::from("client-1"),
        scope: String::from("mcp"),
        iat: now.secs(),
        exp: now.secs() + 300,
        jti: String::new(),
        extra: Default::default(),
    };
    let token = keys
        .issue_access_token(&claims, &mut rng)
        .map_err(|_| "signing failed")?;
    let policy = ValidationPolicy::new("https://issuer.example", "https://issuer.example/mcp");
    let verified = keys
        .verify_access_token(&token, &policy, Some(now))
        .map_err(|_| "verification failed")?;
    if verified.sub != "alice" {
        return Err("wrong subject after round trip");
    }
    // A tampered token must be refused.
    let mut tampered = vec![0u8; token.len()];
    tampered.copy_from_slice(token.as_bytes());
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = core::str::from_utf8(&tampered).map_err(|_| "utf8")?;
    if keys
        .verify_access_token(tampered, &policy, Some(now))
        .is_ok()
    {
        return Err("tampered token accepted");
    }
    Ok(())
}

#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    match sign_and_verify() {
        Ok(()) => {
            platform::print("nostd-check: signed and verified an RS256 token without std\n");
            match embassy::embassy_check() {
                Ok(sizes) => {
                    platform::print(&sizes);
                    platform::print(
                        "nostd-check: mcpauth-embassy served the fleet checks (2025-11-25 and a stateless 2026-07-28 tools/call) and the standalone checks and started its sockets without std\n",
                    );
                    0
                }
                Err(why) => {
                    platform::print("nostd-check: mcpauth-embassy FAILED: ");
                    platform::print(why);
                    platform::print("\n");
                    1
                }
            }
        }
        Err(why) => {
            platform::print("nostd-check: FAILED: ");
            platform::print(why);
            platform::print("\n");
            1
        }
    }
}

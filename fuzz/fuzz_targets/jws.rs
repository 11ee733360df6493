//! The JWS compact parsers: RS256 access tokens (`KeySet::verify_access_token`)
//! and Privy's ES256 tokens (`verify_privy_token`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mcpauth_core::jose::{KeySet, ValidationPolicy, testing::rfc7515_a2_key};
use mcpauth_core::oauth::privy::{PrivyKey, PrivyTestIssuer, verify_privy_token};
use mcpauth_core::time::UnixTime;

struct Fixture {
    keys: KeySet,
    policy: ValidationPolicy,
    privy: PrivyKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        keys: KeySet::new(rfc7515_a2_key()),
        policy: ValidationPolicy::new("https://as.example", "https://as.example/mcp"),
        privy: PrivyKey::from_pem(&PrivyTestIssuer::from_seed(7).public_pem())
            .expect("the test issuer's key parses"),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    let now = Some(UnixTime(1_700_000_000));
    let _ = f.keys.verify_access_token(token, &f.policy, now);
    let _ = verify_privy_token(token, "app", &f.privy, now);
});

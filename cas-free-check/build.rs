//! The issuer's half, on the build machine: a token for the device signed
//! with the published RFC 7515 A.2 test key, and the JWKS the device is
//! provisioned with. Written to OUT_DIR; nothing secret (the key is public).
use mcpauth_core::jose::testing::rfc7515_a2_key;
use mcpauth_core::jose::{AccessTokenClaims, Audience, KeySet};
use mcpauth_core::rand::InsecureSeededRandom;

fn main() {
    let keys = KeySet::new(rfc7515_a2_key());
    let now: u64 = 1_800_000_000;
    let claims = AccessTokenClaims {
        iss: "https://issuer.example".into(),
        sub: "alice".into(),
        aud: Audience::One("http://device.example/mcp".into()),
        client_id: "client-1".into(),
        scope: "mcp".into(),
        iat: now,
        exp: now + 300,
        jti: String::new(),
        extra: Default::default(),
    };
    let token = keys
        .issue_access_token(&claims, &mut InsecureSeededRandom::new(1))
        .expect("the test key signs");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("token.txt"), token).expect("write token");
    std::fs::write(out.join("jwks.json"), keys.to_jwks_json()).expect("write jwks");
    println!("cargo::rerun-if-changed=build.rs");
}

//! Tests of the JOSE module.

extern crate std;

use super::*;
use crate::rand::InsecureSeededRandom;

#[test]
fn keygen_timing() {
    let t = std::time::Instant::now();
    let mut rng = InsecureSeededRandom::new(1);
    let k = SigningKey::generate(&mut rng, 2048).expect("keygen");
    std::println!("keygen {:?} kid {}", t.elapsed(), k.kid());
}

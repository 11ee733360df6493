//! Randomness as the core sees it: an injected, fallible CSPRNG.

use core::fmt;

/// A cryptographically secure random number generator supplied by the host
/// (OS RNG on a server, hardware RNG on a device, a seeded deterministic one
/// in tests).
///
/// Filling may fail (a hardware RNG can report an error); the core turns that
/// into an error of the operation in progress, never a weaker fallback.
pub trait SecureRandom {
    /// Fill `dest` entirely with random bytes, or fail.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError>;
}

impl<R: SecureRandom + ?Sized> SecureRandom for &mut R {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        (**self).fill(dest)
    }
}

/// The injected RNG could not deliver randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RngError;

impl fmt::Display for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the random number generator failed")
    }
}

/// Draw `N` random bytes.
pub fn random_array<const N: usize>(rng: &mut dyn SecureRandom) -> Result<[u8; N], RngError> {
    let mut out = [0u8; N];
    rng.fill(&mut out)?;
    Ok(out)
}

/// A random identifier of `N` bytes of entropy, base64url without padding
/// (visible ASCII, safe in URLs, headers and JSON).
pub fn random_token<const N: usize>(
    rng: &mut dyn SecureRandom,
) -> Result<alloc::string::String, RngError> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let bytes = random_array::<N>(rng)?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

/// A deterministic generator for tests, fuzzing and simulations.
///
/// **No security whatsoever**: the output is a SplitMix64 stream of the seed,
/// so one seed replays a whole scenario. Only compiled in tests or with the
/// `testing` feature; never wire it into a server.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone)]
pub struct InsecureSeededRandom {
    state: u64,
}

#[cfg(any(test, feature = "testing"))]
impl InsecureSeededRandom {
    /// A generator replaying the stream of `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(any(test, feature = "testing"))]
impl SecureRandom for InsecureSeededRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        for chunk in dest.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

/// A generator that always fails, to test that the core fails closed.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone, Copy, Default)]
pub struct FailingRandom;

#[cfg(any(test, feature = "testing"))]
impl SecureRandom for FailingRandom {
    fn fill(&mut self, _dest: &mut [u8]) -> Result<(), RngError> {
        Err(RngError)
    }
}

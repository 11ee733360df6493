//! The environment the core is handed: the OS random number generator and the
//! wall clock. The core never calls either itself.

use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::time::UnixTime;

/// The operating system's CSPRNG (`getrandom(2)` on Linux). Stateless: every
/// request can make its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        // Failure is reported, never papered over with a weaker source.
        getrandom::fill(dest).map_err(|_| RngError)
    }
}

/// The wall clock as the core wants it: whole Unix seconds, or `None` when the
/// system clock reads before 1970 (then the core fails closed).
pub fn now() -> Option<UnixTime> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| UnixTime(d.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_fills_and_differs() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        OsRandom.fill(&mut a).expect("rng");
        OsRandom.fill(&mut b).expect("rng");
        assert_ne!(a, b);
    }

    #[test]
    fn clock_is_after_2020() {
        assert!(now().expect("clock").secs() > 1_577_836_800);
    }
}

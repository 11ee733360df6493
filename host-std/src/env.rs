//! The environment the core is handed: the OS random number generator and the
//! wall clock. The core never calls either itself.

use mcpauth_core::rand::{RngError, SecureRandom};
use mcpauth_core::time::UnixTime;

/// The operating system's CSPRNG (`getrandom(2)` on Linux). Stateless: every
/// request can make its own.
///
/// Small requests (the MCP server draws 40 bytes per request) are served
/// from a per-thread buffer of OS randomness refilled 512 bytes at a time,
/// so the hot path does not make a system call per request. Every byte
/// still comes from the OS CSPRNG, is handed out once, and is wiped from the
/// buffer as it is handed out. Requests of 64 bytes or more go straight to
/// the OS.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

const BUF_LEN: usize = 512;

struct Pool {
    bytes: [u8; BUF_LEN],
    /// Bytes before `pos` are spent (and zeroed).
    pos: usize,
}

thread_local! {
    static POOL: std::cell::RefCell<Pool> = const {
        std::cell::RefCell::new(Pool { bytes: [0; BUF_LEN], pos: BUF_LEN })
    };
}

impl SecureRandom for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        if dest.len() >= 64 {
            // Failure is reported, never papered over with a weaker source.
            return getrandom::fill(dest).map_err(|_| RngError);
        }
        POOL.with(|pool| {
            let mut pool = pool.try_borrow_mut().map_err(|_| RngError)?;
            if BUF_LEN - pool.pos < dest.len() {
                getrandom::fill(&mut pool.bytes).map_err(|_| RngError)?;
                pool.pos = 0;
            }
            let start = pool.pos;
            let end = start + dest.len();
            dest.copy_from_slice(&pool.bytes[start..end]);
            pool.bytes[start..end].fill(0);
            pool.pos = end;
            Ok(())
        })
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
    fn small_draws_never_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let mut b = [0u8; 16];
            OsRandom.fill(&mut b).expect("rng");
            assert!(seen.insert(b), "a buffered draw repeated");
        }
        let mut big = [0u8; 100];
        OsRandom.fill(&mut big).expect("rng");
        assert!(big.iter().any(|&x| x != 0));
    }

    #[test]
    fn clock_is_after_2020() {
        assert!(now().expect("clock").secs() > 1_577_836_800);
    }
}

//! Randomness: the board supplies a hardware RNG as an implementation of the
//! core's [`SecureRandom`] (fallible: an RNG reporting a health-test failure
//! returns `Err`, and the operation in progress fails instead of using weak
//! randomness). There is no `getrandom` anywhere in this crate's tree.

use core::cell::RefCell;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use mcpauth_core::rand::{RngError, SecureRandom};

/// The board's RNG, shareable between connections and tasks.
///
/// Each [`SecureRandom::fill`] through a [`SharedRng`] handle locks it only
/// for that one synchronous call, never across an `.await`, so concurrent
/// connections never contend for longer than one fill.
pub struct BoardRng<R> {
    inner: Mutex<CriticalSectionRawMutex, RefCell<R>>,
}

impl<R> core::fmt::Debug for BoardRng<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("BoardRng")
    }
}

impl<R: SecureRandom> BoardRng<R> {
    /// Wrap the board's RNG.
    pub const fn new(rng: R) -> Self {
        BoardRng {
            inner: Mutex::new(RefCell::new(rng)),
        }
    }

    /// A handle to pass where the core wants `&mut dyn SecureRandom`.
    pub fn handle(&self) -> SharedRng<'_, R> {
        SharedRng(self)
    }
}

/// A cheap handle to a [`BoardRng`]; `Send` when `R` is.
pub struct SharedRng<'a, R>(&'a BoardRng<R>);

impl<R> core::fmt::Debug for SharedRng<'_, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedRng")
    }
}

impl<R: SecureRandom> SecureRandom for SharedRng<'_, R> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        self.0.inner.lock(|cell| match cell.try_borrow_mut() {
            Ok(mut rng) => rng.fill(dest),
            // Only reachable if a board RNG re-entered itself; fail closed.
            Err(_) => Err(RngError),
        })
    }
}

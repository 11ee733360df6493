//! Shared ownership, atomics and the lock, for every target, including
//! chips without compare-and-swap.
//!
//! `alloc::sync::Arc`, the `core::sync::atomic` types and a spin lock
//! built on them need compare-and-swap instructions, which thumbv6m
//! (Cortex-M0/M0+, RP2040) and riscv32imc (ESP32-C3) lack: on those
//! targets `alloc::sync` does not even exist. The core therefore uses
//! these instead, and only these (`clippy.toml` refuses the others):
//!
//! - `portable-atomic-util`'s [`Arc`] and [`Weak`], counted with
//!   `portable-atomic`;
//! - `portable-atomic`'s [`AtomicBool`];
//! - a crate-private `Mutex`: `spin`'s lock, built with its
//!   `portable-atomic` feature.
//!
//! Where the target has compare-and-swap (x86_64, aarch64, thumbv7m and
//! up, riscv32imac) these compile to the native instructions, exactly as
//! the `core` types do. Where it has not, `portable-atomic` needs one of
//! two settings from the final binary (a library must not choose): its
//! `critical-section` feature (`portable-atomic = { version = "1",
//! features = ["critical-section"] }` in the board crate, which provides a
//! `critical-section` implementation anyway for embassy), or the
//! `portable_atomic_unsafe_assume_single_core` cfg on a single-core chip.
//! Without either, the build fails with `portable-atomic`'s message saying
//! so, never silently.
//!
//! Every lock here guards a short, non-blocking table operation that never
//! awaits, so a spin lock costs nothing on a single-threaded embassy
//! executor (it is never contended there). On an operating system it is
//! another matter: a thread holding it can be preempted, and the other
//! threads then spin until the holder is scheduled again. With the `std`
//! feature (host-std) the lock is therefore `std::sync::Mutex`, which
//! sleeps in the kernel instead: on two cores shared with a load generator,
//! the spin lock of the MCP session table alone was where 1 % of the
//! server's samples spun (BENCHMARKS.md, session 7).
#![allow(clippy::disallowed_types)] // the one place the primitives are named

pub use portable_atomic::{AtomicBool, Ordering};
pub use portable_atomic_util::{Arc, Weak};

/// A lock around `T`: `spin`'s mutex on `portable-atomic` without `std`,
/// `std::sync::Mutex` with it (see the module documentation). Never hold it
/// across an `.await`.
pub(crate) struct Mutex<T: ?Sized>(Inner<T>);

#[cfg(not(feature = "std"))]
type Inner<T> = spin::Mutex<T>;
#[cfg(feature = "std")]
type Inner<T> = std::sync::Mutex<T>;

/// What [`Mutex::lock`] returns: the lock is held until it is dropped.
#[cfg(not(feature = "std"))]
pub(crate) type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;
/// What [`Mutex::lock`] returns: the lock is held until it is dropped.
#[cfg(feature = "std")]
pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A lock around `value`.
    pub(crate) const fn new(value: T) -> Mutex<T> {
        Mutex(Inner::new(value))
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Take the lock, waiting while another thread holds it.
    #[cfg(not(feature = "std"))]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock()
    }

    /// Take the lock, waiting while another thread holds it.
    ///
    /// Like the spin lock, it is not poisoned by a panic while it was held
    /// (none of the tables' code panics on peer input): the lock stays
    /// usable, as it always was.
    #[cfg(feature = "std")]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<T: ?Sized + core::fmt::Debug> core::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.0, f)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

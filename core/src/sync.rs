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
//! executor (it is never contended there) and little on host-std's tokio
//! threads.
#![allow(clippy::disallowed_types)] // the one place the primitives are named

pub use portable_atomic::{AtomicBool, Ordering};
pub use portable_atomic_util::{Arc, Weak};

/// A lock around `T`: `spin`'s mutex on `portable-atomic` (see the module
/// documentation). Never hold it across an `.await`.
pub(crate) struct Mutex<T: ?Sized>(spin::Mutex<T>);

impl<T> Mutex<T> {
    /// A lock around `value`.
    pub(crate) const fn new(value: T) -> Mutex<T> {
        Mutex(spin::Mutex::new(value))
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Take the lock, spinning while another thread holds it.
    pub(crate) fn lock(&self) -> spin::MutexGuard<'_, T> {
        self.0.lock()
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

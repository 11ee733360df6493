//! The board pieces a real device supplies, reduced to what a link needs:
//! the only unsafe code of this crate. This binary is linked for the chip
//! and measured, never run (no board and no emulator here), so:
//! - the critical section is single-threaded (a real board's disables
//!   interrupts: its HAL's, or `cortex-m`'s `critical-section-single-core`);
//! - the allocator is a bump allocator over a static array that never
//!   frees (a real board's: `embedded-alloc`);
//! - the time driver counts calls (a real board's: the chip's timer);
//! - the entry point is a bare `_start` (a real board's: `cortex-m-rt` /
//!   `riscv-rt` with the chip's memory map).
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::{Cell, UnsafeCell};
use core::task::Waker;

use critical_section::Mutex;

struct SingleThread;
critical_section::set_impl!(SingleThread);

// SAFETY: the check binary has one thread and enables no interrupt, so
// nothing can preempt a critical section.
unsafe impl critical_section::Impl for SingleThread {
    unsafe fn acquire() -> critical_section::RawRestoreState {}
    unsafe fn release(_: critical_section::RawRestoreState) {}
}

const HEAP_BYTES: usize = 96 * 1024;

struct BumpHeap {
    memory: UnsafeCell<[u8; HEAP_BYTES]>,
    next: Mutex<Cell<usize>>,
}

// SAFETY: `next` is only touched inside a critical section, and every
// allocation hands out a disjoint range of `memory`.
unsafe impl Sync for BumpHeap {}

unsafe impl GlobalAlloc for BumpHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        critical_section::with(|cs| {
            let next = self.next.borrow(cs);
            let base = self.memory.get() as usize;
            let start = (base + next.get()).next_multiple_of(layout.align()) - base;
            match start.checked_add(layout.size()) {
                Some(end) if end <= HEAP_BYTES => {
                    next.set(end);
                    // SAFETY: `start + size` is within `memory`.
                    unsafe { self.memory.get().cast::<u8>().add(start) }
                }
                _ => core::ptr::null_mut(),
            }
        })
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static HEAP: BumpHeap = BumpHeap {
    memory: UnsafeCell::new([0; HEAP_BYTES]),
    next: Mutex::new(Cell::new(0)),
};

static TICKS: Mutex<Cell<u64>> = Mutex::new(Cell::new(0));

struct CountingTimeDriver;

impl embassy_time_driver::Driver for CountingTimeDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| {
            let ticks = TICKS.borrow(cs);
            ticks.set(ticks.get() + 1);
            ticks.get()
        })
    }
    fn schedule_wake(&self, _at: u64, _waker: &Waker) {}
}

embassy_time_driver::time_driver_impl!(static DRIVER: CountingTimeDriver = CountingTimeDriver);

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    let passed = crate::check().is_ok();
    loop {
        core::hint::black_box(passed);
        core::hint::spin_loop();
    }
}

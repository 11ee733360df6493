//! The only unsafe code of the check: a global allocator over the C
//! runtime's `posix_memalign`/`free`, a panic handler, and `write(2)`.
//! Reviewed reason: a `no_std` binary must provide these itself; none of it
//! is reachable from mcpauth-core.
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};

#[link(name = "c")]
unsafe extern "C" {
    fn posix_memalign(out: *mut *mut u8, align: usize, size: usize) -> i32;
    fn free(ptr: *mut u8);
    fn write(fd: i32, buf: *const u8, len: usize) -> isize;
    fn abort() -> !;
}

struct CAllocator;

unsafe impl GlobalAlloc for CAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut out = core::ptr::null_mut();
        let align = layout.align().max(core::mem::size_of::<usize>());
        // SAFETY: `align` is a power of two and a multiple of the pointer size.
        if unsafe { posix_memalign(&mut out, align, layout.size().max(1)) } != 0 {
            return core::ptr::null_mut();
        }
        out
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from `posix_memalign` above.
        unsafe { free(ptr) }
    }
}

#[global_allocator]
static ALLOCATOR: CAllocator = CAllocator;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    print("nostd-check: panic\n");
    // SAFETY: abort never returns and takes no arguments.
    unsafe { abort() }
}

pub fn print(text: &str) {
    // SAFETY: the buffer is valid for `len` bytes for the duration of the call.
    unsafe {
        write(1, text.as_ptr(), text.len());
    }
}

// The precompiled `alloc` of the x86_64-linux target is built with unwinding
// and references these two symbols. With `panic = "abort"` neither is ever
// called; on a microcontroller target (built with abort) they are not needed.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    // SAFETY: abort never returns.
    unsafe { abort() }
}

//! The `mcpauth` binary: see `mcpauth --help`.

/// Optional (`--features mimalloc`): see BENCHMARKS.md, host-std, for the
/// throughput and resident-memory trade-off and the `MIMALLOC_*` settings.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tune_malloc();
    mcpauth::cli::main()
}

/// Keep the resident set small. Each sign-in runs argon2id over a 7 MiB
/// block. glibc's dynamic mmap threshold would, after the first such block
/// is freed, serve the next ones from per-thread arenas that are never
/// trimmed, so every blocking thread that ever checked a password would keep
/// 7 MiB. A fixed threshold keeps large blocks in mmap (returned on free).
/// The arenas are capped at two per core: by default glibc gives each of up
/// to 8 × cores threads (the blocking pool that signs tokens runs up to 16)
/// its own arena, and each keeps its free memory.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_malloc() {
    // SAFETY: `mallopt` only sets allocator parameters; it is called before
    // any other thread exists, with valid parameter constants.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        libc::mallopt(libc::M_ARENA_MAX, i32::try_from(cores * 2).unwrap_or(8));
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

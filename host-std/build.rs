//! Embeds the sign-in page's Privy script when it has been built.
//!
//! `scripts/build-privy.sh` bundles `privy-glue/src/glue.js` with Privy's
//! npm SDK into `privy-glue/dist/glue.js` (not in git: it is Privy's code,
//! fetched from npm by the lock file). When that file exists it is copied to
//! `$OUT_DIR/privy-glue.js` and the binary serves it at `/privy/glue.js`;
//! otherwise an empty file is written there, and `serve --privy-app-id`
//! without `--privy-sdk-url` refuses to start, naming the script.
//! With `MCPAUTH_REQUIRE_PRIVY_BUNDLE=1` (CI) a missing bundle fails the
//! build instead.
//!
//! It also hands the linker `link/hot-functions.txt`, the functions a
//! server runs (start-up, sign-in, `tools/call`, refresh grants, recorded
//! by `bench/hot-functions.sh`), to place them together at the start of
//! `.text`. The kernel maps a binary's code 64 KiB around each page fault
//! (`fault_around_bytes`): with the few thousand functions a server runs
//! spread over 9 MB of code, nearly all of it ended up resident. Grouped,
//! they fill about 2.5 MB. The list is ordered most called first, so the
//! request path's functions also sit together among them (fewer pages
//! and cache lines per request). Names missing from a build (a dependency
//! updated) are skipped by the linker; the rest stay grouped.

use std::path::PathBuf;

/// Largest bundle accepted (it is ~0.8 MiB).
const MAX_BUNDLE: u64 = 8 * 1024 * 1024;

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("privy-glue.js");
    // The directory exists in git (dist/README.md), so this notices the
    // bundle appearing, changing or going away without scanning node_modules.
    println!("cargo::rerun-if-changed=privy-glue/dist");
    println!("cargo::rerun-if-env-changed=MCPAUTH_REQUIRE_PRIVY_BUNDLE");
    let bundle = manifest.join("privy-glue/dist/glue.js");
    let required = std::env::var("MCPAUTH_REQUIRE_PRIVY_BUNDLE").is_ok_and(|v| v == "1");
    let bytes = match std::fs::metadata(&bundle) {
        Ok(m) if m.is_file() && m.len() > 0 && m.len() <= MAX_BUNDLE => {
            std::fs::read(&bundle).expect("read privy-glue/dist/glue.js")
        }
        Ok(m) if m.len() > MAX_BUNDLE => fail(&format!(
            "privy-glue/dist/glue.js is larger than {MAX_BUNDLE} bytes"
        )),
        _ if required => fail(&format!(
            "MCPAUTH_REQUIRE_PRIVY_BUNDLE=1 but {} is missing: run scripts/build-privy.sh",
            bundle.display()
        )),
        _ => {
            println!(
                "cargo::warning=the Privy sign-in script is not built (scripts/build-privy.sh): \
                 this mcpauth needs --privy-sdk-url for Privy login"
            );
            Vec::new()
        }
    };
    // Its gzip form (scripts/build-privy.sh writes both), when it is at
    // least as new as the script; else none (the server sends the script
    // as is).
    let gz = manifest.join("privy-glue/dist/glue.js.gz");
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let gz_bytes = match (modified(&bundle), modified(&gz)) {
        (Some(script), Some(zipped)) if !bytes.is_empty() && zipped >= script => {
            std::fs::read(&gz).expect("read privy-glue/dist/glue.js.gz")
        }
        _ => Vec::new(),
    };
    std::fs::write(&out, bytes).expect("write $OUT_DIR/privy-glue.js");
    std::fs::write(out.with_extension("js.gz"), gz_bytes).expect("write $OUT_DIR/privy-glue.js.gz");
    order_hot_functions(&manifest);
}

/// Pass `link/hot-functions.txt` to the binaries' link (see the module
/// docs). Only where the linker is known to be LLD, Rust's default on
/// x86_64 Linux (GNU ld has no `--symbol-ordering-file`); set
/// `MCPAUTH_NO_SYMBOL_ORDER=1` when linking with something else.
fn order_hot_functions(manifest: &std::path::Path) {
    println!("cargo::rerun-if-changed=link/hot-functions.txt");
    println!("cargo::rerun-if-env-changed=MCPAUTH_NO_SYMBOL_ORDER");
    let order = manifest.join("link/hot-functions.txt");
    let lld_default = std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    let opted_out = std::env::var("MCPAUTH_NO_SYMBOL_ORDER").is_ok_and(|v| v == "1");
    if lld_default && !opted_out && order.is_file() {
        println!(
            "cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo::rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// Stop the build with `message` (cargo shows it).
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}

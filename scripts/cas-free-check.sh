#!/usr/bin/env bash
# The device configuration on chips without compare-and-swap. Builds and
# links cas-free-check (mcpauth-core without `issuer`, mcpauth-embassy
# without `standalone`: a fleet resource server that only verifies, with a
# critical-section implementation, an allocator, a time driver and a panic
# handler) as a `#![no_std]` `#![no_main]` ELF for
#   thumbv6m-none-eabi           (RP2040, Cortex-M0/M0+: no CAS)
#   riscv32imc-unknown-none-elf  (ESP32-C3: no CAS)
#   thumbv7em-none-eabihf        (Cortex-M4F: has CAS; the control)
# with nightly's `-Zbuild-std=core,alloc` (only x86_64's std is installed;
# rust-src builds core and alloc for the target). Fails on any error.
# Prints the flash (.text + .rodata + .data) and static RAM (.data + .bss)
# of each link (`size -A`, release, opt-level "s"). The binaries are linked,
# not run: there is no board or emulator here (host-embassy/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(thumbv6m-none-eabi riscv32imc-unknown-none-elf thumbv7em-none-eabihf)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); fi
for target in "${TARGETS[@]}"; do
    echo "== $target"
    cargo +nightly build --release --locked -Zbuild-std=core,alloc \
        --manifest-path cas-free-check/Cargo.toml \
        --target "$target" --target-dir target/cas-free-check
    bin="target/cas-free-check/$target/release/mcpauth-cas-free-check"
    size -A "$bin" | awk -v t="$target" '
        $1 ~ /^\.(text|rodata|data|bss)$/ { s[$1] = $2 }
        END {
            printf "  %s: .text %d, .rodata %d, .data %d, .bss %d bytes\n", t, s[".text"], s[".rodata"], s[".data"], s[".bss"]
            printf "  %s: flash (.text + .rodata + .data) %d bytes, static RAM (.data + .bss) %d bytes\n", t, s[".text"] + s[".rodata"] + s[".data"], s[".data"] + s[".bss"]
        }'
done
echo "cas-free-check: the fleet device configuration built and linked for ${TARGETS[*]}"

#!/usr/bin/env bash
# Flash- and RAM-relevant sizes of the no_std link (a proxy: x86_64, not a
# microcontroller target, which cannot be installed here). Builds the
# nostd-check binary as scripts/nostd-check.sh does, then prints
# - its sections (`size -A`): .text (code) and .rodata are what a board
#   keeps in flash, .data/.bss its static RAM;
# - code + read-only data per crate, attributed by demangled symbol name
#   (what `cargo bloat --crates` does; generic code lands in the crate that
#   defines the generic function, e.g. `core`/`alloc`);
# - the static RAM of the board pieces, as the check binary prints it.
# Numbers for host-embassy/README.md, "Bring up a board". Not a CI step.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --manifest-path nostd-check/Cargo.toml --target-dir target/nostd-check
bin=target/nostd-check/release/mcpauth-nostd-check

echo "== sections of $bin (bytes)"
size -A "$bin" | awk '$1 ~ /^\.(text|rodata|data|bss|eh_frame|gcc_except_table|data\.rel\.ro)$/ {print "  " $1, $2}'

echo "== code (.text) and read-only data per crate (bytes), largest first"
nm -C --print-size --size-sort --radix=d "$bin" | awk '
    NF >= 4 && $3 ~ /^[tTrR]$/ {
        name = $4
        for (i = 5; i <= NF; i++) name = name " " $i
        sub(/^(<|&|\*const |\*mut |dyn )+/, "", name)
        if (name ~ /^core::ptr::drop_in_place</) { sub(/^core::ptr::drop_in_place</, "", name); sub(/^(<|&)+/, "", name) }
        crate = "[C runtime, unnamed]"
        if (match(name, /^[A-Za-z_][A-Za-z0-9_]*::/)) crate = substr(name, 1, RLENGTH - 2)
        size = $2 + 0
        if ($3 ~ /[tT]/) text[crate] += size; else ro[crate] += size
        total += size
    }
    END {
        for (c in text) seen[c] = 1
        for (c in ro) seen[c] = 1
        for (c in seen) printf "%10d %10d  %s\n", text[c] + ro[c], text[c], c
        printf "%10d            all symbols\n", total
    }' | sort -rn | awk 'BEGIN { print "  text+ro       text  crate" } { print }' | head -n 30

echo "== the check's own report"
"$bin"

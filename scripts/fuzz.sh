#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for SECONDS each (default 20: the CI
# smoke run), one after another, under `nice -n 19`, starting from the
# committed seeds (fuzz/seeds/<target>); new inputs go to fuzz/corpus/
# (ignored by git). Fails on the first crash; libFuzzer prints the input
# and cargo-fuzz leaves it in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (scripts/install-ci-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
# A target that does not build must fail the run: `fuzz run` would print
# only the compiler's errors, which the filter below hides, and leave no
# artifact. (`cargo fuzz build` takes one target at a time.)
for t in "${targets[@]}"; do
    if ! build_log=$(cargo +nightly fuzz build -O "$t" 2>&1); then
        printf '%s\n' "$build_log" | grep -E '^error' -A8 | head -n 60 >&2
        echo "fuzz target $t does not build" >&2
        exit 1
    fi
done
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "--- fuzz $t for ${seconds}s"
    nice -n 19 cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>&1 |
        tee "corpus/$t.log" |
        grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done|==[0-9]+==|SUMMARY|.*deadly signal|.*panicked)' || true
    # A crash leaves an artifact: fail the run.
    if compgen -G "artifacts/$t/*" >/dev/null; then
        echo "fuzz target $t crashed: see fuzz/artifacts/$t/" >&2
        exit 1
    fi
    # A run that executed nothing (it did not start) is a failure too.
    if ! grep -qE '^stat::number_of_executed_units: *[1-9]' "corpus/$t.log"; then
        tail -n 20 "corpus/$t.log" >&2
        echo "fuzz target $t did not run" >&2
        exit 1
    fi
done

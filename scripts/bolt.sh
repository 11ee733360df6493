#!/usr/bin/env bash
# The release binary laid out by BOLT (LLVM's post-link optimizer) from a
# profile of a representative load: the code each request runs is placed
# together and its usual branches fall through. On the 2-core AMD EPYC of
# BENCHMARKS.md (session 18) an authenticated tools/call then took about a
# sixth less CPU and a quarter less user time: the same instructions, run
# with fewer taken branches from fewer code pages.
#
#   scripts/bolt.sh                 # -> target/bolt/mcpauth
#   BOLT_DIR=/tmp/b scripts/bolt.sh # elsewhere
#
# Steps: the release binary linked with its relocations kept (only the final
# link differs from `cargo build --release`; BOLT needs them to move code;
# target/release/mcpauth is left as that build, the same program),
# an instrumented copy (`llvm-bolt -instrument`), bench/bolt_train.sh against
# that copy (the profile is written when it exits), then the layout. BOLT
# comes from Debian (bolt-16), installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BOLT_DIR:-target/bolt}
# Called by its real path: BOLT finds its instrumentation runtime relative
# to the executable's directory, which the /usr/bin symlink gets wrong.
LLVM=/usr/lib/llvm-16/bin
[ -x "$LLVM/llvm-bolt" ] || { apt-get update -qq && apt-get install -y -qq bolt-16; }
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
rm -f "$OUT"/prof.*.fdata

cargo rustc --release --locked -q -p mcpauth --bin mcpauth -- -C link-arg=-Wl,--emit-relocs
cp target/release/mcpauth "$OUT/mcpauth.relocs"

# Warnings about functions BOLT leaves as they are (hand-written assembly in
# aws-lc) are expected; errors stop the script.
quiet() { grep -v -e '^BOLT-WARNING' -e '^BOLT-INFO' -e '^BOLT-INSTRUMENTER' -e '^ ' || true; }
"$LLVM/llvm-bolt" "$OUT/mcpauth.relocs" -instrument -o "$OUT/mcpauth.instrumented" \
  --instrumentation-file="$OUT/prof" --instrumentation-file-append-pid 2>&1 | quiet
bench/bolt_train.sh "$OUT/mcpauth.instrumented"
"$LLVM/merge-fdata" "$OUT"/prof.*.fdata > "$OUT/profile.fdata" 2>/dev/null
"$LLVM/llvm-bolt" "$OUT/mcpauth.relocs" -o "$OUT/mcpauth" -data="$OUT/profile.fdata" \
  -reorder-blocks=ext-tsp -reorder-functions=hfsort+ -split-functions -split-all-cold \
  -split-eh -icf=1 -use-gnu-stack 2>&1 | quiet
rm -f "$OUT/mcpauth.instrumented" "$OUT"/prof.*.fdata
"$OUT/mcpauth" --version
echo "BOLT-optimized binary: $OUT/mcpauth"

#!/usr/bin/env bash
# Offline dependency audit against ../shared/advisory-db.
# RUSTSEC-2023-0071 is ignored ONLY because that database copy predates the
# fix in rsa 0.10.0 and so flags every rsa version; scripts/check-rsa-version.sh
# fails CI on any rsa < 0.10 instead.
set -euo pipefail
db="${ADVISORY_DB:-../shared/advisory-db}"
for lock in Cargo.lock nostd-check/Cargo.lock bench/rmcp-echo/Cargo.lock; do
    echo "auditing $lock"
    cargo audit --db "$db" --no-fetch --stale --file "$lock" --ignore RUSTSEC-2023-0071
done

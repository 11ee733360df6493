#!/usr/bin/env bash
# RUSTSEC-2023-0071 (Marvin timing attack) affects rsa < 0.10. The offline
# advisory copy predates the fix, so the audit ignores that ID; this check is
# what really enforces it: any lock file with rsa < 0.10 fails CI.
set -euo pipefail
status=0
for lock in Cargo.lock nostd-check/Cargo.lock cas-free-check/Cargo.lock bench/rmcp-echo/Cargo.lock fuzz/Cargo.lock; do
    [ -f "$lock" ] || { echo "missing $lock"; status=1; continue; }
    bad=$(awk '/^name = "rsa"$/ { getline; print }' "$lock" | grep -E '^version = "0\.[0-9]\.' || true)
    if [ -n "$bad" ]; then
        echo "$lock contains rsa < 0.10: $bad"
        status=1
    else
        echo "$lock: rsa versions: $(awk '/^name = "rsa"$/ { getline; print $3 }' "$lock" | tr '\n' ' ')"
    fi
done
exit $status

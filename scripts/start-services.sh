#!/usr/bin/env bash
# Starts the services the tests need (this machine kind preinstalls them;
# a previous run may have left PostgreSQL stopped) and waits until they
# answer.
set -euo pipefail
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
for _ in $(seq 1 30); do
    if pg_isready -h 127.0.0.1 -p 5432 -q; then
        echo "PostgreSQL is ready"
        exit 0
    fi
    sleep 1
done
echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
exit 1

#!/usr/bin/env bash
# Start a local PostgreSQL server for the feedback-store tests and print the URL to use.
#
# Usage (as root, or a user with sudo):
#     eval "$(scripts/start-postgres.sh)"      # exports PREFROUTE_TEST_POSTGRES_URL
#     pytest -m postgres tests/shared
#
# Installs the Debian "postgresql" package if no server is installed, starts the newest
# cluster (creating it if needed), creates a role and a database (idempotent), allows password
# login for that role over the Unix socket, and prints one line on stdout:
#     export PREFROUTE_TEST_POSTGRES_URL=postgresql+psycopg://...
# The URL uses the Unix socket, so tests run under pytest-socket's --allow-unix-socket.
# Progress goes to stderr. Override with PREFROUTE_PG_USER, PREFROUTE_PG_PASSWORD, PREFROUTE_PG_DB.
set -euo pipefail

PG_USER=${PREFROUTE_PG_USER:-prefroute}
PG_PASSWORD=${PREFROUTE_PG_PASSWORD:-prefroute}
PG_DB=${PREFROUTE_PG_DB:-prefroute_test}
SOCKET_DIR=/var/run/postgresql

log() { echo "[start-postgres] $*" >&2; }

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres -- "$@"
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -- "$@"; fi
}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq >&2
    as_root apt-get install -y -qq postgresql >&2
fi

VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$VERSION main"; then
    log "creating cluster $VERSION/main"
    as_root pg_createcluster "$VERSION" main >&2
fi
PORT=$(pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $3}')
STATUS=$(pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $4}')

# Password login for our role over the Unix socket (the default there is peer auth).
HBA=/etc/postgresql/$VERSION/main/pg_hba.conf
RULE="local   $PG_DB   $PG_USER   scram-sha-256"
if ! as_root grep -qxF "$RULE" "$HBA"; then
    log "allowing password login for $PG_USER in $HBA"
    as_root sed -i "1i $RULE" "$HBA"
    NEED_RELOAD=1
fi

if [ "${STATUS%%,*}" != "online" ]; then
    log "starting cluster $VERSION/main on port $PORT"
    as_root pg_ctlcluster "$VERSION" main start >&2
elif [ "${NEED_RELOAD:-0}" = 1 ]; then
    as_root pg_ctlcluster "$VERSION" main reload >&2
fi

for _ in $(seq 1 60); do
    if pg_isready -q -h "$SOCKET_DIR" -p "$PORT"; then break; fi
    sleep 0.5
done
pg_isready -q -h "$SOCKET_DIR" -p "$PORT" || { log "server did not become ready"; exit 1; }

log "creating role $PG_USER and database $PG_DB (if missing)"
as_postgres psql -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres >&2 <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
        CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
    ELSE
        ALTER ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
    END IF;
END
\$\$;
SQL
if ! as_postgres psql -tA -p "$PORT" -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
    as_postgres createdb -p "$PORT" -O "$PG_USER" "$PG_DB" >&2
fi

URL="postgresql+psycopg://$PG_USER:$PG_PASSWORD@/$PG_DB?host=$SOCKET_DIR&port=$PORT"
log "ready: $URL"
echo "export PREFROUTE_TEST_POSTGRES_URL='$URL'"

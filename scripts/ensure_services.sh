#!/usr/bin/env bash
# Bring up PostgreSQL and Redis on loopback when they are not already reachable, installing the
# Debian packages if they are missing. Idempotent: a machine that already runs both is untouched.
set -euo pipefail

PG_PORT="${PG_PORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

reachable() { # host port
  python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1.0)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
PY
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # host port name
  for _ in $(seq 1 60); do reachable "$1" "$2" && return 0; sleep 0.5; done
  echo "ensure_services: $3 did not come up on $1:$2" >&2
  return 1
}

if ! reachable 127.0.0.1 "$REDIS_PORT"; then
  command -v redis-server >/dev/null || apt_install redis-server
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 127.0.0.1 "$REDIS_PORT" redis
fi
echo "ensure_services: redis up on 127.0.0.1:$REDIS_PORT"

if ! reachable 127.0.0.1 "$PG_PORT"; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ -z "$version" ]; then echo "ensure_services: no PostgreSQL cluster found" >&2; exit 1; fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for 127.0.0.1 "$PG_PORT" postgresql
fi
as_postgres() { # run psql as the postgres OS user over the local socket
  if [ -n "$SUDO" ]; then sudo -u postgres psql -p "$PG_PORT" -tAc "$1"
  else su postgres -c "psql -p $PG_PORT -tAc \"$1\""; fi
}
pg() { PGPASSWORD=postgres psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc "$1"; }
# A fresh Debian cluster wants a password over TCP: give the postgres role the one the tests use.
if ! pg 'select 1' >/dev/null 2>&1; then
  as_postgres "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
fi
# The project's own database (tests create and drop scratch databases beside it).
if [ "$(pg "select 1 from pg_database where datname = 'agent_platform'")" != "1" ]; then
  pg "CREATE DATABASE agent_platform" >/dev/null
fi
echo "ensure_services: postgresql up on 127.0.0.1:$PG_PORT (database agent_platform)"

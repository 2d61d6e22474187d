#!/bin/sh
# Entrypoint of shakedown's Debian-based PostgreSQL 15 image. It honours the official
# postgres image's POSTGRES_PASSWORD (required), POSTGRES_USER (default postgres),
# POSTGRES_DB (default: the user's name) and PGDATA, initialises the cluster on first
# start with scram-sha-256 for every network client, and runs the server as the
# postgres user, listening on every interface of the container. Arguments are passed to
# the server (e.g. -c max_connections=200).
set -eu
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (the superuser password)}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
nl='
'
for v in "$POSTGRES_PASSWORD" "$user" "$db"; do
  case $v in *"$nl"*) echo "POSTGRES_PASSWORD, POSTGRES_USER and POSTGRES_DB must be one line each" >&2; exit 2 ;; esac
done
bin=/usr/lib/postgresql/15/bin
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  as_pg "$bin/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    quoted=$(printf '%s' "$db" | sed 's/"/""/g')
    printf 'CREATE DATABASE "%s";\n' "$quoted" | as_pg "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null
  fi
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$PGDATA" \
  -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"

#!/bin/sh
# Entrypoint of shakedown's Debian-based ClickHouse image. It honours the official
# clickhouse/clickhouse-server image's CLICKHOUSE_USER and CLICKHOUSE_PASSWORD (a user
# with full access; default "default" without a password), and adds an optional
# read-only user (CLICKHOUSE_READER_USER, CLICKHOUSE_READER_PASSWORD). It listens on
# every interface of the container and runs the server as the clickhouse user.
set -eu
user=${CLICKHOUSE_USER:-default}
password=${CLICKHOUSE_PASSWORD:-}
conf=/etc/clickhouse-server
mkdir -p "$conf/config.d" "$conf/users.d" /var/lib/clickhouse /var/log/clickhouse-server
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# User names become XML element names: letters, digits, _ . - only.
valid_name() {
  case $1 in ''|[!A-Za-z_]*|*[!A-Za-z0-9_.-]*) echo "$2=\"$1\": use letters, digits, _ . - (starting with a letter or _)" >&2; exit 2 ;; esac
}
valid_name "$user" CLICKHOUSE_USER
if [ -n "${CLICKHOUSE_READER_USER:-}" ]; then
  valid_name "$CLICKHOUSE_READER_USER" CLICKHOUSE_READER_USER
  if [ "$CLICKHOUSE_READER_USER" = "$user" ] || [ "$CLICKHOUSE_READER_USER" = default ]; then
    echo "CLICKHOUSE_READER_USER must differ from CLICKHOUSE_USER and from default" >&2; exit 2
  fi
fi
cat > "$conf/config.d/zz-shakedown.xml" <<XML
<yandex>
  <listen_host>0.0.0.0</listen_host>
  <logger><level>warning</level><console>1</console></logger>
</yandex>
XML
{
  echo '<yandex><users>'
  if [ "$user" != default ]; then echo '<default remove="1"/>'; fi
  echo "<$user replace=\"1\"><password_sha256_hex>$(sha "$password")</password_sha256_hex>"
  echo '<networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></'"$user"'>'
  if [ -n "${CLICKHOUSE_READER_USER:-}" ]; then
    echo "<$CLICKHOUSE_READER_USER replace=\"1\"><password_sha256_hex>$(sha "${CLICKHOUSE_READER_PASSWORD:-}")</password_sha256_hex>"
    echo '<networks><ip>::/0</ip></networks><profile>readonly</profile><quota>default</quota></'"$CLICKHOUSE_READER_USER"'>'
  fi
  echo '</users></yandex>'
} > "$conf/users.d/zz-shakedown.xml"
chmod 0640 "$conf/users.d/zz-shakedown.xml"
chown -R clickhouse:clickhouse /var/lib/clickhouse /var/log/clickhouse-server "$conf/users.d/zz-shakedown.xml"
exec setpriv --reuid=clickhouse --regid=clickhouse --init-groups /usr/sbin/clickhouse-server --config-file="$conf/config.xml"

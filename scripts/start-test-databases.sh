#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster and a MariaDB server on loopback for the storage tests
# and prints the connection strings as shell exports:
#
#   eval "$(scripts/start-test-databases.sh)"   # sets PARLEY_TEST_POSTGRES, PARLEY_TEST_MYSQL
#   scripts/stop-test-databases.sh
#
# Installs nothing (scripts/install-deps.sh does). Idempotent: servers already running from
# the same directory are reused. Both run unprivileged-safe: PostgreSQL as the `postgres`
# user (initdb refuses root), MariaDB as root with a dedicated `parley` account.
# Settings (environment): PARLEY_TEST_DB_DIR (default /tmp/parley-test-databases),
# PARLEY_TEST_PG_PORT (55432), PARLEY_TEST_MYSQL_PORT (53306).
# The PostgreSQL cluster runs with fsync=off: the tests never pull the plug, and it is fast.
# Only the export lines go to stdout; progress and errors go to stderr.
set -euo pipefail

dir=${PARLEY_TEST_DB_DIR:-/tmp/parley-test-databases}
pg_port=${PARLEY_TEST_PG_PORT:-55432}
my_port=${PARLEY_TEST_MYSQL_PORT:-53306}
user=parley
password=parley
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

log() { echo "start-test-databases: $*" >&2; }
die() { log "$*"; exit 1; }

[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || die "PostgreSQL server binaries missing (run scripts/install-deps.sh)"
command -v mariadbd >/dev/null || die "mariadbd missing (run scripts/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || die "run as root (PostgreSQL is started as the postgres user)"

mkdir -p "$dir"
chmod 755 "$dir"

# -- PostgreSQL ----------------------------------------------------------------------------
pg_data=$dir/pg
as_postgres() { runuser -u postgres -- "$@"; }
if ! [ -f "$pg_data/PG_VERSION" ]; then
  rm -rf "$pg_data"
  install -d -o postgres -g postgres -m 700 "$pg_data"
  pwfile=$(mktemp)
  echo "$password" >"$pwfile"
  chown postgres "$pwfile"
  as_postgres "$pg_bin/initdb" -D "$pg_data" -U "$user" --pwfile="$pwfile" \
    -A scram-sha-256 -E UTF8 --no-sync >"$dir/pg-initdb.log" 2>&1 \
    || { rm -f "$pwfile"; die "initdb failed, see $dir/pg-initdb.log"; }
  rm -f "$pwfile"
fi
if as_postgres "$pg_bin/pg_ctl" status -D "$pg_data" >/dev/null 2>&1; then
  log "PostgreSQL already running in $pg_data"
else
  log "starting PostgreSQL on 127.0.0.1:$pg_port"
  as_postgres "$pg_bin/pg_ctl" start -D "$pg_data" -w -t 60 -l "$pg_data/server.log" \
    -o "-c port=$pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pg_data \
        -c fsync=off -c full_page_writes=off -c synchronous_commit=on \
        -c max_connections=200 -c shared_buffers=32MB" >/dev/null \
    || die "PostgreSQL did not start, see $pg_data/server.log"
fi

# -- MariaDB -------------------------------------------------------------------------------
my_data=$dir/mysql
my_sock=$dir/mysql.sock
my_ping() { mariadb-admin --no-defaults --socket="$my_sock" -u root ping >/dev/null 2>&1; }
if ! [ -d "$my_data/mysql" ]; then
  rm -rf "$my_data"
  mkdir -p "$my_data"
  mariadb-install-db --no-defaults --user=root --datadir="$my_data" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/mysql-install.log" 2>&1 \
    || die "mariadb-install-db failed, see $dir/mysql-install.log"
fi
if my_ping; then
  log "MariaDB already running in $my_data"
else
  log "starting MariaDB on 127.0.0.1:$my_port"
  # setsid + nohup: the server outlives this script and the caller's terminal.
  setsid nohup mariadbd --no-defaults --user=root --datadir="$my_data" --socket="$my_sock" \
    --port="$my_port" --bind-address=127.0.0.1 --skip-name-resolve \
    --pid-file="$dir/mysql.pid" --log-error="$dir/mysql.err" --skip-log-bin \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --max-connections=200 \
    --innodb-flush-log-at-trx-commit=1 </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 300); do
    my_ping && break
    sleep 0.1
  done
  my_ping || die "MariaDB did not start, see $dir/mysql.err"
fi
mariadb --no-defaults --socket="$my_sock" -u root -e \
  "CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
   GRANT ALL PRIVILEGES ON *.* TO '$user'@'127.0.0.1' WITH GRANT OPTION;" \
  || die "cannot create the MariaDB user $user"

# SOCI connection strings: the admin database the tests create their own databases from.
echo "export PARLEY_TEST_POSTGRES='postgresql://host=127.0.0.1 port=$pg_port dbname=postgres user=$user password=$password'"
echo "export PARLEY_TEST_MYSQL='mysql://host=127.0.0.1 port=$my_port db=mysql user=$user password=$password'"

#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests, built from Debian's binaries.
#   scripts/pg-cluster.sh start DIR   create (or restart) a cluster in DIR on a free
#                                     127.0.0.1 port; prints its URL as the last line
#                                     of stdout and writes it to DIR/url
#   scripts/pg-cluster.sh stop DIR    stop it (harmless when nothing runs)
# The cluster trusts every local connection and runs with fsync=off: never use
# it for data you want to keep. Installs the Debian package `postgresql` when
# no PostgreSQL server binaries are present. Progress goes to stderr.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}

say() { echo "pg-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -n "$dir" ] || usage
# Absolute from here on.
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac

# The newest installed server version's bin directory, or nothing.
find_bindir() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    if [ ! -x "$d/initdb" ] || [ ! -x "$d/pg_ctl" ] || [ ! -x "$d/postgres" ]; then
      continue
    fi
    if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n 1)" = "$d" ]; then
      best=$d
    fi
  done
  printf '%s' "$best"
}

install_postgresql() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  say "installing the Debian package postgresql"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends postgresql >&2
}

# Runs a command as the user that owns the cluster: initdb and postgres
# refuse to run as root, so root hands over to the postgres system user. The
# command runs in / because the caller's directory may be closed to that user
# (every path given to it is absolute).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null 2>&1; then
      (cd / && runuser -u postgres -- "$@")
    else
      (cd / && su postgres -s /bin/bash -c "$(printf '%q ' "$@")")
    fi
  else
    "$@"
  fi
}

# Succeeds when nothing listens on 127.0.0.1:PORT right now.
port_is_free() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket, sys
s = socket.socket()
# As postgres does: connections of the previous run in TIME_WAIT do not count.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
    return
  fi
  # A refused connection means the port is free (bash's /dev/tcp).
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints a TCP port on 127.0.0.1 that nothing listens on right now: the one
# the cluster had before (so a restarted cluster keeps its URL), or any.
free_port() {
  local prev="" port _
  [ -s "$dir/url" ] && prev=$(sed -n 's|^postgres://postgres@127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$dir/url")
  if [ -n "$prev" ] && [ "$1" -eq 1 ] && port_is_free "$prev"; then
    echo "$prev"
    return
  fi
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
    return
  fi
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if port_is_free "$port"; then
      echo "$port"
      return
    fi
  done
  die "no free port found"
}

pg_running() {
  local bindir=$1
  [ -f "$dir/data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

init_cluster() {
  local bindir=$1
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "the postgres system user is missing"
    chown postgres: "$dir"
    chmod 700 "$dir"
    as_owner test -w "$dir" ||
      die "$dir is not reachable by the postgres user (check the parent directories' modes)"
  fi
  say "initdb in $dir/data"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C \
    --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # Only TCP on 127.0.0.1 (no Unix socket: its directory may not exist on a fresh
  # machine, and socket paths have a short length limit).
  cat >>"$dir/data/postgresql.conf" <<'EOF'

# pg-cluster.sh: a throw-away test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
}

start() {
  local bindir port tries url exists
  bindir=$(find_bindir)
  if [ -z "$bindir" ]; then
    install_postgresql
    bindir=$(find_bindir)
    [ -n "$bindir" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql after installing"
  fi
  if [ -f "$dir/data/PG_VERSION" ]; then
    if pg_running "$bindir" && [ -s "$dir/url" ]; then
      say "already running"
      cat "$dir/url"
      return
    fi
  else
    init_cluster "$bindir"
  fi

  # The port can be taken between choosing and binding it: try a few.
  for tries in 1 2 3 4 5; do
    port=$(free_port "$tries")
    say "starting on 127.0.0.1:$port"
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port" start >&2; then
      break
    fi
    grep -qi 'could not bind\|address already in use' "$dir/postgres.log" 2>/dev/null ||
      { tail -n 20 "$dir/postgres.log" >&2 || true; die "postgres did not start"; }
    [ "$tries" -lt 5 ] || die "postgres did not start: no free port"
  done

  exists=$(as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XtAq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'bindery'") ||
    die "cannot query the new cluster"
  if [ "$exists" != 1 ]; then
    as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres bindery ||
      die "cannot create the database bindery"
  fi
  url="postgres://postgres@127.0.0.1:$port/bindery"
  # Written through a temporary file so readers never see half a line.
  printf '%s\n' "$url" >"$dir/url.tmp"
  mv -f "$dir/url.tmp" "$dir/url"
  echo "$url"
}

stop() {
  local bindir
  [ -f "$dir/data/postmaster.pid" ] || { say "not running"; return 0; }
  bindir=$(find_bindir)
  [ -n "$bindir" ] || { say "no PostgreSQL binaries; nothing to stop"; return 0; }
  if pg_running "$bindir"; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2
  else
    say "not running"
  fi
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac

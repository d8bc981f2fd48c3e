#!/bin/sh
# A throwaway Citus cluster on localhost for running codes on Citus: a
# coordinator and two workers of the system's PostgreSQL 15, each in a
# directory of DIR on a free port, with Citus (scripts/build_citus.sh
# installs it) and codes preloaded.
#
#   sh scripts/citus_cluster.sh start DIR [STAGE]
#   sh scripts/citus_cluster.sh add DIR
#   sh scripts/citus_cluster.sh stop DIR
#
# start: initdb (trust authentication, as the system's initdb makes it) in
# DIR/coordinator, DIR/worker1 and DIR/worker2, with
#   shared_preload_libraries = 'citus,codes'   (Citus must come first;
#                                 a staged codes by its path in STAGE)
#   max_prepared_transactions = 200            (Citus commits in two phases)
#   codes.key_file = 'DIR/key'                 (the same key on every node)
#   extension_destdir = 'STAGE'                (when STAGE is given)
# starts the three (logs in DIR/NODE.log, sockets in DIR), creates the
# extension citus on each and, on the coordinator, registers itself
# (citus_set_coordinator_host) and the two workers (citus_add_node).
# STAGE is a staged build of codes (stage_copy in scripts/common.sh stages
# one in COPY/stage); without it, codes must be installed in the system.
# DIR/key is 32 random bytes, or a copy of the file $CODES_KEY_FILE names
# (sql_tests/make_keys.sh's /tmp/codes_regress_key_a, say), owned by the
# server's user, mode 0600.  DIR is created if need be; as root it is given
# to postgres, and the servers run as postgres (initdb refuses root), so
# DIR's parents must let postgres through.  Takes about 5 s.
#
# Prints on stdout, and writes to DIR/env, lines a shell can source or
# eval to reach the coordinator with psql:
#   PGHOST=DIR; export PGHOST
#   PGPORT=<coordinator's port>; export PGPORT
#   PGUSER=postgres; export PGUSER
#   PGDATABASE=postgres; export PGDATABASE
#   CITUS_COORDINATOR_PORT=<port>; CITUS_WORKER_PORTS='<port> <port>'
# and on stderr one line with the ports and the time it took.  Nothing is
# left running if start fails.
#
# add: starts one more worker (DIR/worker3, then worker4, ...) set up as
# the others, adds it to the cluster (citus_add_node; it holds no shard
# until a rebalance moves some there), and prints its port.
#
# stop: stops every server of DIR (fast shutdown) and leaves DIR, whose
# removal is the caller's.
set -eu
cd "$(dirname "$0")/.."
. scripts/common.sh

bindir=/usr/lib/postgresql/15/bin
nodes="coordinator worker1 worker2"

usage() {
	echo "usage: sh scripts/citus_cluster.sh start DIR [STAGE] | add DIR | stop DIR" >&2
	exit 2
}

# Stop every node of $1 that runs.
stop_all() {
	for n in $nodes $(cd "$1" 2>/dev/null && ls -d worker* 2>/dev/null); do
		if [ -f "$1/$n/postmaster.pid" ]; then
			as_tester "$bindir/pg_ctl" -D "$1/$n" -m fast -w stop >/dev/null ||
				as_tester "$bindir/pg_ctl" -D "$1/$n" -m immediate -w stop >/dev/null || true
		fi
	done
}

# psql on node port $1 of the cluster in $dir, the rest as psql's arguments.
sql() {
	sql_port=$1
	shift
	as_tester "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$sql_port" -U postgres -d postgres "$@"
}

# add DIR: one more worker, set up as start set up the others.
add_worker() {
	dir=$1
	. "$dir/env"
	i=3
	while [ -e "$dir/worker$i" ]; do i=$((i + 1)); done
	n=worker$i
	p=$(free_port)
	as_tester "$bindir/initdb" -D "$dir/$n" -A trust -N --locale=C.UTF-8 --encoding=UTF8 \
		>"$dir/$n.initdb.log" 2>&1 || {
		cat "$dir/$n.initdb.log" >&2
		echo "citus_cluster: initdb failed for $n" >&2
		exit 1
	}
	{
		cat "$dir/node.conf"
		echo "port = $p"
	} >>"$dir/$n/postgresql.conf"
	as_tester "$bindir/pg_ctl" -D "$dir/$n" -l "$dir/$n.log" -w start >/dev/null 2>&1 || {
		tail -n 20 "$dir/$n.log" >&2
		echo "citus_cluster: $n did not start; its log is $dir/$n.log" >&2
		exit 1
	}
	{
		sql "$p" -c 'CREATE EXTENSION citus' &&
			sql "$CITUS_COORDINATOR_PORT" -At -c "SELECT citus_add_node('localhost', $p)"
	} >>"$dir/setup.log" 2>&1 || {
		cat "$dir/setup.log" >&2
		echo "citus_cluster: adding $n failed" >&2
		exit 1
	}
	sed -i "s/^CITUS_COORDINATOR_PORT=.*/CITUS_COORDINATOR_PORT=$CITUS_COORDINATOR_PORT; CITUS_WORKER_PORTS='$CITUS_WORKER_PORTS $p'/" "$dir/env"
	echo "$p"
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
case $cmd in
stop)
	[ $# -eq 2 ] || usage
	dir=$(cd "$dir" && pwd)
	stop_all "$dir"
	echo "citus_cluster: stopped the cluster in $dir" >&2
	exit 0
	;;
add)
	[ $# -eq 2 ] || usage
	dir=$(cd "$dir" && pwd)
	add_worker "$dir"
	exit 0
	;;
start)
	[ $# -le 3 ] || usage
	stage=${3:-}
	;;
*) usage ;;
esac

start=$(date +%s)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# codes to preload: by a bare name the server loads the system's copy, not
# the staged one that CREATE EXTENSION loads through extension_destdir (two
# copies of codes in one backend, and CREATE EXTENSION fails: "attempt to
# redefine parameter"), so a staged codes is preloaded by its full path.
codes=codes
if [ -n "$stage" ]; then
	stage=$(cd "$stage" && pwd)
	codes=$stage$("$bindir/pg_config" --pkglibdir)/codes
	if [ ! -f "$codes.so" ]; then
		echo "citus_cluster: no $codes.so: STAGE is not a staged build of codes" >&2
		exit 1
	fi
fi
for n in $nodes; do
	if [ -e "$dir/$n" ]; then
		echo "citus_cluster: $dir/$n exists; stop the cluster and remove it first" >&2
		exit 1
	fi
done
if [ ! -f "$bindir/../lib/citus.so" ]; then
	echo "citus_cluster: Citus is not installed; run scripts/build_citus.sh as root" >&2
	exit 1
fi
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
if ! as_tester test -w "$dir"; then
	echo "citus_cluster: the server's user cannot write $dir (or reach it through its parents)" >&2
	exit 1
fi
trap 'stop_all "$dir"' EXIT
trap 'exit 1' INT TERM

# codes.key_file, outside the data directories (codes refuses a key inside).
(
	umask 077
	if [ -n "${CODES_KEY_FILE:-}" ]; then
		cat "$CODES_KEY_FILE" >"$dir/key"
	else
		head -c 32 /dev/urandom >"$dir/key"
	fi
)
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/key"

# Three distinct free ports.
ports=""
for n in $nodes; do
	p=$(free_port)
	while echo " $ports " | grep -q " $p "; do p=$(free_port); done
	ports="$ports $p"
done
# shellcheck disable=SC2086
set -- $ports
cport=$1
wports="$2 $3"

# initdb the three at once.
for n in $nodes; do
	as_tester "$bindir/initdb" -D "$dir/$n" -A trust -N --locale=C.UTF-8 --encoding=UTF8 \
		>"$dir/$n.initdb.log" 2>&1 &
done
wait
for n in $nodes; do
	if [ ! -f "$dir/$n/PG_VERSION" ]; then
		cat "$dir/$n.initdb.log" >&2
		echo "citus_cluster: initdb failed for $n" >&2
		exit 1
	fi
done

# The settings of every node but its port, kept for add.
{
	echo
	echo "# scripts/citus_cluster.sh"
	echo "listen_addresses = 'localhost'"
	echo "unix_socket_directories = '$dir'"
	echo "shared_preload_libraries = 'citus,$codes'"
	echo "max_connections = 100"
	echo "max_prepared_transactions = 200"
	echo "fsync = off"
	echo "shared_buffers = '32MB'"
	echo "codes.key_file = '$dir/key'"
	[ -n "$stage" ] && echo "extension_destdir = '$stage'"
	true
} >"$dir/node.conf"

# shellcheck disable=SC2086
set -- $ports
for n in $nodes; do
	{
		cat "$dir/node.conf"
		echo "port = $1"
	} >>"$dir/$n/postgresql.conf"
	shift
done

for n in $nodes; do
	as_tester "$bindir/pg_ctl" -D "$dir/$n" -l "$dir/$n.log" -w start >/dev/null 2>&1 || {
		tail -n 20 "$dir/$n.log" >&2
		echo "citus_cluster: $n did not start; its log is $dir/$n.log" >&2
		exit 1
	}
done

for p in $ports; do
	sql "$p" -c 'CREATE EXTENSION citus' >>"$dir/setup.log" 2>&1 || {
		cat "$dir/setup.log" >&2
		echo "citus_cluster: CREATE EXTENSION citus failed on port $p" >&2
		exit 1
	}
done
{
	echo "SELECT citus_set_coordinator_host('localhost', $cport);"
	for p in $wports; do
		echo "SELECT citus_add_node('localhost', $p);"
	done
} | sql "$cport" -At >>"$dir/setup.log" 2>&1 || {
	cat "$dir/setup.log" >&2
	echo "citus_cluster: adding the nodes failed" >&2
	exit 1
}

cat >"$dir/env" <<EOF
PGHOST=$dir; export PGHOST
PGPORT=$cport; export PGPORT
PGUSER=postgres; export PGUSER
PGDATABASE=postgres; export PGDATABASE
CITUS_COORDINATOR_PORT=$cport; CITUS_WORKER_PORTS='$wports'
EOF
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/env" "$dir/setup.log"
trap - EXIT
cat "$dir/env"
echo "citus_cluster: coordinator on port $cport, workers on ports $wports, in $dir ($(($(date +%s) - start)) s)" >&2

#!/bin/sh
# Failover and switchover lose no redemption with Patroni too (issue 27):
# Debian's patroni (3.0) with one local etcd member (etcd-server, v3 API)
# and two nodes of the system's PostgreSQL 15, all on localhost, each on
# its own ports in a temporary directory, run as postgres, in
# synchronous_mode strict (Patroni leaves replication asynchronous
# without synchronous_mode).  This tree is built and staged (stage_copy)
# and loaded on both nodes through Patroni's DCS settings
# (bootstrap.dcs.postgresql.parameters: extension_destdir,
# shared_preload_libraries, codes.key_file with one key file, 0600, owned
# by postgres, outside the data directories); Patroni writes
# postgresql.conf itself.
#
# The client and checks of sql_tests/ha.sh (sql_tests/ha_client.py, here
# with 8 connections through a multi-host connection string,
# target_session_attrs=read-write), each round with its own codes (plain
# and hashed, UUID and patterned):
#   1. kill: after 400 uses the primary (node1) dies: SIGKILL of its
#      Patroni and of its postmaster.  Once its leader key expires (ttl
#      10 s), Patroni promotes node2, the synchronous standby; in strict
#      mode node2 takes no write until a standby streams again, so node1's
#      Patroni is started again once node2 is primary (it rewinds node1
#      and makes it a standby).  The clients reconnect and retry the codes
#      whose answer they did not see, one committed use of each kind among
#      them.  Checked as in ha.sh: every SUCCEED seen is a use on the new
#      primary (0 lost), no code over its limit, a retried code answers
#      FAILED exactly when its first use had committed; node1 streams
#      again as the synchronous standby and answers code_query as node2.
#   2. switchover: "patronictl switchover --leader node2 --candidate
#      node1 --force" under the same load; the same checks.
#   3. the standby stops: in strict mode a use on the primary then waits
#      for a standby; cancelled (statement_timeout), it answers SUCCEED
#      with the WARNING "canceling wait for synchronous replication" (the
#      use committed on the primary), a second use of the code answers
#      FAILED, and once the standby is back it has the use too.
# Prints the failover and switchover times, and "test patroni ... ok" or
# "... FAILED".  Every process and directory it starts is removed on exit;
# every wait is bounded.  Run as root (or as the server's user).
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

bindir=$(pg_config --bindir)

if [ "${1:-}" != --inner ]; then
	start=$(date +%s)
	work=$(mktemp -d -t codes-patroni.XXXXXX)
	chmod 755 "$work"
	trap 'kill_all "$work"; rm -rf "$work"' EXIT
	trap 'exit 1' INT TERM
	mkdir "$work/tree" && stage_copy "$work/tree" >"$work/build.log" 2>&1 ||
		{ cat "$work/build.log"; echo "test patroni                      ... FAILED"; exit 1; }
	(umask 077 && head -c 32 /dev/urandom >"$work/key") || exit 1
	[ "$(id -u)" -eq 0 ] && chown postgres: "$work" "$work/key"
	as_tester sh "$work/tree/sql_tests/patroni.sh" --inner "$work" >"$work/log" 2>&1
	rc=$?
	kill_all "$work"
	if [ $rc -eq 0 ]; then
		grep '^patroni:' "$work/log"
		echo "patroni: ran in $(($(date +%s) - start)) s"
		echo "test patroni                      ... ok"
	else
		cat "$work/log"
		echo "test patroni                      ... FAILED"
	fi
	exit $rc
fi

# The inner part, as the server's user, from the staged copy of the tree.
work=$2
tree=$work/tree
export PATH="$bindir:$PATH"
export XDG_CONFIG_HOME=$work/xdg/config XDG_DATA_HOME=$work/xdg/data XDG_RUNTIME_DIR=$work/xdg/run
export PGCONNECT_TIMEOUT=5
set -e

# Eight distinct free ports: etcd's client and peer ports, and for each
# node its PostgreSQL and its REST API.
ports=""
for i in 1 2 3 4 5 6; do
	p=$(free_port)
	while echo " $ports " | grep -q " $p "; do p=$(free_port); done
	ports="$ports $p"
done
# shellcheck disable=SC2086
set -- $ports
eport=$1 epeer=$2 p1=$3 p2=$4 r1=$5 r2=$6
uri="postgresql://127.0.0.1:$p1,127.0.0.1:$p2/postgres?target_session_attrs=read-write&connect_timeout=2&user=postgres"

# Start a command in a session and process group of its own, so that the
# whole of it can be killed at once; its output goes to $work/$1.log.
run_bg() {
	name=$1
	shift
	setsid "$@" >>"$work/$name.log" 2>&1 &
	echo $! >>"$work/pgids"
	echo $! >"$work/$name.pgid"
}
run_node() {
	run_bg "$1" patroni "$work/$1.yml"
}
q() {
	psql -X -At -h 127.0.0.1 -p "$1" -d postgres -v ON_ERROR_STOP=1 -c "$2"
}
# Whether the node on port $1 is the primary, and the node named $2
# streams to it as its synchronous standby, as PostgreSQL and Patroni see
# it (Patroni's REST API answers /sync with 200 on the standby that its
# /sync key in the DCS names; in strict mode, with no standby named, the
# primary has synchronous_standby_names = '*', which any standby meets).
synced() {
	[ "$(q "$1" "SELECT string_agg(application_name || ':' || state || ':' || sync_state, ' ')
		FROM pg_stat_replication" 2>/dev/null)" = "$2:streaming:sync" ] &&
		eval "curl -fsS -o /dev/null http://127.0.0.1:\$r${2#node}/sync" 2>/dev/null
}

echo "patroni: etcd ($eport), node1 ($p1, REST $r1), node2 ($p2, REST $r2)"
run_bg etcd etcd --name codes --data-dir "$work/etcd" \
	--listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
	--listen-peer-urls "http://127.0.0.1:$epeer" --initial-advertise-peer-urls "http://127.0.0.1:$epeer" \
	--initial-cluster "codes=http://127.0.0.1:$epeer" --initial-cluster-state new
wait_for "curl -fsS http://127.0.0.1:$eport/health >/dev/null 2>&1" 30

# One configuration per node.  What both nodes share is in the DCS
# (bootstrap.dcs, written there by the first node): timings short enough
# for a test (a dead leader's key expires after 10 s), synchronous_mode
# strict, and codes's settings.
for n in 1 2; do
	eval port=\$p$n rest=\$r$n
	cat >"$work/node$n.yml" <<EOF
scope: codes-test
name: node$n
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
etcd3:
  hosts: 127.0.0.1:$eport
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    synchronous_mode: true
    synchronous_mode_strict: true
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 40
        shared_buffers: 32MB
        extension_destdir: '$tree/stage'
        shared_preload_libraries: '$tree/stage$(pg_config --pkglibdir)/codes'
        codes.key_file: '$work/key'
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
postgresql:
  listen: 127.0.0.1:$port
  connect_address: 127.0.0.1:$port
  data_dir: $work/node$n
  bin_dir: $bindir
  pgpass: $work/pgpass$n
  use_unix_socket: true
  authentication:
    superuser:
      username: postgres
      password: postgres
    replication:
      username: replicator
      password: replicator
  parameters:
    unix_socket_directories: '$work'
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 trust
EOF
done

run_node node1
wait_for "q $p1 'SELECT NOT pg_is_in_recovery()' 2>/dev/null | grep -qx t" 90
run_node node2
wait_for "synced $p1 node2" 120
echo "patroni: node1 primary, node2 its synchronous standby: synchronous_standby_names = $(q "$p1" 'SHOW synchronous_standby_names'), synchronous_commit = $(q "$p1" 'SHOW synchronous_commit')"
[ -n "$(q "$p1" 'SHOW synchronous_standby_names')" ]
[ "$(q "$p1" 'SHOW codes.key_file')" = "$work/key" ]

# Codes for each round, single use, made on the primary: of each kind 500
# for the kill, 2,500 for the switchover, as the clients go on using codes
# on the old primary while Patroni demotes it (seconds: it waits for its
# next loop, a checkpoint and the standby), and must not run out before.
q "$p1" "CREATE EXTENSION codes" >/dev/null
for round in kill:500 switchover:2500; do
	n=${round#*:}
	round=${round%:*}
	q "$p1" "
	SELECT 'plain-uuid' || chr(9) || codes.code_gen($n, NULL, NULL, batch => '$round-plain-uuid')
	UNION ALL SELECT 'plain-pattern' || chr(9) || codes.code_gen($n, NULL, NULL, pattern => 'PL-####-####-###^', batch => '$round-plain-pattern')
	UNION ALL SELECT 'hmac-uuid' || chr(9) || codes.code_gen($n, NULL, NULL, store => 'hmac', batch => '$round-hmac-uuid')
	UNION ALL SELECT 'hmac-pattern' || chr(9) || codes.code_gen($n, NULL, NULL, pattern => 'GIFT-####-####-###^', store => 'hmac', batch => '$round-hmac-pattern')
	" >"$work/codes-$round"
done

# After a round: the node named $2 streams again as the synchronous
# standby of the primary on port $1, has caught up, and both answer
# code_query alike for every code of round $3.
agree() {
	oport=$1 victim=$2 r=$3
	eval vport=\$p${victim#node}
	wait_for "synced $oport $victim" 120
	lsn=$(q "$oport" 'SELECT pg_current_wal_insert_lsn()')
	wait_for "q $vport \"SELECT pg_last_wal_replay_lsn() >= '$lsn'\" | grep -qx t" 60
	cut -f2 "$work/codes-$r" >"$work/plain-$r"
	for port in $oport $vport; do
		psql -X -At -q -h 127.0.0.1 -p "$port" -d postgres -v ON_ERROR_STOP=1 >"$work/query-$r-$port" <<EOF
\\set codes \`cat '$work/plain-$r'\`
SELECT n, codes.code_query(code) FROM unnest(string_to_array(:'codes', E'\\n')) WITH ORDINALITY AS t (code, n) ORDER BY n;
EOF
	done
	cmp "$work/query-$r-$oport" "$work/query-$r-$vport"
	echo "patroni: round $r: $victim streams again as the synchronous standby; code_query agrees on both nodes for $(wc -l <"$work/plain-$r") codes"
}

# Round 1: kill -9 of node1; node1's Patroni is started again once node2
# is primary, as strict mode takes no write until a standby streams.
echo "patroni: round kill: killing node1"
(
	wait_for "q $p2 'SELECT NOT pg_is_in_recovery()' 2>/dev/null | grep -qx t" 100 &&
		run_node node1
) >"$work/restart.log" 2>&1 &
restarter=$!
/usr/bin/python3 "$tree/sql_tests/ha_client.py" --clients 8 kill "$uri" "$work/codes-kill" \
	"$(cat "$work/node1.pgid")" "$work/node1" "$p2" "$work/result-kill" ||
	{ cat "$work/result-kill" "$work/restart.log" 2>/dev/null; exit 1; }
wait "$restarter"
sed 's/^/patroni: /' "$work/result-kill"
agree "$p2" node1 kill

# Round 2: a switchover back to node1 under load.
echo "patroni: round switchover: from node2 to node1"
/usr/bin/python3 "$tree/sql_tests/ha_client.py" --clients 8 \
	--event-cmd "patronictl -c '$work/node2.yml' switchover --leader node2 --candidate node1 --force" \
	switchover "$uri" "$work/codes-switchover" - "$work/node2" "$p1" "$work/result-switchover" ||
	{ cat "$work/result-switchover" 2>/dev/null; exit 1; }
sed 's/^/patroni: /' "$work/result-switchover"
agree "$p1" node2 switchover

# Round 3: the standby stops (Patroni stops its PostgreSQL on SIGTERM);
# strict mode keeps synchronous_standby_names, so a use on the primary
# waits for a standby, until it is cancelled (pg_cancel_backend, as a
# client's cancel request does; statement_timeout does not end the wait,
# as it is off during the commit).
kill -TERM "$(cat "$work/node2.pgid")"
wait_for "! synced $p1 node2" 60
echo "patroni: no standby: synchronous_standby_names = $(q "$p1" 'SHOW synchronous_standby_names')"
[ -n "$(q "$p1" 'SHOW synchronous_standby_names')" ]
code=$(q "$p1" "SELECT c.code FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
	WHERE b.name = 'kill-plain-uuid' AND c.uses = 0 ORDER BY c.code LIMIT 1")
timeout 60 psql -X -At -h 127.0.0.1 -p "$p1" -d postgres -c "SELECT codes.code_use('$code')" \
	>"$work/cancelled" 2>&1 &
user=$!
waiting="SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE '%code_use%'"
wait_for "[ -n \"\$(q $p1 \"$waiting\")\" ]" 30
q "$p1" "SELECT pg_cancel_backend(pid) FROM ($waiting) w" >/dev/null
wait "$user" || true
out=$(cat "$work/cancelled")
echo "patroni: no standby: a use waits for one; cancelled: $(echo "$out" | tr '\n' ' ')"
echo "$out" | grep -qx SUCCEED
echo "$out" | grep -q '^WARNING:  canceling wait for synchronous replication'
echo "$out" | grep -q 'committed locally, but might not have been replicated'
run_node node2
wait_for "synced $p1 node2" 120
lsn=$(q "$p1" 'SELECT pg_current_wal_insert_lsn()')
wait_for "q $p2 \"SELECT pg_last_wal_replay_lsn() >= '$lsn'\" | grep -qx t" 60
st1=$(q "$p1" "SELECT codes.code_query('$code')")
st2=$(q "$p2" "SELECT codes.code_query('$code')")
again=$(q "$p1" "SELECT codes.code_use('$code')")
echo "patroni: the standby back: code_query answers $st1 on the primary, $st2 on the standby; a second use $again"
[ "$st1" = ACTIVED ] && [ "$st2" = ACTIVED ] && [ "$again" = FAILED ]

over=$(q "$p1" "SELECT count(*) FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE c.uses > b.max_uses")
echo "patroni: codes with more uses than allowed: $over"
[ "$over" = 0 ]

#!/bin/sh
# Failover loses no redemption (issue 15): a real HA manager,
# pg_auto_failover (Debian's postgresql-15-auto-failover, pg_autoctl), with
# a monitor, a primary and a synchronous secondary on localhost, each on its
# own port in a temporary directory, run as postgres.  This tree is built
# and staged (stage_copy) and loaded on both nodes through
# extension_destdir and shared_preload_libraries; one key file (0600,
# owned by postgres, outside the data directories) is codes.key_file on
# both.
#
# Two rounds on the same formation, each with its own codes (plain and
# hashed, UUID and patterned), used by sql_tests/ha_client.py from four
# connections through a multi-host connection string
# (target_session_attrs=read-write):
#   1. synchronous (pg_auto_failover's default for two nodes): after 400
#      uses the primary dies (SIGKILL of its pg_autoctl keeper, so that
#      nothing restarts it, and of its postmaster); the monitor promotes
#      the secondary; the clients reconnect and retry the codes whose
#      answer they did not see (among them one use of each kind sent and
#      committed, but whose answer was never read: each must answer
#      FAILED).  Checked: every SUCCEED seen is a use on the new primary
#      (0 lost), no code has more uses than allowed, a retried code answers
#      FAILED exactly when its first use had committed (plain codes: the
#      use's time against the new primary's first), hashed and patterned
#      codes work on the new primary; the old primary rejoins as a
#      secondary and answers code_query as the new primary does.
#   2. asynchronous (the clients set synchronous_commit = local): the same
#      failover the other way round; the acknowledged uses lost are counted
#      and printed, not judged.  Rejoin and agreement are checked again.
# Prints the failover times and losses, and "test ha ... ok" or
# "... FAILED".  Every process and directory it starts is removed on exit;
# every wait is bounded.  Run as root (or as the server's user).
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

bindir=$(pg_config --bindir)

if [ "${1:-}" != --inner ]; then
	start=$(date +%s)
	work=$(mktemp -d -t codes-ha.XXXXXX)
	chmod 755 "$work"
	trap 'kill_all "$work"; rm -rf "$work"' EXIT
	trap 'exit 1' INT TERM
	mkdir "$work/tree" && stage_copy "$work/tree" >"$work/build.log" 2>&1 ||
		{ cat "$work/build.log"; echo "test ha                           ... FAILED"; exit 1; }
	(umask 077 && head -c 32 /dev/urandom >"$work/key") || exit 1
	[ "$(id -u)" -eq 0 ] && chown postgres: "$work" "$work/key"
	as_tester sh "$work/tree/sql_tests/ha.sh" --inner "$work" >"$work/log" 2>&1
	rc=$?
	kill_all "$work"
	if [ $rc -eq 0 ]; then
		grep '^ha:' "$work/log"
		echo "ha: ran in $(($(date +%s) - start)) s"
		echo "test ha                           ... ok"
	else
		cat "$work/log"
		echo "test ha                           ... FAILED"
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
mport=$(free_port)
p1=$(free_port)
p2=$(free_port)
while [ "$p2" = "$p1" ] || [ "$p2" = "$mport" ]; do p2=$(free_port); done
while [ "$p1" = "$mport" ]; do p1=$(free_port); done
monitor_uri="postgres://autoctl_node@localhost:$mport/pg_auto_failover?sslmode=disable"
uri="postgresql://localhost:$p1,localhost:$p2/postgres?target_session_attrs=read-write&connect_timeout=2&user=postgres"

# Small servers (pg_autoctl sizes shared_buffers for the whole machine),
# on localhost only.
small_conf() {
	cat >>"$1/postgresql.conf" <<EOF

# sql_tests/ha.sh
listen_addresses = 'localhost'
unix_socket_directories = '$work'
shared_buffers = '32MB'
effective_cache_size = '256MB'
maintenance_work_mem = '32MB'
work_mem = '4MB'
max_connections = 40
EOF
}
# The extension's settings, on every node: the staged build, preloaded,
# and the one key file.
codes_conf() {
	grep -q '^codes.key_file' "$1/postgresql.conf" || cat >>"$1/postgresql.conf" <<EOF
extension_destdir = '$tree/stage'
shared_preload_libraries = '$tree/stage$(pg_config --pkglibdir)/codes'
codes.key_file = '$work/key'
EOF
}
# Start a pg_autoctl in a session and process group of its own, so that
# the whole of it (keeper services and Postgres) can be killed at once.
run_node() {
	setsid pg_autoctl run --pgdata "$work/$1" >>"$work/$1.log" 2>&1 &
	echo $! >>"$work/pgids"
	echo $! >"$work/$1.pgid"
}
mon() {
	psql -X -At -h localhost -p "$mport" -d pg_auto_failover -c "$1"
}
# "name:reportedstate:goalstate ..." for every node
states() {
	mon "SELECT string_agg(nodename || ':' || reportedstate || ':' || goalstate, ' ' ORDER BY nodename) FROM pgautofailover.node"
}
settled() {
	[ "$(states 2>/dev/null)" = "$1" ]
}
q() {
	psql -X -At -h localhost -p "$1" -d postgres -v ON_ERROR_STOP=1 -c "$2"
}

echo "ha: setting up a monitor ($mport), node1 ($p1), node2 ($p2)"
pg_autoctl create monitor --pgdata "$work/monitor" --pgport "$mport" --auth trust --no-ssl \
	--hostname localhost >"$work/monitor.log" 2>&1
small_conf "$work/monitor"
# Notice a dead node within a few seconds (the defaults take about 30 s).
cat >>"$work/monitor/postgresql.conf" <<EOF
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 2000
pgautofailover.primary_demote_timeout = 3000
EOF
run_node monitor
wait_for "mon 'SELECT 1' >/dev/null 2>&1" 60

for n in 1 2; do
	eval port=\$p$n
	pg_autoctl create postgres --pgdata "$work/node$n" --pgport "$port" --name "node$n" \
		--hostname localhost --monitor "$monitor_uri" --auth trust --no-ssl \
		--dbname postgres >"$work/node$n.log" 2>&1
	small_conf "$work/node$n"
	codes_conf "$work/node$n"
	run_node "node$n"
	if [ $n = 1 ]; then
		wait_for "settled node1:single:single" 90
	fi
done
wait_for "settled 'node1:primary:primary node2:secondary:secondary'" 120
echo "ha: formation up: $(states)"
echo "ha: node1 synchronous_standby_names = $(q "$p1" 'SHOW synchronous_standby_names'), synchronous_commit = $(q "$p1" 'SHOW synchronous_commit')"
[ -n "$(q "$p1" 'SHOW synchronous_standby_names')" ]

# Codes for each round: 500 of each kind, single use, made on the primary.
q "$p1" "CREATE EXTENSION codes" >/dev/null
for round in sync async; do
	q "$p1" "
	SELECT 'plain-uuid' || chr(9) || codes.code_gen(500, NULL, NULL, batch => '$round-plain-uuid')
	UNION ALL SELECT 'plain-pattern' || chr(9) || codes.code_gen(500, NULL, NULL, pattern => 'PL-####-####-###^', batch => '$round-plain-pattern')
	UNION ALL SELECT 'hmac-uuid' || chr(9) || codes.code_gen(500, NULL, NULL, store => 'hmac', batch => '$round-hmac-uuid')
	UNION ALL SELECT 'hmac-pattern' || chr(9) || codes.code_gen(500, NULL, NULL, pattern => 'GIFT-####-####-###^', store => 'hmac', batch => '$round-hmac-pattern')
	" >"$work/codes-$round"
done

# One round: the client kills the node named $2 (primary now) while
# streaming uses, the other one is promoted; check, rejoin, compare.
round() {
	r=$1
	victim=$2
	other=$3
	eval vport=\$p${victim#node}
	eval oport=\$p${other#node}
	echo "ha: round $r: killing $victim"
	/usr/bin/python3 "$tree/sql_tests/ha_client.py" "$r" "$uri" "$work/codes-$r" \
		"$(cat "$work/$victim.pgid")" "$work/$victim" "$oport" "$work/result-$r" ||
		{ cat "$work/result-$r" 2>/dev/null; return 1; }
	sed 's/^/ha: /' "$work/result-$r"
	# the new primary is settled before the old one rejoins
	wait_for "q $oport 'SELECT NOT pg_is_in_recovery()' | grep -qx t" 60
	run_node "$victim"
	wait_for "settled '$other:primary:primary $victim:secondary:secondary' || settled '$victim:secondary:secondary $other:primary:primary'" 180
	echo "ha: round $r: $victim rejoined as a secondary: $(states)"
	# caught up, then both answer code_query alike for every code of the round
	lsn=$(q "$oport" 'SELECT pg_current_wal_insert_lsn()')
	wait_for "q $vport \"SELECT pg_last_wal_replay_lsn() >= '$lsn'\" | grep -qx t" 60
	cut -f2 "$work/codes-$r" >"$work/plain-$r"
	for port in $oport $vport; do
		psql -X -At -q -h localhost -p "$port" -d postgres -v ON_ERROR_STOP=1 >"$work/query-$r-$port" <<EOF
\\set codes \`cat '$work/plain-$r'\`
SELECT n, codes.code_query(code) FROM unnest(string_to_array(:'codes', E'\\n')) WITH ORDINALITY AS t (code, n) ORDER BY n;
EOF
	done
	cmp "$work/query-$r-$oport" "$work/query-$r-$vport"
	echo "ha: round $r: code_query agrees on both nodes for $(wc -l <"$work/plain-$r") codes"
}

round sync node1 node2
round async node2 node1

# On the primary now (node1): hashed and patterned codes of a new batch.
got=$(psql -X -At -q -h localhost -p "$p1" -d postgres -v ON_ERROR_STOP=1 <<'SQL' | tr '\n' ' '
CREATE TEMP TABLE n AS SELECT codes.code_gen(3, NULL, NULL, pattern => 'NEW-####-####-###^', store => 'hmac') AS code;
SELECT string_agg(codes.code_use(code), ',') FROM n;
SELECT string_agg(codes.code_use(code), ',') FROM n;
SQL
)
echo "ha: a new hashed patterned batch on the primary: $got"
[ "$got" = "SUCCEED,SUCCEED,SUCCEED FAILED,FAILED,FAILED " ]
over=$(q "$p1" "SELECT count(*) FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE c.uses > b.max_uses")
echo "ha: codes with more uses than allowed: $over"
[ "$over" = 0 ]

#!/bin/sh
# codes on Citus: a coordinator and two workers on localhost
# (scripts/citus_cluster.sh, with Citus built by scripts/build_citus.sh),
# codes staged from this tree.  Checks, in order:
#   - codes.distribute() refuses a table distributed by hand otherwise than
#     codes needs, and changes nothing;
#   - codes.distribute() places each table (codes.batch a reference table,
#     codes.codes and codes.redemption_log distributed by code, colocated),
#     a second call changes nothing, and the rows live on the workers;
#   - the contract (sql_tests/citus/contract.sql: all calls, patterns,
#     hashed codes, multi-use and per-redeemer codes, undo, batch admin)
#     answers on the coordinator exactly as in a database of one plain
#     node (a second database on the coordinator, without Citus);
#   - a worker refuses the calls on codes and batches (55000);
#   - 16 clients race for 40 codes through the coordinator
#     (sql_tests/citus/race.py): uses recorded == SUCCEED answers, none
#     over its limit, and an open session sees a batch revoked at once; the
#     uses summed on the workers' shards equal the coordinator's count;
#   - a third worker added and the shards rebalanced onto it
#     (citus_rebalance_start): the same rows, and codes still work;
#   - a pg_dump of the coordinator holds every row: restored into another
#     database it holds the same;
#   - a session open while the coordinator leaves Citus's nodes, and with
#     it the copy of codes.batch, stops trusting its batch cache
#     (sql_tests/citus/stale.py).
# Run as root (it builds and installs Citus); the servers run as postgres.
# Prints a pg_regress-style result line; CODES_VERBOSE=1 prints the log.
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

start=$(date +%s)
work=$(mktemp -d -t codes-citus.XXXXXX)
chmod 755 "$work"
log=$work/log
cleanup() {
	[ -n "${CODES_KEEP:-}" ] && { echo "kept $work" >&2; return; }
	sh scripts/citus_cluster.sh stop "$work/cluster" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# psql on the coordinator (or the node whose port is $PORT), as postgres.
sql() {
	as_tester env PGPORT="${PORT:-$PGPORT}" psql -X -q -At -v ON_ERROR_STOP=1 "$@"
}

fail() {
	echo "FAILED: $*"
	exit 1
}

run() {
	stage_copy "$work" || fail "staging codes"
	CODES_KEY_FILE=/tmp/codes_regress_key_a \
		sh scripts/citus_cluster.sh start "$work/cluster" "$work/stage" >/dev/null ||
		fail "starting the cluster"
	. "$work/cluster/env"
	set -- $CITUS_WORKER_PORTS
	w1=$1 w2=$2

	# a table distributed by hand otherwise than codes needs: refused
	sql -c 'CREATE EXTENSION codes' || fail "CREATE EXTENSION codes"
	out=$(sql -v ON_ERROR_STOP=0 2>&1 <<-'EOF'
		BEGIN;
		SET LOCAL citus.enable_unsafe_triggers = on;
		SET LOCAL citus.allow_unsafe_constraints = on;
		SELECT pg_catalog.create_distributed_table('codes.codes', 'batch');
		SAVEPOINT s;
		SELECT codes.distribute();
		ROLLBACK TO s;
		SELECT count(*) FROM pg_catalog.pg_dist_partition
		WHERE logicalrelid::text IN ('codes.batch', 'codes.redemption_log');
		ROLLBACK;
	EOF
	)
	echo "$out" >>"$log"
	echo "$out" | grep -q 'ERROR:  table codes.codes is distributed otherwise than codes needs' &&
		[ "$(echo "$out" | tail -1)" = 0 ] ||
		fail "codes.distribute() over codes.codes distributed by batch: $out"

	# distribute, twice
	sql -c 'SELECT codes.distribute()' \
		-c 'SELECT codes.distribute()' >/dev/null || fail "codes.distribute()"
	placed=$(sql -c "SELECT string_agg(logicalrelid::text || ':' || partmethod::text || ':' ||
			coalesce(column_to_column_name(logicalrelid, partkey), '-'), ' ' ORDER BY 1)
		FROM pg_dist_partition")
	echo "placed: $placed"
	[ "$placed" = "codes.batch:n:- codes.codes:h:code codes.redemption_log:h:code" ] ||
		fail "tables placed as $placed"
	[ "$(sql -c "SELECT count(DISTINCT colocationid) FROM pg_dist_partition
		WHERE logicalrelid IN ('codes.codes'::regclass, 'codes.redemption_log'::regclass)")" = 1 ] ||
		fail "codes.codes and codes.redemption_log are not colocated"

	# the contract, on one plain node and through the coordinator
	sql -c 'CREATE DATABASE plain' 2>/dev/null
	sql -d plain -c 'CREATE EXTENSION codes' || fail "CREATE EXTENSION codes in plain"
	cp sql_tests/citus/contract.sql "$work/contract.sql"
	chmod 644 "$work/contract.sql"
	as_tester psql -X -d plain -f "$work/contract.sql" >"$work/plain.out" 2>&1
	as_tester psql -X -f "$work/contract.sql" >"$work/citus.out" 2>&1
	diff -u "$work/plain.out" "$work/citus.out" || fail "the contract answers differ on Citus"
	grep -c '' "$work/citus.out" | sed 's/^/contract: the same /; s/$/ lines on both/'

	# the rows are on the workers
	for p in $w1 $w2; do
		n=$(PORT=$p sql -c "SET citus.override_table_visibility = off;
			SELECT count(*) FROM pg_class WHERE relname ~ '^codes_[0-9]+\$'")
		echo "worker on port $p: $n shards of codes.codes"
		[ "$n" -gt 0 ] || fail "no shard of codes.codes on the worker on port $p"
	done

	# a worker refuses: the brake and the sequences are the coordinator's
	out=$(PORT=$w1 sql -c '\set VERBOSITY verbose' -c "SELECT codes.code_query('x')" 2>&1)
	echo "on a worker: $out" | head -n 2
	echo "$out" | grep -q '^ERROR:  55000: codes runs on the Citus coordinator only' ||
		fail "a worker ran codes.code_query"

	# the race
	as_tester /usr/bin/python3 sql_tests/citus/race.py \
		"host=$PGHOST port=$PGPORT user=postgres dbname=postgres" 5 16 || fail "race"
	total=$(sql -c "SELECT sum(uses) FROM codes.codes")
	shards=0
	for p in $w1 $w2; do
		n=$(PORT=$p sql -c "SET citus.override_table_visibility = off;" -c "
			SELECT coalesce(sum((xpath('/row/s/text()',
				query_to_xml(format('SELECT sum(uses) AS s FROM codes.%I', relname),
							 false, true, '')))[1]::text::bigint), 0)
			FROM pg_class WHERE relname ~ '^codes_[0-9]+\$'
			  AND relnamespace = 'codes'::regnamespace")
		shards=$((shards + n))
	done
	echo "uses: $total through the coordinator, $shards summed on the shards"
	[ "$total" = "$shards" ] || fail "the shards hold $shards uses, the coordinator counts $total"

	# what the rows are, to compare after rebalancing and restoring
	fingerprint="SELECT (SELECT md5(string_agg(c.code || ':' || c.batch || ':' || c.uses, ',' ORDER BY c.code))
		FROM codes.codes c) || ' ' || (SELECT count(*) FROM codes.redemption_log) || ' ' ||
		(SELECT string_agg(name || ':' || issued || ':' || used_up, ',' ORDER BY name) FROM codes.batches)"
	before=$(sql -c "$fingerprint")

	# a third worker, and the shards rebalanced onto it
	w3=$(sh scripts/citus_cluster.sh add "$work/cluster") || fail "adding a worker"
	sql -c "SET statement_timeout = '${CODES_CITUS_REBALANCE_TIMEOUT:-300s}'" -c "SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes')" -c "SELECT citus_rebalance_wait()" >/dev/null ||
		fail "rebalancing"
	n=$(PORT=$w3 sql -c "SET citus.override_table_visibility = off;
		SELECT count(*) FROM pg_class WHERE relname ~ '^codes_[0-9]+\$'")
	echo "after rebalancing: $n shards of codes.codes on the new worker (port $w3)"
	[ "$n" -gt 0 ] || fail "no shard moved to the new worker"
	[ "$(sql -c "$fingerprint")" = "$before" ] || fail "rows changed by rebalancing"
	as_tester /usr/bin/python3 sql_tests/citus/race.py \
		"host=$PGHOST port=$PGPORT user=postgres dbname=postgres" 2 8 || fail "race after rebalancing"

	# a dump of the coordinator holds every row
	before=$(sql -c "$fingerprint")
	as_tester pg_dump -Fc -f "$work/coordinator.dump" postgres || fail "pg_dump of the coordinator"
	sql -c 'CREATE DATABASE restored' 2>/dev/null
	as_tester pg_restore -d restored "$work/coordinator.dump" || fail "pg_restore"
	after=$(sql -d restored -c "$fingerprint")
	echo "dump: $before"
	[ "$before" = "$after" ] || fail "restored: $after"

	# last, as it takes the coordinator out of the nodes: an open session
	# learns that its copy of codes.batch is gone (stale.py)
	as_tester /usr/bin/python3 sql_tests/citus/stale.py \
		"host=$PGHOST port=$PGPORT user=postgres dbname=postgres" "$PGPORT" ||
		fail "a session open while the coordinator left the nodes"
}

# Without Citus's source (scripts/source.sh: not in the cache, no
# ../shared/vendor, no download), the test is skipped, with the reason.
rc=0
sh scripts/build_citus.sh 2>"$work/build.err" || rc=$?
if [ "$rc" -eq 3 ]; then
	printf 'test %-30s ... skipped: %s\n' citus "$(tail -n 1 "$work/build.err")"
	exit 0
elif [ "$rc" -ne 0 ]; then
	cat "$work/build.err"
	printf 'test %-30s ... FAILED\n' citus
	exit 1
fi
cat "$work/build.err" >"$log"

if (run) >>"$log" 2>&1; then
	[ -n "${CODES_VERBOSE:-}" ] && cat "$log"
	printf 'test %-30s ... ok %8s ms\n' citus "$((($(date +%s) - start) * 1000))"
else
	cat "$log"
	printf 'test %-30s ... FAILED\n' citus
	exit 1
fi

#!/bin/sh
# codes on Citus: a coordinator and two workers on localhost
# (scripts/citus_cluster.sh, with Citus built by scripts/build_citus.sh),
# codes staged from this tree.  Checks, in order:
#   - a cluster distributed by codes 1.2 is updated to 1.3 by ALTER
#     EXTENSION codes UPDATE on the coordinator: every node at 1.3, the
#     new indexes and column on every shard; codes.distribute() then
#     distributes the new codes.use_stripes, and codes used under 1.2 go
#     on counting their uses and limits per redeemer;
#   - codes.distribute() refuses a table distributed by hand otherwise than
#     codes needs (codes.codes by batch; codes.use_stripes not colocated),
#     and changes nothing;
#   - codes.distribute() places each table (codes.batch a reference table,
#     codes.codes, codes.redemption_log and codes.use_stripes distributed
#     by code, colocated), a second call changes nothing, and the rows live
#     on the workers;
#   - the contract (sql_tests/citus/contract.sql: all calls, patterns,
#     hashed codes, multi-use and per-redeemer codes, undo, batch admin;
#     codes without a total limit, limits across a batch, holds,
#     references, one code at a time)
#     answers on the coordinator exactly as in a database of one plain
#     node (a second database on the coordinator, without Citus);
#   - a worker refuses the calls on codes and batches (55000);
#   - 16 clients race for 40 codes through the coordinator
#     (sql_tests/citus/race.py): uses recorded == SUCCEED answers, none
#     over its limit, and an open session sees a batch revoked at once; the
#     uses summed on the workers' shards (codes' rows and stripes) equal
#     the coordinator's, and the standing uses of codes.batches;
#   - a hot promo code (sql_tests/citus/hot_race.sh): 24 clients on one
#     code of 300 uses, once per redeemer, a campaign limited per redeemer
#     across its codes, a code without such a limit at READ COMMITTED and
#     REPEATABLE READ: the ledger of SUCCEED answers equals the standing
#     uses in the views, no redeemer twice, never above max_uses; at
#     REPEATABLE READ and SERIALIZABLE a code limited per redeemer is
#     refused (0A000);
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

# The sum of column uses over the shards of table codes.$1 on the workers
# $w1 and $w2.
shard_sum() {
	sum=0
	for p in $w1 $w2; do
		n=$(PORT=$p sql -c "SET citus.override_table_visibility = off;" -c "
			SELECT coalesce(sum((xpath('/row/s/text()',
				query_to_xml(format('SELECT sum(uses) AS s FROM codes.%I', relname),
							 false, true, '')))[1]::text::bigint), 0)
			FROM pg_class WHERE relname ~ '^$1_[0-9]+\$'
			  AND relnamespace = 'codes'::regnamespace")
		sum=$((sum + n))
	done
	echo $sum
}

run() {
	stage_copy "$work" || fail "staging codes"
	CODES_KEY_FILE=/tmp/codes_regress_key_a \
		sh scripts/citus_cluster.sh start "$work/cluster" "$work/stage" >/dev/null ||
		fail "starting the cluster"
	. "$work/cluster/env"
	set -- $CITUS_WORKER_PORTS
	w1=$1 w2=$2

	# a cluster distributed by 1.2, with rows as 1.2 wrote them (its
	# functions need its own library): a code of 5 uses, 2 per redeemer,
	# with two uses in its row and their history; a used single-use code
	sql -c "CREATE EXTENSION codes VERSION '1.2'" -c 'SELECT codes.distribute()' >/dev/null ||
		fail "codes 1.2, distributed"
	sql <<-'EOF' || fail "rows of codes 1.2"
		INSERT INTO codes.batch (id, name, max_uses, max_uses_per_redeemer)
		VALUES (nextval('codes.batch_id_seq'), 'old multi', 5, 2),
			   (nextval('codes.batch_id_seq'), 'old single', 1, NULL);
		INSERT INTO codes.codes (batch, uses, code)
		SELECT id, 2, '1a2b3c4d-0000-4000-8000-000000000001' FROM codes.batch
		WHERE name = 'old multi';
		INSERT INTO codes.codes (batch, uses, code, used_at, used_by)
		SELECT id, 1, '1a2b3c4d-0000-4000-8000-000000000002', now(), 'x' FROM codes.batch
		WHERE name = 'old single';
		INSERT INTO codes.redemption_log (code, batch, redeemer, used_at)
		SELECT '1a2b3c4d-0000-4000-8000-000000000001', id, r, now()
		FROM codes.batch, (VALUES ('r1'), ('r2')) AS v(r) WHERE name = 'old multi';
	EOF
	sql -c 'ALTER EXTENSION codes UPDATE' || fail "ALTER EXTENSION codes UPDATE of a distributed 1.2"
	for p in $PGPORT $w1 $w2; do
		[ "$(PORT=$p sql -c "SELECT extversion FROM pg_extension WHERE extname = 'codes'")" = 1.3 ] ||
			fail "the node on port $p is not at 1.3"
	done
	for p in $w1 $w2; do
		shards=$(PORT=$p sql -c "SET citus.override_table_visibility = off;" -c "
			SELECT count(*) FILTER (WHERE relname ~ '^redemption_log_[0-9]+\$') || ' ' ||
				   count(*) FILTER (WHERE relname ~ '^redemption_log_redeemer_[0-9]+\$') || ' ' ||
				   count(*) FILTER (WHERE relname ~ '^codes_used_by_[0-9]+\$') || ' ' ||
				   (SELECT count(*) FROM pg_attribute AS a JOIN pg_class AS b ON b.oid = a.attrelid
					WHERE b.relname ~ '^redemption_log_[0-9]+\$' AND a.attname = 'held_until') || ' ' ||
				   (SELECT count(*) FROM pg_attribute AS a JOIN pg_class AS b ON b.oid = a.attrelid
					WHERE b.relname ~ '^codes_[0-9]+\$' AND a.attname = 'bound_to') || ' ' ||
				   (SELECT count(*) FROM pg_attribute AS a JOIN pg_class AS b ON b.oid = a.attrelid
					WHERE b.relname ~ '^batch_[0-9]+\$' AND a.attname = 'max_batch_uses_per_redeemer')
			FROM pg_class WHERE relnamespace = 'codes'::regnamespace")
		set -- $shards
		[ "$1" -gt 0 ] && [ "$2" = "$1" ] && [ "$3" = "$1" ] && [ "$4" = "$1" ] &&
			[ "$5" = "$1" ] && [ "$6" = 1 ] ||
			fail "the shards on port $p were not all updated (shards of the history; new indexes there and on codes; new columns there, on codes and on codes.batch): $shards"
	done
	sql -c 'SELECT codes.distribute()' >/dev/null || fail "codes.distribute() after the update"
	out=$(sql <<-'EOF'
		SELECT string_agg(logicalrelid::text, ' ' ORDER BY 1) FROM pg_dist_partition;
		SELECT codes.code_use('1a2b3c4d-0000-4000-8000-000000000001', r)
		FROM unnest(ARRAY['r1', 'r1', 'r3', 'r4', 'r5']) WITH ORDINALITY AS u(r, n) ORDER BY n;
		SELECT codes.code_query('1a2b3c4d-0000-4000-8000-000000000002');
		SELECT string_agg(name || ':' || uses || ':' || uses_left, ' ' ORDER BY name) FROM codes.batches;
	EOF
	)
	echo "updated from 1.2:" $out
	[ "$(echo $out)" = "codes.batch codes.codes codes.redemption_log codes.use_stripes SUCCEED FAILED SUCCEED SUCCEED FAILED ACTIVED old multi:5:0 old single:1:0" ] ||
		fail "after the update from 1.2: $out"
	sql -c 'DROP EXTENSION codes CASCADE' 2>/dev/null || fail "DROP EXTENSION codes CASCADE"

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
	out=$(sql -v ON_ERROR_STOP=0 2>&1 <<-'EOF'
		BEGIN;
		SELECT pg_catalog.create_distributed_table('codes.use_stripes', 'code', colocate_with => 'none');
		SAVEPOINT s;
		SELECT codes.distribute();
		ROLLBACK TO s;
		SELECT count(*) FROM pg_catalog.pg_dist_partition
		WHERE logicalrelid::text IN ('codes.batch', 'codes.codes', 'codes.redemption_log');
		ROLLBACK;
	EOF
	)
	echo "$out" >>"$log"
	echo "$out" | grep -q 'ERROR:  table codes.use_stripes is distributed otherwise than codes needs' &&
		[ "$(echo "$out" | tail -1)" = 0 ] ||
		fail "codes.distribute() over codes.use_stripes not colocated: $out"

	# distribute, twice
	sql -c 'SELECT codes.distribute()' \
		-c 'SELECT codes.distribute()' >/dev/null || fail "codes.distribute()"
	placed=$(sql -c "SELECT string_agg(logicalrelid::text || ':' || partmethod::text || ':' ||
			coalesce(column_to_column_name(logicalrelid, partkey), '-'), ' ' ORDER BY 1)
		FROM pg_dist_partition")
	echo "placed: $placed"
	[ "$placed" = "codes.batch:n:- codes.codes:h:code codes.redemption_log:h:code codes.use_stripes:h:code" ] ||
		fail "tables placed as $placed"
	[ "$(sql -c "SELECT count(DISTINCT colocationid) FROM pg_dist_partition
		WHERE logicalrelid IN ('codes.codes'::regclass, 'codes.redemption_log'::regclass,
							   'codes.use_stripes'::regclass)")" = 1 ] ||
		fail "codes.codes, codes.redemption_log and codes.use_stripes are not colocated"

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
		m=$(PORT=$p sql -c "SET citus.override_table_visibility = off;
			SELECT count(*) FROM pg_class WHERE relname ~ '^use_stripes_[0-9]+\$'")
		echo "worker on port $p: $n shards of codes.codes, $m of codes.use_stripes"
		[ "$n" -gt 0 ] && [ "$m" = "$n" ] ||
			fail "shards of codes.codes and codes.use_stripes missing on the worker on port $p"
	done

	# a worker refuses: the brake and the sequences are the coordinator's
	out=$(PORT=$w1 sql -c '\set VERBOSITY verbose' -c "SELECT codes.code_query('x')" 2>&1)
	echo "on a worker: $out" | head -n 2
	echo "$out" | grep -q '^ERROR:  55000: codes runs on the Citus coordinator only' ||
		fail "a worker ran codes.code_query"

	# the race
	as_tester /usr/bin/python3 sql_tests/citus/race.py \
		"host=$PGHOST port=$PGPORT user=postgres dbname=postgres" 5 16 || fail "race"
	# the uses on the shards: codes' rows (single-use codes, and what a
	# multi-use code's row counted before it had stripes) and stripes;
	# with the history of codes without a total cap, the standing uses
	rows=$(sql -c "SELECT sum(uses) FROM codes.codes")
	stripes=$(sql -c "SELECT sum(uses) FROM codes.use_stripes")
	uncapped=$(sql -c "SELECT count(*) FROM codes.redemption_log AS l JOIN codes.batch AS b
		ON b.id = l.batch WHERE b.max_uses IS NULL AND l.undone_at IS NULL")
	standing=$(sql -c "SELECT sum(uses) FROM codes.batches")
	on_shards=$(shard_sum codes)
	stripes_on_shards=$(shard_sum use_stripes)
	echo "uses: $rows in codes' rows and $stripes in stripes through the coordinator," \
		"$on_shards and $stripes_on_shards summed on the shards; $standing standing (codes.batches)"
	[ "$rows" = "$on_shards" ] && [ "$stripes" = "$stripes_on_shards" ] && [ "$stripes" -gt 0 ] ||
		fail "the shards hold other uses than the coordinator counts"
	[ "$standing" = $((rows + stripes + uncapped)) ] ||
		fail "codes.batches counts $standing standing uses, the tables $rows + $stripes + $uncapped"

	# a hot promo code, through the coordinator
	as_tester env PGPORT="$PGPORT" sh sql_tests/citus/hot_race.sh || fail "hot race"

	# what the rows are, to compare after rebalancing and restoring
	fingerprint="SELECT (SELECT md5(string_agg(c.code || ':' || c.batch || ':' || c.uses, ',' ORDER BY c.code))
		FROM codes.codes c) || ' ' || (SELECT count(*) FROM codes.redemption_log) || ' ' ||
		(SELECT md5(string_agg(s.code || ':' || s.stripe || ':' || s.uses, ',' ORDER BY s.code, s.stripe))
		 FROM codes.use_stripes s) || ' ' ||
		(SELECT string_agg(name || ':' || issued || ':' || used_up || ':' || uses, ',' ORDER BY name)
		 FROM codes.batches)"
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

#!/bin/sh
# A hot promo code through the Citus coordinator (sql_tests/citus.sh runs
# it, with PGHOST and PGPORT naming the coordinator, whose tables
# codes.distribute() has distributed; the servers' user runs it).
#
# 24 pgbench clients, 60 transactions each, through the coordinator, at
# READ COMMITTED: on one code with max_uses 300 and max_uses_per_redeemer
# 1, redeemers drawn from a pool of 600, some uses rolled back, some
# undone, with checks and queries between; on a campaign of 4 codes
# without a total cap that allows each redeemer one use of the batch's
# codes, whichever code; and at READ COMMITTED and REPEATABLE READ (40001
# retried) on a code with max_uses 100 and no limit per redeemer.  (Not
# SERIALIZABLE: Citus runs it on each worker apart, and reports a
# serialization failure found at COMMIT as "could not commit transaction
# for shard", XX000, which pgbench does not retry.)  Each client writes every answer into table ledger (the
# coordinator's own) in the same transaction.  Then, through the
# coordinator's views (codes.batches, codes.redemptions,
# codes.batch_codes): the ledger's standing uses (SUCCEED uses less
# SUCCEED undos, per redeemer) are exactly the standing uses of the
# history and of the codes' counts, never above max_uses, no redeemer
# twice (and none twice in the campaign), and the uses the race left
# are all taken by new redeemers after it.
#
# Then REPEATABLE READ and SERIALIZABLE, where a worker would count a
# redeemer's uses with a snapshot older than the redeemer's lock: a use of
# a code that a batch limits per redeemer is refused there (0A000) and
# changes nothing, whatever the code's state; a code without such a limit
# is used as at READ COMMITTED.
#
# Prints its findings; exits non-zero on the first failed check.
#
#   sh sql_tests/citus/hot_race.sh [TRANSACTIONS [CLIENTS]]
set -u

transactions=${1:-60}
clients=${2:-24}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sql() {
	psql -X -q -At -v ON_ERROR_STOP=1 "$@"
}

fail() {
	echo "FAILED: $*"
	exit 1
}

sql <<'EOF' >/dev/null || fail "setting up"
SET client_min_messages = warning;
SELECT codes.batch_del(name) FROM codes.batches WHERE name LIKE 'hot%';
DROP TABLE IF EXISTS hot, hot_open, camp, ledger;
CREATE TABLE hot AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 300,
								max_uses_per_redeemer => 1, batch => 'hot') AS code;
CREATE TABLE hot_open AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 100, batch => 'hot open') AS code;
CREATE TABLE camp AS
SELECT row_number() OVER ()::integer AS n, code
FROM codes.code_gen(4, NULL, NULL, max_uses => NULL,
					max_batch_uses_per_redeemer => 1, batch => 'hot campaign') AS code;
CREATE TABLE ledger (op text NOT NULL, batch text NOT NULL, redeemer text NOT NULL,
					 result text NOT NULL);
EOF

cat >"$work/use.sql" <<'EOF'
\set r random(1, 600)
BEGIN;
INSERT INTO ledger SELECT 'use', 'hot', 'r' || :r, codes.code_use(code, 'r' || :r) FROM hot;
COMMIT;
EOF
cat >"$work/use_rollback.sql" <<'EOF'
\set r random(1, 600)
BEGIN;
INSERT INTO ledger SELECT 'use', 'hot', 'r' || :r, codes.code_use(code, 'r' || :r) FROM hot;
ROLLBACK;
EOF
cat >"$work/undo.sql" <<'EOF'
\set r random(1, 600)
INSERT INTO ledger SELECT 'undo', 'hot', 'r' || :r, codes.code_undo(code, 'r' || :r) FROM hot;
EOF
cat >"$work/check.sql" <<'EOF'
\set r random(1, 600)
SELECT codes.code_query(code), (codes.code_check(code, 'r' || :r)).ok FROM hot;
EOF
cat >"$work/campaign.sql" <<'EOF'
\set r random(1, 200)
\set n random(1, 4)
INSERT INTO ledger SELECT 'use', 'hot campaign', 'c' || :r, codes.code_use(code, 'c' || :r)
FROM camp WHERE n = :n;
EOF
for level in 'READ COMMITTED' 'REPEATABLE READ'; do
	cat >"$work/open_$(echo "$level" | tr -d ' ' | tr 'A-Z' 'a-z').sql" <<EOF
\\set r random(1, 100000)
BEGIN ISOLATION LEVEL $level;
INSERT INTO ledger SELECT 'use', 'hot open', 'o' || :r, codes.code_use(code, 'o' || :r) FROM hot_open;
COMMIT;
EOF
done

start=$(date +%s)
pgbench -n -c "$clients" -j 4 -t "$transactions" --max-tries=100 --failures-detailed \
	-f "$work/use.sql@45" -f "$work/use_rollback.sql@5" -f "$work/undo.sql@5" \
	-f "$work/check.sql@10" -f "$work/campaign.sql@20" \
	-f "$work/open_readcommitted.sql@5" -f "$work/open_repeatableread.sql@10" \
	>"$work/pgbench" 2>&1
status=$?
[ $status -eq 0 ] || { cat "$work/pgbench"; fail "pgbench exited with status $status"; }
grep -q '^number of failed transactions: 0 ' "$work/pgbench" ||
	{ cat "$work/pgbench"; fail "pgbench reports failed transactions"; }
echo "hot race: $clients clients through the coordinator ($(($(date +%s) - start)) s):" \
	"$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1 transactions/p' "$work/pgbench"),"\
	"$(sed -n 's/^number of transactions retried: \([0-9]*\).*/\1 retried/p' "$work/pgbench")"
sql -F ' ' -c "SELECT batch, op, result, count(*) FROM ledger GROUP BY 1, 2, 3 ORDER BY 1, 2, 3" |
	sed 's/^/  ledger: /'

# the race over, the uses it left are taken by new redeemers: every one
# must still be there to take, whatever the machine's speed let the race
# reach
sql >/dev/null <<'EOF' || fail "draining"
INSERT INTO ledger SELECT 'use', 'hot', 'drain-' || g, codes.code_use(code, 'drain-' || g)
FROM hot, generate_series(1, 300) AS g;
INSERT INTO ledger SELECT 'use', 'hot open', 'drain-' || g, codes.code_use(code, 'drain-' || g)
FROM hot_open, generate_series(1, 100) AS g;
EOF

# one row per check, "name|t" when it holds
sql >"$work/check" <<'EOF' || { cat "$work/check"; fail "checking"; }
CREATE TEMP TABLE standing_ledger AS
SELECT batch, redeemer,
	   count(*) FILTER (WHERE op = 'use' AND result = 'SUCCEED')
	   - count(*) FILTER (WHERE op = 'undo' AND result = 'SUCCEED') AS n
FROM ledger GROUP BY 1, 2;
CREATE TEMP TABLE standing_history AS
SELECT batch, redeemer, count(*) AS n
FROM codes.redemptions WHERE batch LIKE 'hot%' AND undone_at IS NULL GROUP BY 1, 2;
CREATE TEMP TABLE counted AS
SELECT name, uses, uses_left FROM codes.batches WHERE name LIKE 'hot%';
CREATE TEMP TABLE listed AS
SELECT 'hot' AS name, sum(uses) AS uses FROM codes.batch_codes('hot')
UNION ALL SELECT 'hot open', sum(uses) FROM codes.batch_codes('hot open')
UNION ALL SELECT 'hot campaign', sum(uses) FROM codes.batch_codes('hot campaign');

SELECT 'the ledger is the history, redeemer by redeemer',
	   (SELECT count(*) FROM standing_ledger l FULL JOIN standing_history h
			ON h.batch = l.batch AND h.redeemer = l.redeemer
		WHERE coalesce(l.n, 0) <> coalesce(h.n, 0)) = 0;
SELECT 'each code counts its standing uses (codes.batches, codes.batch_codes)',
	   (SELECT count(*) FROM counted c JOIN listed USING (name)
		WHERE c.uses IS DISTINCT FROM
				(SELECT coalesce(sum(n), 0) FROM standing_ledger l WHERE l.batch = c.name)
		   OR listed.uses IS DISTINCT FROM c.uses) = 0
	   AND (SELECT count(*) FROM counted) = 3;
SELECT 'never above max_uses, and every use left could be taken',
	   (SELECT uses = 300 AND uses_left = 0 FROM counted WHERE name = 'hot')
	   AND (SELECT uses = 100 AND uses_left = 0 FROM counted WHERE name = 'hot open');
SELECT 'no redeemer twice, of the code or of the campaign',
	   (SELECT count(*) FROM standing_history WHERE batch <> 'hot open' AND n > 1) = 0
	   AND (SELECT count(*) FROM standing_ledger WHERE n < 0
			OR (batch <> 'hot open' AND n > 1)) = 0;
SELECT 'only documented answers',
	   (SELECT count(*) FROM ledger WHERE result NOT IN ('SUCCEED', 'FAILED')) = 0;
SELECT 'the run had races to decide',
	   (SELECT count(*) FROM ledger WHERE op = 'use' AND result = 'FAILED' AND batch = 'hot') > 0
	   AND (SELECT count(*) FROM ledger WHERE op = 'undo' AND result = 'SUCCEED') > 0
	   AND (SELECT count(*) FROM ledger WHERE batch = 'hot campaign' AND result = 'FAILED') > 0
	   AND (SELECT count(*) FROM ledger WHERE batch = 'hot open' AND result = 'FAILED') > 0;
EOF
sed 's/^/  /' "$work/check"
! grep -q '|f$' "$work/check" && [ "$(grep -c '|t$' "$work/check")" -eq 6 ] ||
	fail "a check of the ledger failed"

# REPEATABLE READ and SERIALIZABLE: refused where a limit per redeemer
# guards the use; the history and the counts unchanged
before=$(sql -c "SELECT string_agg(name || ':' || uses, ' ' ORDER BY name) FROM codes.batches
				 WHERE name LIKE 'hot%'")
for level in 'REPEATABLE READ' 'SERIALIZABLE'; do
	for target in "hot:r1" "camp WHERE n = 1:fresh" "camp WHERE n = 2:c1"; do
		from=${target%%:*} redeemer=${target#*:}
		out=$(sql -v ON_ERROR_STOP=0 2>&1 <<-EOF
			\\set VERBOSITY verbose
			BEGIN ISOLATION LEVEL $level;
			SELECT codes.code_use(code, '$redeemer') FROM $from;
			ROLLBACK;
		EOF
		)
		echo "$out" | grep -q "^ERROR:  0A000: a code limited per redeemer cannot be used at isolation level $level on Citus" ||
			fail "at $level a use of $from by $redeemer answered: $out"
	done
	out=$(sql -c "BEGIN ISOLATION LEVEL $level" \
		-c "SELECT codes.code_use(code, 'o-rr') FROM hot_open" -c "ROLLBACK" 2>&1)
	[ "$out" = FAILED ] || fail "at $level the code without a limit per redeemer answered: $out"
	echo "$level: a use of a code limited per redeemer (per code, per batch) refused (0A000); one without such a limit answered $out"
done
[ "$(sql -c "SELECT string_agg(name || ':' || uses, ' ' ORDER BY name) FROM codes.batches
			 WHERE name LIKE 'hot%'")" = "$before" ] || fail "a refused use changed the counts"
sql -c "DROP TABLE hot, hot_open, camp, ledger" || fail "cleaning up"
echo "hot race ok"

#!/bin/sh
# Race on a hot promo code: 32 pgbench clients for 5 seconds on one code
# with max_uses 3,000 and max_uses_per_redeemer 1, redeemers drawn from a
# pool of 4,000, at READ COMMITTED, REPEATABLE READ and SERIALIZABLE
# (40001 retried), some uses rolled back, some undone, with checks and
# queries between; and on a campaign of 20 codes that allows each redeemer
# one use of the batch's codes, whichever code.  Each client writes every
# answer into table ledger in the same transaction.  Then: the ledger's
# standing uses (SUCCEED uses less SUCCEED undos, per redeemer) are
# exactly the standing uses of the history and of the code's count, never
# above max_uses, no redeemer twice (and none twice in the campaign), and
# the uses the race left are all taken by new redeemers after it.  CODES_HEAVY=1: 64 clients, 30 seconds.  Run inside
# a cluster (for example under pg_virtualenv); prints a pg_regress-style
# result line.
set -u

if [ -n "${CODES_HEAVY:-}" ]; then
	clients=64 seconds=30
else
	clients=32 seconds=5
fi

db=codes_hot_race
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists $db 2>/dev/null' EXIT

cat >"$work/setup.sql" <<'EOF'
CREATE EXTENSION codes;
CREATE TABLE hot AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 3000,
								max_uses_per_redeemer => 1, batch => 'hot') AS code;
CREATE TABLE camp AS
SELECT row_number() OVER ()::integer AS n, code
FROM codes.code_gen(20, NULL, NULL, max_uses => 1000,
					max_batch_uses_per_redeemer => 1, batch => 'campaign') AS code;
CREATE TABLE ledger (op text NOT NULL, batch text NOT NULL, redeemer text NOT NULL,
					 result text NOT NULL);
EOF

# a use of the hot code by a redeemer of the pool, at each isolation level
for level in 'READ COMMITTED' 'REPEATABLE READ' 'SERIALIZABLE'; do
	f=$work/use_$(echo "$level" | tr -d ' ' | tr 'A-Z' 'a-z').sql
	cat >"$f" <<EOF
\\set r random(1, 4000)
BEGIN ISOLATION LEVEL $level;
INSERT INTO ledger SELECT 'use', 'hot', 'r' || :r, codes.code_use(code, 'r' || :r) FROM hot;
COMMIT;
EOF
done
cat >"$work/use_rollback.sql" <<'EOF'
\set r random(1, 4000)
BEGIN;
INSERT INTO ledger SELECT 'use', 'hot', 'r' || :r, codes.code_use(code, 'r' || :r) FROM hot;
ROLLBACK;
EOF
cat >"$work/undo.sql" <<'EOF'
\set r random(1, 4000)
INSERT INTO ledger SELECT 'undo', 'hot', 'r' || :r, codes.code_undo(code, 'r' || :r) FROM hot;
EOF
cat >"$work/check.sql" <<'EOF'
\set r random(1, 4000)
SELECT codes.code_query(hot.code), c.ok FROM hot, codes.code_check(hot.code, 'r' || :r) AS c;
EOF
cat >"$work/campaign.sql" <<'EOF'
\set r random(1, 500)
\set n random(1, 20)
INSERT INTO ledger SELECT 'use', 'campaign', 'c' || :r, codes.code_use(code, 'c' || :r)
FROM camp WHERE n = :n;
EOF
cat >"$work/verify.sql" <<'EOF'
-- the race over, the uses left are taken by new redeemers, one statement:
-- every use the race left must still be there to take, whatever the
-- machine's speed let the race reach
INSERT INTO ledger SELECT 'use', 'hot', 'drain-' || g, codes.code_use(code, 'drain-' || g)
FROM hot, generate_series(1, 3000) AS g;
-- one row per check, "name|t" when it holds
CREATE TEMP VIEW standing_ledger AS
SELECT batch, redeemer,
	   count(*) FILTER (WHERE op = 'use' AND result = 'SUCCEED')
	   - count(*) FILTER (WHERE op = 'undo' AND result = 'SUCCEED') AS n
FROM ledger GROUP BY 1, 2;
CREATE TEMP VIEW standing_history AS
SELECT batch, redeemer, count(*) AS n
FROM codes.redemptions WHERE undone_at IS NULL GROUP BY 1, 2;

SELECT 'the ledger is the history, redeemer by redeemer',
	   (SELECT count(*) FROM standing_ledger l FULL JOIN standing_history h
			ON h.batch = l.batch AND h.redeemer = l.redeemer
		WHERE coalesce(l.n, 0) <> coalesce(h.n, 0)) = 0;
SELECT 'the code counts its standing uses',
	   (SELECT uses FROM codes.batches WHERE name = 'hot')
	   = (SELECT coalesce(sum(n), 0) FROM standing_ledger WHERE batch = 'hot');
SELECT 'never above max_uses, and every use left could be taken',
	   (SELECT uses FROM codes.batches WHERE name = 'hot') = 3000
	   AND (SELECT uses_left FROM codes.batches WHERE name = 'hot') = 0;
SELECT 'no redeemer twice, of the code or of the campaign',
	   (SELECT count(*) FROM standing_history WHERE n > 1) = 0
	   AND (SELECT count(*) FROM standing_ledger WHERE n > 1 OR n < 0) = 0;
SELECT 'only documented answers',
	   (SELECT count(*) FROM ledger WHERE result NOT IN ('SUCCEED', 'FAILED')) = 0;
SELECT 'the run had races to decide',
	   (SELECT count(*) FROM ledger WHERE op = 'use' AND result = 'FAILED' AND batch = 'hot') > 0
	   AND (SELECT count(*) FROM ledger WHERE op = 'undo' AND result = 'SUCCEED') > 0
	   AND (SELECT count(*) FROM ledger WHERE batch = 'campaign' AND result = 'FAILED') > 0;
EOF

run() {
	dropdb --if-exists $db 2>/dev/null
	createdb $db || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d $db -f "$work/setup.sql" >/dev/null || return 1
	pgbench -n -c $clients -j 4 -T $seconds --max-tries=0 --failures-detailed \
		-f "$work/use_readcommitted.sql@40" -f "$work/use_repeatableread.sql@10" \
		-f "$work/use_serializable.sql@10" -f "$work/use_rollback.sql@5" \
		-f "$work/undo.sql@5" -f "$work/check.sql@10" -f "$work/campaign.sql@20" \
		$db >"$work/pgbench" 2>&1
	status=$?
	cat "$work/pgbench"
	[ $status -eq 0 ] || { echo "pgbench exited with status $status"; return 1; }
	grep -q '^number of failed transactions: 0 ' "$work/pgbench" ||
		{ echo "pgbench reports failed transactions"; return 1; }
	psql -X -q -At -v ON_ERROR_STOP=1 -d $db -f "$work/verify.sql" >"$work/check" || return 1
	cat "$work/check"
	psql -X -At -d $db -c "SELECT batch, op, result, count(*) FROM ledger GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
	! grep -q '|f$' "$work/check" && [ "$(grep -c '|t$' "$work/check")" -eq 6 ]
}

start=$(date +%s)
if run >"$work/log" 2>&1; then
	[ -n "${CODES_VERBOSE:-}" ] && cat "$work/log"
	printf 'test %-30s ... ok %8s ms\n' hot_race "$((($(date +%s) - start) * 1000))"
else
	cat "$work/log"
	printf 'test %-30s ... FAILED\n' hot_race
fi

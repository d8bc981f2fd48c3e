#!/bin/sh
# Batches changed while they are used: 16 pgbench clients for 5 seconds
# use (at READ COMMITTED, REPEATABLE READ and SERIALIZABLE, 40001
# retried), undo and check a hot code, whose max_uses an admin session
# changes all the while (between 50 and 400, and no cap); use a campaign
# of single-use codes whose limit per redeemer across the batch a second
# admin session sets and lifts; and use codes that a third makes multi-use
# and single-use again (refused, 55000, while a code has two uses).  Each
# client writes every answer into table ledger in the same transaction;
# the hot code's admin records the cap and the code's standing uses at
# each change, in its transaction.  Then: the ledger's standing uses are
# exactly the history's and the batches' counts, redeemer by redeemer;
# between two changes the hot code's uses never passed the cap in force
# (its uses at a change are at most the cap set before, or its uses then);
# every single-use code holds its use once, on its row or in the history;
# and there were races and changes.  CODES_HEAVY=1: 64 clients, 30
# seconds.  Run inside a cluster (for example under pg_virtualenv); prints
# a pg_regress-style result line.
set -u

if [ -n "${CODES_HEAVY:-}" ]; then
	clients=64 seconds=30
else
	clients=16 seconds=5
fi

db=codes_alter_race
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists $db 2>/dev/null' EXIT

cat >"$work/setup.sql" <<'EOF'
CREATE EXTENSION codes;
CREATE TABLE hot AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 200, batch => 'hot') AS code;
CREATE TABLE camp AS
SELECT row_number() OVER ()::integer AS n, code
FROM codes.code_gen(400, NULL, NULL, batch => 'campaign') AS code;
CREATE TABLE flip AS
SELECT row_number() OVER ()::integer AS n, code
FROM codes.code_gen(100, NULL, NULL, batch => 'flip') AS code;
CREATE TABLE ledger (op text NOT NULL, batch text NOT NULL, redeemer text NOT NULL,
					 result text NOT NULL);
-- the hot code's caps (NULL: none) and its standing uses at each change
CREATE TABLE changes (id serial, cap integer, at_change bigint NOT NULL);
INSERT INTO changes (cap, at_change) VALUES (200, 0);
EOF

# uses and undos of the hot code, at each isolation level
for level in 'READ COMMITTED' 'REPEATABLE READ' 'SERIALIZABLE'; do
	f=$work/use_$(echo "$level" | tr -d ' ' | tr 'A-Z' 'a-z').sql
	cat >"$f" <<EOF
\\set r random(1, 100000)
BEGIN ISOLATION LEVEL $level;
INSERT INTO ledger SELECT 'use', 'hot', 'r' || :r, codes.code_use(code, 'r' || :r) FROM hot;
COMMIT;
EOF
done
# an undo of the code's latest use (by its redeemer)
cat >"$work/undo.sql" <<'EOF'
INSERT INTO ledger
SELECT 'undo', 'hot', w.redeemer, codes.code_undo(h.code, w.redeemer)
FROM hot h,
	 (SELECT coalesce((SELECT r.redeemer FROM codes.redemptions r
					   WHERE r.batch = 'hot' AND r.undone_at IS NULL
					   ORDER BY r.used_at DESC LIMIT 1), '-') AS redeemer) AS w;
EOF
cat >"$work/check.sql" <<'EOF'
SELECT codes.code_query(code), (codes.code_check(code, 'someone')).ok FROM hot;
EOF
cat >"$work/campaign.sql" <<'EOF'
\set r random(1, 150)
\set n random(1, 400)
INSERT INTO ledger SELECT 'use', 'campaign', 'c' || :r, codes.code_use(code, 'c' || :r)
FROM camp WHERE n = :n;
EOF
cat >"$work/flip.sql" <<'EOF'
\set r random(1, 1000)
\set n random(1, 100)
INSERT INTO ledger SELECT 'use', 'flip', 'f' || :r, codes.code_use(code, 'f' || :r)
FROM flip WHERE n = :n;
EOF

# the admins: one change after another until the clients stop
cat >"$work/hot_cap.sql" <<'EOF'
SELECT coalesce(max_uses, -1) AS old FROM codes.batch WHERE name = 'hot' \gset
SELECT (array[-1, 50, 100, 150, 200, 250, 300, 400])[1 + floor(random() * 8)::integer] AS cap \gset
BEGIN;
SELECT codes.batch_set_max_uses('hot', nullif(:cap, -1));
INSERT INTO changes (cap, at_change)
SELECT nullif(:cap, -1), (SELECT uses FROM codes.batches WHERE name = 'hot')
WHERE :cap <> :old;
COMMIT;
EOF
cat >"$work/camp_limit.sql" <<'EOF'
SELECT codes.batch_set_max_batch_uses_per_redeemer('campaign',
	CASE WHEN max_batch_uses_per_redeemer IS NULL THEN 2 END)
FROM codes.batch WHERE name = 'campaign';
EOF
cat >"$work/flip_uses.sql" <<'EOF'
SELECT codes.batch_set_max_uses('flip', CASE WHEN max_uses = 1 THEN 3 ELSE 1 END)
FROM codes.batch WHERE name = 'flip';
EOF
admin() {
	end=$(($(date +%s) + seconds))
	n=0
	while [ "$(date +%s)" -lt $end ]; do
		psql -X -q -d $db -f "$work/$1.sql" >/dev/null 2>>"$work/$1.err"
		n=$((n + 1))
		sleep 0.1
	done
	echo "$1: $n changes tried"
}

cat >"$work/verify.sql" <<'EOF'
-- one row per check, "name|t" when it holds
CREATE TEMP VIEW standing_ledger AS
SELECT batch, redeemer,
	   count(*) FILTER (WHERE op = 'use' AND result = 'SUCCEED')
	   - count(*) FILTER (WHERE op = 'undo' AND result = 'SUCCEED') AS n
FROM ledger GROUP BY 1, 2;
CREATE TEMP VIEW standing_history AS
SELECT batch, redeemer, count(*) AS n
FROM codes.redemptions WHERE undone_at IS NULL GROUP BY 1, 2;
CREATE TEMP VIEW each_code AS
SELECT c.uses, c.used_at IS NOT NULL AS on_row, b.max_uses,
	   (SELECT count(*) FROM codes.redemption_log l
		WHERE l.code = c.code AND l.undone_at IS NULL) AS in_history
FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
WHERE b.name IN ('campaign', 'flip');

SELECT 'the ledger is the history, redeemer by redeemer',
	   (SELECT count(*) FROM standing_ledger l FULL JOIN standing_history h
			ON h.batch = l.batch AND h.redeemer = l.redeemer
		WHERE coalesce(l.n, 0) <> coalesce(h.n, 0)) = 0;
SELECT 'each batch counts its standing uses',
	   (SELECT count(*) FROM codes.batches b
		WHERE b.uses <> (SELECT coalesce(sum(n), 0) FROM standing_ledger l
						 WHERE l.batch = b.name)) = 0;
SELECT 'between changes, the hot code never passed the cap in force',
	   (SELECT count(*)
		FROM (SELECT at_change, lag(cap) OVER w AS cap_before,
					 lag(at_change) OVER w AS at_before
			  FROM changes WINDOW w AS (ORDER BY id)) AS c
		WHERE c.cap_before IS NOT NULL
		  AND c.at_change > greatest(c.cap_before, c.at_before)) = 0
	   AND (SELECT b.uses <= greatest(coalesce(c.cap, b.uses), c.at_change)
			FROM codes.batches b, (SELECT * FROM changes ORDER BY id DESC LIMIT 1) c
			WHERE b.name = 'hot');
SELECT 'a single-use code holds its use once, on its row or in the history',
	   (SELECT count(*) FROM each_code
		WHERE max_uses = 1 AND (uses > 1 OR uses <> on_row::integer + in_history
								OR (on_row AND in_history > 0))) = 0;
SELECT 'only documented answers',
	   (SELECT count(*) FROM ledger WHERE result NOT IN ('SUCCEED', 'FAILED')) = 0;
SELECT 'the run had races and changes to decide',
	   (SELECT count(*) FROM ledger WHERE op = 'use' AND result = 'FAILED' AND batch = 'hot') > 0
	   AND (SELECT count(*) FROM ledger WHERE op = 'undo' AND result = 'SUCCEED') > 0
	   AND (SELECT count(*) FROM changes) >= 3
	   AND (SELECT count(*) FROM ledger WHERE batch = 'campaign' AND result = 'FAILED') > 0;
EOF

run() {
	dropdb --if-exists $db 2>/dev/null
	createdb $db || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d $db -f "$work/setup.sql" >/dev/null || return 1
	admin hot_cap &
	admin camp_limit &
	admin flip_uses &
	pgbench -n -c $clients -j 4 -T $seconds --max-tries=0 --failures-detailed \
		-f "$work/use_readcommitted.sql@30" -f "$work/use_repeatableread.sql@10" \
		-f "$work/use_serializable.sql@10" -f "$work/undo.sql@10" \
		-f "$work/check.sql@5" \
		-f "$work/campaign.sql@20" -f "$work/flip.sql@15" \
		$db >"$work/pgbench" 2>&1
	status=$?
	wait
	cat "$work/pgbench"
	[ $status -eq 0 ] || { echo "pgbench exited with status $status"; return 1; }
	grep -q '^number of failed transactions: 0 ' "$work/pgbench" ||
		{ echo "pgbench reports failed transactions"; return 1; }
	# the admins' errors: only flip's refusal to become single-use
	sort "$work"/*.err | uniq -c
	if grep -h -v -e 'has more than one use' -e '^DETAIL' -e '^HINT' -e '^CONTEXT' \
		-e '^SQL statement' -e '^PL/pgSQL' "$work"/*.err | grep -q .; then
		echo "an admin's change failed"
		return 1
	fi
	psql -X -q -At -v ON_ERROR_STOP=1 -d $db -f "$work/verify.sql" >"$work/check" || return 1
	cat "$work/check"
	psql -X -At -d $db -c "SELECT batch, op, result, count(*) FROM ledger GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
	psql -X -At -d $db -c "SELECT count(*) AS changes, min(cap), max(cap), max(at_change) FROM changes"
	# each batch: its cap, its count, the ledger's and the history's
	psql -X -At -d $db -c "
		SELECT b.name, b.max_uses, b.uses,
			   (SELECT count(*) FILTER (WHERE op = 'use' AND result = 'SUCCEED')
					   - count(*) FILTER (WHERE op = 'undo' AND result = 'SUCCEED')
				FROM ledger l WHERE l.batch = b.name),
			   (SELECT count(*) FROM codes.redemptions r
				WHERE r.batch = b.name AND r.undone_at IS NULL)
		FROM codes.batches b ORDER BY 1"
	! grep -q '|f$' "$work/check" && [ "$(grep -c '|t$' "$work/check")" -eq 6 ]
}

start=$(date +%s)
if run >"$work/log" 2>&1; then
	[ -n "${CODES_VERBOSE:-}" ] && cat "$work/log"
	printf 'test %-30s ... ok %8s ms\n' alter_race "$((($(date +%s) - start) * 1000))"
else
	cat "$work/log"
	printf 'test %-30s ... FAILED\n' alter_race
fi

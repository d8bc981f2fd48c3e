#!/bin/sh
# Load test: pgbench runs a mix of code_use (plain, on a few hot codes, on
# expired codes, at REPEATABLE READ, rolled back), code_query, code_del and
# code_gen (named, some names taken, and unnamed) from 32 clients for 5
# seconds on a pool of 20,000 codes.  Each client writes every answer into
# table ledger in the same transaction.  Then sql_tests/load/check.sql
# checks the ledger against the tables: as many uses recorded as SUCCEED
# answers, no code used beyond its allowed uses, only documented answers.
# pgbench must end without errors: the only error expected, 40001 at
# REPEATABLE READ, is retried (--max-tries=0).  CODES_HEAVY=1: 64 clients,
# 60 seconds, 500,000 codes.  Run inside a cluster (for example under
# pg_virtualenv); prints a pg_regress-style result line.
set -u
cd "$(dirname "$0")/load"

if [ -n "${CODES_HEAVY:-}" ]; then
	clients=64 seconds=60 pool=500000
else
	clients=32 seconds=5 pool=20000
fi

db=codes_load
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists $db 2>/dev/null' EXIT

run() {
	dropdb --if-exists $db 2>/dev/null
	createdb $db || return 1
	psql -X -q -v ON_ERROR_STOP=1 -v pool=$pool -d $db -f setup.sql >/dev/null || return 1

	pgbench -n -c $clients -j 4 -T $seconds --max-tries=0 \
		--failures-detailed -D ncodes=$pool \
		-f use.sql@40 -f use_hot.sql@15 -f use_expired.sql@3 \
		-f use_repeatable_read.sql@5 -f use_rollback.sql@5 \
		-f query.sql@20 -f del.sql@5 -f gen.sql@2 $db >"$work/pgbench" 2>&1
	status=$?
	cat "$work/pgbench"
	[ $status -eq 0 ] || { echo "pgbench exited with status $status"; return 1; }
	grep -q '^number of failed transactions: 0 ' "$work/pgbench" ||
		{ echo "pgbench reports failed transactions"; return 1; }

	psql -X -q -At -v ON_ERROR_STOP=1 -d $db -f check.sql >"$work/check" || return 1
	cat "$work/check"
	psql -X -At -d $db -c "SELECT op, result, count(*) FROM ledger GROUP BY 1, 2 ORDER BY 1, 2"
	! grep -q '|f$' "$work/check" && [ "$(grep -c '|t$' "$work/check")" -eq 10 ]
}

start=$(date +%s)
if run >"$work/log" 2>&1; then
	[ -n "${CODES_VERBOSE:-}" ] && cat "$work/log"
	printf 'test %-30s ... ok %8s ms\n' load "$((($(date +%s) - start) * 1000))"
else
	cat "$work/log"
	printf 'test %-30s ... FAILED\n' load
fi

#!/bin/sh
# The model of the README's contract (sql_tests/contract_model.py): a
# Hypothesis state machine calls every function a user has on one
# connection, in a database made fresh for the run, and compares each
# answer, codes.batches, codes.redemptions, codes.holds, codes.throttled,
# batch_codes, code_query and code_check with what the README promises.
# Deterministic (derandomize, a fixed number of examples and steps); about
# 30 s here, CODES_HEAVY=1 runs many more examples (minutes).  On a
# disagreement it prints the shortest sequence of calls it found that
# shows it.  Run inside a cluster with codes preloaded (for the brake) and
# a key file (for hashed codes), as a superuser, as scripts/test.sh does;
# needs Debian's python3-hypothesis and python3-psycopg (scripts/deps.sh);
# prints a pg_regress-style result line.
set -u
cd "$(dirname "$0")/.."

db=codes_contract_model
log=$(mktemp)
trap 'rm -f "$log"; dropdb --if-exists $db 2>/dev/null' EXIT

run() {
	/usr/bin/python3 -c 'import hypothesis, psycopg' ||
		{ echo "python3-hypothesis or python3-psycopg is missing: sh scripts/deps.sh"; return 1; }
	dropdb --if-exists $db 2>/dev/null
	createdb $db || return 1
	PGDATABASE=$db /usr/bin/python3 sql_tests/contract_model.py
}

start=$(date +%s%N)
if run >"$log" 2>&1; then
	[ -n "${CODES_VERBOSE:-}" ] && cat "$log"
	grep -h '^contract model:' "$log" | sed 's/^/  /'
	printf 'test %-30s ... ok %8s ms\n' contract_model "$((($(date +%s%N) - start) / 1000000))"
else
	cat "$log"
	printf 'test %-30s ... FAILED\n' contract_model
fi

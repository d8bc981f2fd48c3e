#!/bin/sh
# Run the TAP tests (sql_tests/t/*.pl) with PGXS's "make installcheck" and
# print one pg_regress-style line per file, "test NAME ... ok" or
# "... FAILED", named after the file without its number.  Each test makes
# its own clusters with initdb, which refuses to run as root: run this as
# an ordinary user (scripts/test.sh runs it as postgres) in a tree that user
# can write.  CODES_HEAVY=1 makes the tests heavier (see docs/testing.md).
# 007_pg_upgrade.pl runs only when CODES_UPGRADE_FROM names an older
# server to upgrade from (scripts/test.sh does on 17 and 18); without it
# the test has nothing to do, and is left out rather than reported skipped.
set -u
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
	echo "sql_tests/tap.sh: initdb cannot run as root; run as another user" >&2
	exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT

tests=$(ls sql_tests/t/*.pl)
if [ -z "${CODES_UPGRADE_FROM:-}" ]; then
	tests=$(echo "$tests" | grep -v '/007_pg_upgrade\.pl$')
fi
# shellcheck disable=SC2086
make -s installcheck REGRESS= ISOLATION= PROVE_FLAGS=--timer PROVE_TESTS="$(echo $tests)" >"$out" 2>&1
status=$?

failed=0
for t in $tests; do
	base=$(basename "$t" .pl)
	name=$(echo "$base" | sed 's/^[0-9]*_//')
	# "[12:00:00] sql_tests/t/001_crash.pl .. ok     4242 ms ( ... )"
	ms=$(sed -n "s|^\[[0-9:]*\] $t \.* ok *\([0-9]*\) ms.*|\1|p" "$out")
	if [ -n "$ms" ]; then
		printf 'test %-30s ... ok %8s ms\n' "$name" "$ms"
	elif grep -q "^\[[0-9:]*\] $t \.* skipped" "$out"; then
		# neither passed nor failed (007_pg_upgrade.pl given a server that
		# is not older): counted as skipped, which CI does not accept
		printf 'test %-30s ... skipped\n' "$name"
	else
		failed=1
		printf 'test %-30s ... FAILED\n' "$name"
		log=tmp_check/log/regress_log_$base
		[ -f "$log" ] && tail -n 60 "$log" | sed "s|^|$base: |"
	fi
done

# prove or make failing without a failed file (a missing module, say)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	cat "$out"
	echo "test tap_harness                     ... FAILED"
fi

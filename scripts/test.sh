#!/bin/sh
# Every test of codes, from a fresh clone: install the build dependencies,
# build warning-free, and test that build in throwaway clusters: the
# pg_regress suite, the isolation specs, the dump/restore, hashed-at-rest,
# load and example shop tests in one cluster (with codes preloaded, for the
# brake on guessing, and a key file for hashed codes), then the TAP tests (crash,
# standby, restart, upgrade, logical replication, server log), which make
# their own, and last the benchmark
# at a small size, so that it cannot rot.  Ends with the line "N passed,
# N failed"; exits non-zero if anything failed.  CODES_HEAVY=1 runs the
# heavy variants (see README.md).
#
# The build is not installed into the system for the tests: it is staged in
# a temporary copy of the tree, and the test clusters load it from there
# (see stage_copy in scripts/common.sh).  So the tests test this tree.  The
# benchmark installs it (make install), as the demo does.  As root, the
# tests run as postgres.
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

sh scripts/deps.sh || exit 1

work=$(mktemp -d -t codes-test.XXXXXX)
log=$(mktemp)
trap 'rm -rf "$work" "$log" "$log.bench"' EXIT

stage_copy "$work" PG_CFLAGS='-Wall -Wextra -Wno-unused-parameter -Werror' || exit 1
port=$(free_port) || exit 1

# sql/hmac.sql needs key files that only the server's user may read.
sh sql_tests/make_keys.sh postgres || exit 1

# The settings of the second and third pg_regress passes.  15 calls the
# parallel setting force_parallel_mode; 16 renamed it debug_parallel_query.
if [ "$(pg_config --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')" -ge 16 ]; then
	parallel=debug_parallel_query
else
	parallel=force_parallel_mode
fi
parallel_opts="-c $parallel=regress -c parallel_setup_cost=0 -c parallel_tuple_cost=0 -c min_parallel_table_scan_size=0 -c min_parallel_index_scan_size=0"
serializable_opts="-c default_transaction_isolation=serializable"

# REGRESS= or ISOLATION= on the command line runs one suite, so a failure
# in the first does not hide the second; TAP_TESTS= leaves the TAP tests to
# sql_tests/tap.sh.  The cluster is UTF8 whatever the environment's locale,
# so that tests of non-ASCII input run the same everywhere.
cd "$work" || exit 1
as_tester env PGPORT="$port" pg_virtualenv -c '--locale=C.UTF-8 --encoding=UTF8' \
	-o "extension_destdir=$work/stage" \
	-o "shared_preload_libraries=$work/stage$(pg_config --pkglibdir)/codes" \
	-o codes.key_file=/tmp/codes_regress_key_a \
	env PARALLEL_OPTS="$parallel_opts" SERIALIZABLE_OPTS="$serializable_opts" sh -c '
	make -s installcheck ISOLATION= TAP_TESTS= || cat regression.diffs
	echo "pg_regress again, every query in a parallel plan: $PARALLEL_OPTS"
	PGOPTIONS="$PARALLEL_OPTS" make -s installcheck ISOLATION= TAP_TESTS= || cat regression.diffs
	echo "pg_regress again, SERIALIZABLE: $SERIALIZABLE_OPTS"
	PGOPTIONS="$SERIALIZABLE_OPTS" make -s installcheck ISOLATION= TAP_TESTS= || cat regression.diffs
	make -s installcheck REGRESS= TAP_TESTS= || cat output_iso/regression.diffs
	sh sql_tests/dump_restore.sh
	sh sql_tests/hmac_at_rest.sh
	sh sql_tests/load.sh
	sh sql_tests/example.sh
' 2>&1 | tee "$log"
as_tester env TEMP_CONFIG="$work/stage.conf" sh sql_tests/tap.sh 2>&1 | tee -a "$log"
cd - >/dev/null || exit 1

# The benchmark's figures are printed, never judged.
if bash bench/run.sh --quick --install >"$log.bench" 2>&1; then
	echo "test bench_quick                   ... ok" | tee -a "$log"
else
	cat "$log.bench"
	echo "test bench_quick                   ... FAILED" | tee -a "$log"
fi

passed=$(grep -cE '^(test )? *[A-Za-z0-9_-]+ +\.\.\. ok' "$log")
failed=$(grep -cE '\.\.\. FAILED' "$log")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

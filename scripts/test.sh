#!/bin/sh
# Every test of codes, from a fresh clone: install the build dependencies,
# build warning-free, install, then in one throwaway cluster run the
# pg_regress suite, the isolation specs and the dump/restore test.  Ends
# with the line "N passed, N failed"; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."

sh scripts/deps.sh || exit 1
make -s clean
make -s PG_CFLAGS='-Wall -Wextra -Wno-unused-parameter -Werror' || exit 1
make -s install || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# sql/hmac.sql needs key files that only the server's user may read.
sh sql_tests/make_keys.sh postgres || exit 1

# REGRESS= or ISOLATION= on the command line runs one suite, so a failure
# in the first does not hide the second.
pg_virtualenv -o shared_preload_libraries=codes \
	-o codes.key_file=/tmp/codes_regress_key_a sh -c '
	make -s installcheck ISOLATION= || cat regression.diffs
	make -s installcheck REGRESS= || cat output_iso/regression.diffs
	sh sql_tests/dump_restore.sh
	sh sql_tests/hmac_at_rest.sh
' 2>&1 | tee "$log"

# The benchmark at a small size, so that it cannot rot (its figures are
# printed, never judged).
if bash bench/run.sh --quick >"$log.bench" 2>&1; then
	echo "test bench_quick                   ... ok" | tee -a "$log"
else
	cat "$log.bench"
	echo "test bench_quick                   ... FAILED" | tee -a "$log"
fi
rm -f "$log.bench"

passed=$(grep -cE '^(test )? *[A-Za-z0-9_-]+ +\.\.\. ok' "$log")
failed=$(grep -cE '\.\.\. FAILED' "$log")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

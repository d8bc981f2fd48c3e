#!/bin/sh
# Every test of codes, from a fresh clone: install the build dependencies,
# build warning-free, and test that build in throwaway clusters: the
# pg_regress suite, the isolation specs, the dump/restore test and the load
# test in one cluster, then the TAP tests (crash, standby, restart,
# upgrade), which make their own.  Ends with the line "N passed, N failed";
# exits non-zero if anything failed.  CODES_HEAVY=1 runs the heavy variants
# (see README.md).
#
# The build is not installed into the system: it is staged in a temporary
# copy of the tree, and the test clusters load it from there (see
# stage_copy in scripts/common.sh).  So the tests test this tree, the
# system's installation is left alone, and runs from several checkouts do
# not get in each other's way.  As root, the tests run as postgres.
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

sh scripts/deps.sh || exit 1

work=$(mktemp -d -t codes-test.XXXXXX)
log=$(mktemp)
trap 'rm -rf "$work" "$log"' EXIT

stage_copy "$work" PG_CFLAGS='-Wall -Wextra -Wno-unused-parameter -Werror' || exit 1
port=$(free_port) || exit 1

# REGRESS= or ISOLATION= on the command line runs one suite, so a failure
# in the first does not hide the second; TAP_TESTS= leaves the TAP tests to
# sql_tests/tap.sh.  The cluster is UTF8 whatever the environment's locale,
# so that tests of non-ASCII input run the same everywhere.
cd "$work" || exit 1
as_tester env PGPORT="$port" pg_virtualenv -c '--locale=C.UTF-8 --encoding=UTF8' \
	-o "extension_destdir=$work/stage" sh -c '
	make -s installcheck ISOLATION= TAP_TESTS= || cat regression.diffs
	make -s installcheck REGRESS= TAP_TESTS= || cat output_iso/regression.diffs
	sh sql_tests/dump_restore.sh
	sh sql_tests/load.sh
' 2>&1 | tee "$log"
as_tester env TEMP_CONFIG="$work/stage.conf" sh sql_tests/tap.sh 2>&1 | tee -a "$log"

passed=$(grep -cE '^(test )? *[A-Za-z0-9_-]+ +\.\.\. ok' "$log")
failed=$(grep -cE '\.\.\. FAILED' "$log")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

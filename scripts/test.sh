#!/bin/sh
# Every test of codes, from a fresh clone: install the build dependencies,
# build warning-free, and test that build in throwaway clusters: the
# pg_regress suite (three times: as is, in parallel plans, SERIALIZABLE),
# the isolation specs, the dump/restore, getting started, the README's
# JavaScript, hashed-at-rest,
# load and example shop tests in one cluster (with codes preloaded, for the
# brake on guessing, and a key file for hashed codes), then the TAP tests
# (crash, standby, restart, upgrade, logical replication, server log,
# pg_upgrade), which make their own, the release metadata, a failover with
# pg_auto_failover, a Citus cluster of three nodes (Citus built from
# ../shared/vendor into a cache outside the clone) and the Debian package
# (sql_tests/meta.sh, sql_tests/ha.sh, sql_tests/citus.sh,
# sql_tests/package.sh), and last the benchmark at a
# small size, so that it cannot rot.  Ends with the line "N passed, N
# failed"; exits non-zero if anything failed.  CODES_HEAVY=1 runs the
# heavy variants (see docs/testing.md).
#
# The suite runs on each PostgreSQL major version in turn: first 15, the
# system's (Debian 12's packages), then 18, built from source into a cache
# outside the clone by scripts/build_pg.sh (several minutes the first time,
# reused after).  Each result line names its version, as in
# "test install (pg18) ... ok".  CODES_PG_VERSIONS chooses the versions
# (default "15 18"); --quick (the same as CODES_PG_VERSIONS=15) skips 18
# for a quick local run.  The benchmark runs on 15.
#
# On 15 the build is not installed into the system for the tests: it is
# staged in a temporary copy of the tree, and the test clusters load it
# from there (see stage_copy in scripts/common.sh).  On 18 it is installed
# into the private prefix of the source build (extension_destdir is a
# Debian setting).  So the tests test this tree.  The benchmark installs
# into the system (make install), as the demo does.  As root, the tests
# run as postgres.
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

versions=${CODES_PG_VERSIONS:-15 18}
for arg in "$@"; do
	case $arg in
	--quick) versions=15 ;;
	*)
		echo "usage: sh scripts/test.sh [--quick]   (--quick: PostgreSQL 15 only)" >&2
		exit 2
		;;
	esac
done
for v in $versions; do
	case $v in
	15 | 18) ;;
	*)
		echo "scripts/test.sh: CODES_PG_VERSIONS: no PostgreSQL $v here; 15 and 18 are" >&2
		exit 2
		;;
	esac
done

sh scripts/deps.sh || exit 1

work=$(mktemp -d -t codes-test.XXXXXX)
chmod 755 "$work"
log=$(mktemp)
pg18=$work/pg18
cleanup() {
	[ -f "$pg18/data/postmaster.pid" ] &&
		as_tester "$pg18/bin/pg_ctl" -D "$pg18/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$work" "$log" "$log.bench"
}
trap cleanup EXIT

# sql/hmac.sql needs key files that only the server's user may read.
sh sql_tests/make_keys.sh postgres || exit 1

# Name the version in each test's result line: pg_regress's lines (15:
# "test NAME ... ok 12 ms"; from 16 on in TAP form, "ok 1 - NAME 12 ms",
# "not ok 2 - NAME 30 ms"), isolation's and those of the scripts become
# "test NAME (pgV) ... ok 12 ms" or "... FAILED".
tag_version() {
	sed -u -E \
		-e "s/^not ok +[0-9]+ +[-+] +([A-Za-z0-9_-]+)( .*)?\$/test \\1 (pg$1) ... FAILED/" \
		-e "s/^ok +[0-9]+ +[-+] +([A-Za-z0-9_-]+) +([0-9]+ ms)?.*\$/test \\1 (pg$1) ... ok \\2/" \
		-e "s/^(test )? *([A-Za-z0-9_-]+) +\\.\\.\\. /test \\2 (pg$1) ... /"
}

# What runs in one cluster, from the top of a built copy of the tree, with
# the server's binaries first in PATH.  The settings of the second and
# third pg_regress passes come in PARALLEL_OPTS and SERIALIZABLE_OPTS.
# REGRESS= or ISOLATION= on the command line runs one suite, so a failure
# in the first does not hide the second; TAP_TESTS= leaves the TAP tests to
# sql_tests/tap.sh.
in_cluster='
	make -s installcheck ISOLATION= TAP_TESTS= || cat regression.diffs
	echo "pg_regress again, every query in a parallel plan: $PARALLEL_OPTS"
	PGOPTIONS="$PARALLEL_OPTS" make -s installcheck ISOLATION= TAP_TESTS= || cat regression.diffs
	echo "pg_regress again, SERIALIZABLE: $SERIALIZABLE_OPTS"
	PGOPTIONS="$SERIALIZABLE_OPTS" make -s installcheck ISOLATION= TAP_TESTS= || cat regression.diffs
	make -s installcheck REGRESS= TAP_TESTS= || cat output_iso/regression.diffs
	sh sql_tests/dump_restore.sh
	sh sql_tests/getting_started.sh
	sh sql_tests/recipes.sh
	sh sql_tests/readme_js.sh
	sh sql_tests/hmac_at_rest.sh
	sh sql_tests/load.sh
	sh sql_tests/hot_race.sh
	sh sql_tests/example.sh
'

# The parallel setting: 15 calls it force_parallel_mode; 16 renamed it
# debug_parallel_query.
parallel_opts() {
	if [ "$1" -ge 16 ]; then
		parallel=debug_parallel_query
	else
		parallel=force_parallel_mode
	fi
	echo "-c $parallel=regress -c parallel_setup_cost=0 -c parallel_tuple_cost=0 -c min_parallel_table_scan_size=0 -c min_parallel_index_scan_size=0"
}
serializable_opts="-c default_transaction_isolation=serializable"

# PostgreSQL 15, Debian's packages: a copy of the tree staged in $work/pg15
# (see stage_copy) and a cluster by pg_virtualenv.  The cluster is UTF8
# whatever the environment's locale, so that tests of non-ASCII input run
# the same everywhere.
test_15() {
	start=$(date +%s)
	pg15=$work/pg15
	mkdir "$pg15" || return 1
	stage_copy "$pg15" PG_CFLAGS='-Wall -Wextra -Wno-unused-parameter -Werror' || return 1
	port=$(free_port) || return 1
	cd "$pg15" || return 1
	as_tester env PGPORT="$port" pg_virtualenv -c '--locale=C.UTF-8 --encoding=UTF8' \
		-o "extension_destdir=$pg15/stage" \
		-o "shared_preload_libraries=$pg15/stage$(pg_config --pkglibdir)/codes" \
		-o codes.key_file=/tmp/codes_regress_key_a \
		env PARALLEL_OPTS="$(parallel_opts 15)" SERIALIZABLE_OPTS="$serializable_opts" \
		sh -c "$in_cluster"
	as_tester env TEMP_CONFIG="$pg15/stage.conf" sh sql_tests/tap.sh
	cd - >/dev/null || return 1
	echo "PostgreSQL 15: tests ran in $(($(date +%s) - start)) s"
}

# PostgreSQL 18, built from source (scripts/build_pg.sh): a copy of the
# tree in $work/pg18, built and installed into the build's own prefix, and
# a cluster of that prefix's initdb and pg_ctl with the settings test_15
# gives pg_virtualenv.  The TAP tests find PostgreSQL::Test::Cluster in the
# prefix (--enable-tap-tests).
test_18() {
	pg_config18=$(sh scripts/build_pg.sh 18.6) || return 1
	start=$(date +%s)
	bin18=$("$pg_config18" --bindir)
	mkdir "$pg18" || return 1
	tar --exclude=.git -cf - . | tar -xf - -C "$pg18" || return 1
	make -s -C "$pg18" clean PG_CONFIG="$pg_config18"
	make -s -C "$pg18" PG_CONFIG="$pg_config18" \
		PG_CFLAGS='-Wall -Wextra -Wno-unused-parameter -Werror' >/dev/null || return 1
	make -s -C "$pg18" PG_CONFIG="$pg_config18" install >/dev/null || return 1
	ln -s "$bin18" "$pg18/bin"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$pg18" || return 1
	fi
	port=$(free_port) || return 1

	as_tester "$bin18/initdb" -D "$pg18/data" -A trust -N \
		--locale=C.UTF-8 --encoding=UTF8 >"$pg18/initdb.log" 2>&1 ||
		{ cat "$pg18/initdb.log"; return 1; }
	cat >>"$pg18/data/postgresql.conf" <<EOF
port = $port
listen_addresses = 'localhost'
unix_socket_directories = '$pg18'
fsync = off
shared_preload_libraries = 'codes'
codes.key_file = '/tmp/codes_regress_key_a'
EOF
	as_tester "$bin18/pg_ctl" -D "$pg18/data" -l "$pg18/server.log" -w start >/dev/null ||
		{ cat "$pg18/server.log"; return 1; }

	cd "$pg18" || return 1
	as_tester env PATH="$bin18:$PATH" PG_CONFIG="$pg_config18" \
		PGHOST="$pg18" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres \
		PARALLEL_OPTS="$(parallel_opts 18)" SERIALIZABLE_OPTS="$serializable_opts" \
		sh -c "$in_cluster"
	as_tester "$bin18/pg_ctl" -D "$pg18/data" -m fast -w stop >/dev/null
	# sql_tests/t/007_pg_upgrade.pl upgrades a cluster of 15 (the system's,
	# with this tree staged for it as test_15 stages it) to 18.
	if [ ! -f "$work/pg15/stage.conf" ]; then
		mkdir -p "$work/pg15" && stage_copy "$work/pg15" || return 1
	fi
	as_tester env PATH="$bin18:$PATH" PG_CONFIG="$pg_config18" \
		CODES_UPGRADE_FROM="$(dirname "$(pg_config --bindir)")" \
		CODES_UPGRADE_FROM_CONF="$work/pg15/stage.conf" sh sql_tests/tap.sh
	cd - >/dev/null || return 1
	echo "PostgreSQL 18: tests ran in $(($(date +%s) - start)) s"
}

for v in $versions; do
	{ test_$v || echo "test setup ... FAILED"; } 2>&1 | tag_version "$v"
done | tee "$log"

# On 15: the release metadata, the failover test (pg_auto_failover, about
# a minute), Citus (13.2 supports 15 to 17, not 18; about 90 s once Citus
# is built, which takes about two minutes), then the Debian package, built, installed,
# tested and purged (before the benchmark, which installs the build
# again); and the benchmarks (one node, a hot promo code, and Citus
# against one node) at a small size, whose figures are printed, never
# judged.
case " $versions " in
*" 15 "*)
	sh sql_tests/meta.sh 2>&1 | tag_version 15 | tee -a "$log"
	sh sql_tests/ha.sh 2>&1 | tag_version 15 | tee -a "$log"
	sh sql_tests/citus.sh 2>&1 | tag_version 15 | tee -a "$log"
	sh sql_tests/package.sh 2>&1 | tag_version 15 | tee -a "$log"
	if bash bench/run.sh --quick --install >"$log.bench" 2>&1; then
		echo "test bench_quick (pg15)          ... ok" | tee -a "$log"
	else
		cat "$log.bench"
		echo "test bench_quick (pg15)          ... FAILED" | tee -a "$log"
	fi
	if bash bench/run.sh --hot --quick >"$log.bench" 2>&1; then
		echo "test bench_hot_quick (pg15)      ... ok" | tee -a "$log"
	else
		cat "$log.bench"
		echo "test bench_hot_quick (pg15)      ... FAILED" | tee -a "$log"
	fi
	if bash bench/run.sh --citus --quick >"$log.bench" 2>&1; then
		echo "test bench_citus_quick (pg15)    ... ok" | tee -a "$log"
	else
		cat "$log.bench"
		echo "test bench_citus_quick (pg15)    ... FAILED" | tee -a "$log"
	fi
	;;
esac

passed=$(grep -cE '^(test )? *[A-Za-z0-9_-]+( \(pg[0-9]+\))? +\.\.\. ok' "$log")
failed=$(grep -cE '\.\.\. FAILED' "$log")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

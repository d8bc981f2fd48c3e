#!/bin/sh
# Every test of codes, from a fresh clone: install the build dependencies,
# build warning-free, and test that build in throwaway clusters: the
# pg_regress suite (three times: as is, in parallel plans, SERIALIZABLE),
# the isolation specs, the dump/restore, getting started, the README's
# JavaScript, hashed-at-rest,
# load, example shop and contract model tests in one cluster (with codes
# preloaded, for the brake on guessing, and a key file for hashed codes), then the TAP tests
# (crash, standby, restart, upgrade, logical replication, server log,
# pg_upgrade from 15 on 17 and 18), which make their own; then, on 15, the
# release metadata and debian/control (sql_tests/meta.sh), the search for
# sources the repository does not hold (sql_tests/sources.sh), failovers
# with pg_auto_failover and with Patroni (sql_tests/ha.sh,
# sql_tests/patroni.sh), a Citus cluster of three nodes (Citus built into a
# cache outside the clone; sql_tests/citus.sh) and the Debian package, built
# with the README's dpkg-buildpackage -us -uc -b (sql_tests/package.sh),
# and last the benchmark at a small size, so that it cannot rot.  Ends
# with the line "N passed, N failed", or "N passed, N failed, K skipped"
# when K tests could not run here; exits non-zero if anything failed.
# CODES_HEAVY=1 runs the heavy variants (see docs/testing.md).
#
# A test skips, saying why, only when what it needs cannot be had on this
# machine: the sources of PostgreSQL 18 and of Citus, which
# scripts/source.sh looks for in the cache, in ../shared/vendor and at
# their official URLs (checked against scripts/sources.txt), and Debian's
# mirror for 17's root when that is not cached.  .ci/run, which has
# ../shared, fails on any skip.
#
# The suite runs on each PostgreSQL major version in turn: first 15, the
# system's (Debian 12's packages), then 17, Debian 13's packages in a
# Debian 13 root that scripts/pg17_root.sh makes with debootstrap in a cache
# outside the clone (about 3 minutes the first time), then 18, built from
# source into that cache by scripts/build_pg.sh (about 6 minutes the first
# time); both are reused after.  Each result line names its version, as in
# "test install (pg18) ... ok".  CODES_PG_VERSIONS chooses the versions
# (default "15 17 18"); --quick (the same as CODES_PG_VERSIONS=15) skips 17
# and 18 for a quick local run.  The benchmark runs on 15.
#
# On 15 the build is not installed into the system for the tests: it is
# staged in a temporary copy of the tree, and the test clusters load it
# from there (see stage_copy in scripts/common.sh); on 17 likewise, in a
# copy inside the Debian 13 root.  On 18 it is installed into the private
# prefix of the source build (extension_destdir is a Debian setting).  So
# the tests test this tree.  The benchmark installs into the system (make
# install), as the demo does.  As root, the tests run as postgres.
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

versions=${CODES_PG_VERSIONS:-15 17 18}
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
	15 | 17 | 18) ;;
	*)
		echo "scripts/test.sh: CODES_PG_VERSIONS: no PostgreSQL $v here; 15, 17 and 18 are" >&2
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
	[ -f "$work/pg17" ] && rm -rf "$(cat "$work/pg17")"
	# a preparation still running (see below) when the tests were cut short
	for g in $(cat "$work"/prepare-*.pgid 2>/dev/null); do
		kill -TERM "-$g" 2>/dev/null
	done
	rm -rf "$work" "$log" "$log.bench"
}
trap cleanup EXIT

# sql/hmac.sql needs key files that only the server's user may read.
sh sql_tests/make_keys.sh postgres || exit 1

# What takes minutes the first time on a machine and a second after, as it
# is kept in the cache: 17's Debian 13 root (mostly downloads), and the
# builds of 18 and then of Citus (niced).  Started now, in the background,
# each in a process group of its own, they are made while 15's tests run;
# test_17, test_18 and sql_tests/citus.sh run the same scripts again,
# which wait for the first run (each script holds a lock) and then find
# the cache.  What they printed is in $work/prepare-NAME.log.
prepare() {
	name=$1
	shift
	setsid sh -c "$*" >"$work/prepare-$name.log" 2>&1 &
	echo $! >"$work/prepare-$name.pgid"
}
# Whether PostgreSQL $1 is among the versions to test.
testing() {
	case " $versions " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}
if testing 17; then
	prepare 17 sh scripts/pg17_root.sh
fi
if testing 18 && testing 15; then
	prepare 18-citus "nice -n 10 sh scripts/build_pg.sh 18.6; nice -n 10 sh scripts/build_citus.sh"
elif testing 18; then
	prepare 18 nice -n 10 sh scripts/build_pg.sh 18.6
elif testing 15; then
	prepare citus nice -n 10 sh scripts/build_citus.sh
fi

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
	sh sql_tests/alter_race.sh
	sh sql_tests/example.sh
	sh sql_tests/contract_model.sh
	sh sql_tests/template_copy.sh
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

# PostgreSQL 17, Debian 13's packages in a Debian 13 root that
# scripts/pg17_root.sh makes once in the cache (Debian 12 has no 17, and
# Debian 13's binaries need its C library): a copy of the tree in a
# directory of the root's /tmp, built there with the root's compiler
# against 17's headers and staged (make install DESTDIR=), and a cluster
# by the root's pg_virtualenv with the settings test_15 gives it, run as
# the root's postgres, then the TAP tests.  in_root (scripts/common.sh)
# runs each step in the root, in a mount namespace of its own.
test_17() {
	rc=0
	root=$(sh scripts/pg17_root.sh 2>"$work/pg17_root.err") || rc=$?
	grep -h '^pg17_root: ' "$work/prepare-17.log" 2>/dev/null
	if [ "$rc" -eq 3 ]; then
		echo "test setup ... skipped: $(tail -n 1 "$work/pg17_root.err")"
		return 0
	elif [ "$rc" -ne 0 ]; then
		cat "$work/pg17_root.err"
		return 1
	fi
	start=$(date +%s)
	pg17=$(mktemp -d "$root/tmp/codes-test.XXXXXX") || return 1
	echo "$pg17" >"$work/pg17"
	chmod 755 "$pg17"
	in=${pg17#"$root"}
	tar --exclude=.git -cf - . | tar -xf - -C "$pg17" || return 1
	port=$(free_port) || return 1
	in_root "$root" sh -c '
		in=$1
		cd "$in" || exit 1
		make -s clean PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config
		make -s PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config \
			PG_CFLAGS="-Wall -Wextra -Wno-unused-parameter -Werror" >/dev/null || exit 1
		make -s PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config install DESTDIR="$in/stage" >/dev/null || exit 1
		echo "extension_destdir = '"'"'$in/stage'"'"'" >"$in/stage.conf"
		chown -R postgres: "$in"
		sh sql_tests/make_keys.sh postgres
	' in_root "$in" || return 1
	pg15_into_root "$root" "$pg17/pg15" || return 1
	in_root "$root" runuser -u postgres -- sh -c '
		cd "$1" || exit 1
		PGPORT=$2 pg_virtualenv -v 17 -c "--locale=C.UTF-8 --encoding=UTF8" \
			-o "extension_destdir=$1/stage" \
			-o "shared_preload_libraries=$1/stage/usr/lib/postgresql/17/lib/codes" \
			-o codes.key_file=/tmp/codes_regress_key_a \
			env PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config \
			PARALLEL_OPTS="$3" SERIALIZABLE_OPTS="$4" sh -c "$5"
		env PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config TEMP_CONFIG="$1/stage.conf" \
			CODES_UPGRADE_FROM="$1/pg15/usr/lib/postgresql/15" LD_LIBRARY_PATH="$1/pg15/libs" \
			sh sql_tests/tap.sh
	' in_root "$in" "$port" "$(parallel_opts 17)" "$serializable_opts" "$in_cluster"
	echo "PostgreSQL 17: tests ran in $(($(date +%s) - start)) s"
}

# For sql_tests/t/007_pg_upgrade.pl on 17: the system's PostgreSQL 15
# (Debian 12's) copied into directory $2 of the Debian 13 root $1, in its
# own layout under $2/usr (a server finds its share/ and lib/ relative to
# its bin/), with this tree built for 15 (test_15's stage) installed into
# the copy, and in $2/libs the few libraries of Debian 12 that Debian 13
# has only in other versions (ICU 72 and OpenLDAP 2.5 here), as ldd in the
# root finds them missing; their names are those of no library of the
# root, so LD_LIBRARY_PATH=$2/libs changes nothing for 17.
pg15_into_root() {
	if [ ! -f "$work/pg15/stage.conf" ]; then
		mkdir -p "$work/pg15" && stage_copy "$work/pg15" >/dev/null || return 1
	fi
	mkdir -p "$2/usr/lib/postgresql" "$2/usr/share/postgresql" "$2/libs" || return 1
	cp -a /usr/lib/postgresql/15 "$2/usr/lib/postgresql/" &&
		cp -a /usr/share/postgresql/15 "$2/usr/share/postgresql/" &&
		cp -a "$work/pg15/stage/usr/." "$2/usr/" || return 1
	for i in 1 2 3 4 5; do
		missing=$(in_root "$1" env LD_LIBRARY_PATH="${2#"$1"}/libs" \
			ldd "${2#"$1"}/usr/lib/postgresql/15/bin/postgres" |
			sed -n 's/^[[:space:]]*\([^ ]*\) => not found$/\1/p')
		[ -z "$missing" ] && return 0
		for so in $missing; do
			f=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64/ { print $NF; exit }')
			if [ -z "$f" ]; then
				echo "PostgreSQL 15 in the Debian 13 root needs $so, which this system lacks"
				return 1
			fi
			cp -L "$f" "$2/libs/$so" || return 1
		done
	done
	echo "PostgreSQL 15 in the Debian 13 root still misses libraries: $missing"
	return 1
}

# PostgreSQL 18, built from source (scripts/build_pg.sh): a copy of the
# tree in $work/pg18, built and installed into the build's own prefix, and
# a cluster of that prefix's initdb and pg_ctl with the settings test_15
# gives pg_virtualenv.  The TAP tests find PostgreSQL::Test::Cluster in the
# prefix (--enable-tap-tests).
test_18() {
	rc=0
	pg_config18=$(sh scripts/build_pg.sh 18.6 2>"$work/build_pg.err") || rc=$?
	grep -h '^build_pg: ' "$work"/prepare-18*.log 2>/dev/null
	if [ "$rc" -eq 3 ]; then
		echo "test setup ... skipped: $(tail -n 1 "$work/build_pg.err")"
		return 0
	elif [ "$rc" -ne 0 ]; then
		cat "$work/build_pg.err"
		return 1
	fi
	cat "$work/build_pg.err"
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

# On 15: the release metadata, the sources, the failover tests
# (pg_auto_failover and Patroni, about a minute each), Citus (13.2
# supports 15 to 17, not 18; about 90 s once Citus is built, which takes
# about two minutes), then the Debian package, built, installed,
# tested and purged (before the benchmark, which installs the build
# again); and the benchmarks (one node, a hot promo code, and Citus
# against one node) at a small size, whose figures are printed, never
# judged.
case " $versions " in
*" 15 "*)
	sh sql_tests/meta.sh 2>&1 | tag_version 15 | tee -a "$log"
	sh sql_tests/sources.sh 2>&1 | tag_version 15 | tee -a "$log"
	sh sql_tests/ha.sh 2>&1 | tag_version 15 | tee -a "$log"
	sh sql_tests/patroni.sh 2>&1 | tag_version 15 | tee -a "$log"
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
	rc=0
	sh scripts/build_citus.sh 2>"$log.bench" || rc=$?
	if [ "$rc" -eq 3 ]; then
		echo "test bench_citus_quick (pg15)    ... skipped: $(tail -n 1 "$log.bench")" | tee -a "$log"
	elif bash bench/run.sh --citus --quick >"$log.bench" 2>&1; then
		echo "test bench_citus_quick (pg15)    ... ok" | tee -a "$log"
	else
		cat "$log.bench"
		echo "test bench_citus_quick (pg15)    ... FAILED" | tee -a "$log"
	fi
	;;
esac

# A test that cannot run here (no source of PostgreSQL 18 or Citus: see
# scripts/source.sh; no Debian mirror for 17's root) says "skipped" and
# why; the count of those closes the last line.  .ci/run fails on any.
passed=$(grep -cE '^(test )? *[A-Za-z0-9_-]+( \(pg[0-9]+\))? +\.\.\. ok' "$log")
failed=$(grep -cE '\.\.\. FAILED' "$log")
skipped=$(grep -cE '^(test )? *[A-Za-z0-9_-]+( \(pg[0-9]+\))? +\.\.\. skipped' "$log")
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

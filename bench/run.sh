#!/bin/bash
# bench/run.sh: benchmark of the codes extension against the hand-written
# SQL a PostgreSQL user would write instead (issue 3).
#
#   bash bench/run.sh            # N = 1,000,000 codes, 10 s pgbench runs (~5 min)
#   bash bench/run.sh --quick    # N = 10,000, 2 s runs, for CI (< 1 min)
#   bash bench/run.sh --help     # every option
#
# Run it as root on Debian 12 with the extension installed (make install, or
# --install).  It installs what else it needs with apt-get, then in one
# throwaway cluster (pg_virtualenv, settings printed; synchronous_commit
# and fsync on, as a production server runs, unless --synchronous-commit
# off) measures, alternating extension and hand-written rounds so machine
# noise hits both alike:
#
#   gen     SELECT count(*) FROM codes.code_gen(N, ...) against
#           INSERT INTO hand_codes SELECT gen_random_uuid(), ... (bench/
#           hand_table.sql is the hand table), with COPY of N ready-made
#           rows as the floor; median of the rounds.
#   import  N codes of the seed service (version 1 UUID texts, a tenth
#           used) from a table: codes.code_add(batch, array_agg(code),
#           array_agg(uses)) against INSERT INTO hand_codes SELECT
#           code::uuid, ...; median of the rounds.
#   size    bytes on disk per code after a gen of N: total, heap, indexes.
#   pgbench use, query and delete (bench/ops/), prepared mode, several
#           clients, on tables of N codes: calls per second and latency.
#   scaling use and query latency at 10k and N codes (and 10M with --big).
#   scale   with --scale: also tables of 20M codes (--scale-n), 8 clients,
#           shared_buffers 512MB: one call of 10M codes (time, peak memory
#           of the backend), gen of N into the 20M tables against gen into
#           empty ones, bytes per code there, use, query and delete at 20M.
#
# It prints a Markdown table of figures and ext/hand ratios, each table's
# header saying the commit mode, and writes it to bench/results.md
# (--synchronous-commit off: bench/results-sync-off.md, so that such a run
# does not overwrite the headline figures; --quick:
# bench/out/results-quick.md, so that a CI run does not overwrite the
# figures of a real run).  Raw outputs go to
# bench/out/.  Timings never fail the benchmark; it exits non-zero only
# when something broke (an SQL error, a failed pgbench client, a missing
# tool).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

usage() {
	cat <<EOF
usage: bash bench/run.sh [options]
  -n N, --codes N      codes per table (default 1000000)
  -d S, --duration S   seconds per pgbench run (default 10)
  -c C, --clients C    pgbench clients (default 4)
  -j J, --jobs J       pgbench threads (default 2)
  -r R, --rounds R     rounds per measurement and side (default 3)
  --quick              N = 10000, 2 s runs, 1 pgbench round: for CI
  --big                add 10,000,000 codes to the scaling runs (minutes)
  --scale              the large case (about 20 minutes): 8 clients,
                       shared_buffers 512MB, 2 rounds, tables of 20,000,000
                       codes too (see the top of this file)
  --scale-n M          codes of the large tables (default 20000000)
  --synchronous-commit MODE
                       on (default: each commit waits for its WAL flush, as
                       on a production server) or off (no wait at commit:
                       faster on both sides, loses acknowledged uses in a
                       crash; writes bench/results-sync-off.md by default)
  --set GUC=VALUE      override a server setting (repeatable)
  --hmac               store the extension's codes hashed (store => 'hmac'),
                       under a key file made for the run
  --brake              preload codes, so that code_use runs the guessing brake
  --chart              also draw results.png with gnuplot (installs gnuplot-nox)
  --install            build and install the extension from this tree first
  --out FILE           where to write the Markdown (default bench/results.md, or results-sync-off.md)
  --citus              through a Citus coordinator and two workers against
                       one plain node (bench/citus.sh; takes --quick, -n,
                       -d, -c, --out)
  --hot                one promo code for many customers against a counter
                       row and a history table (bench/hot.sh; takes
                       --quick, -d, -r, --past, --synchronous-commit, --out)
  --pg V               PostgreSQL 15 (Debian's, default) or 18 (built from
                       source by scripts/build_pg.sh into its own prefix,
                       where --install installs the extension too)
EOF
}

# --- The outer part: options, dependencies, then the cluster ------------

if [ "${1:-}" != --inner ]; then
	# --citus is its own benchmark: codes through a Citus coordinator
	# against one plain node (bench/citus.sh, with its own options); so is
	# --hot, one promo code for many customers (bench/hot.sh).
	for a in "$@"; do
		[ "$a" = --citus ] && exec bash "$here/citus.sh" "$@"
		[ "$a" = --hot ] && exec bash "$here/hot.sh" "$@"
	done
	N=1000000 DURATION=10 CLIENTS=4 JOBS=2 ROUNDS=3 PGROUNDS=3
	QUICK=0 BIG=0 SCALE=0 SCALE_N=20000000 CHART=0 INSTALL=0 OUTFILE= SETS=() GENARGS= PG=15 SYNC=on
	while [ $# -gt 0 ]; do
		case "$1" in
		-n | --codes) N=$2; shift ;;
		-d | --duration) DURATION=$2; shift ;;
		-c | --clients) CLIENTS=$2; shift ;;
		-j | --jobs) JOBS=$2; shift ;;
		-r | --rounds) ROUNDS=$2; PGROUNDS=$2; shift ;;
		--quick) QUICK=1; N=10000; DURATION=2; PGROUNDS=1 ;;
		--big) BIG=1 ;;
		--scale) SCALE=1; CLIENTS=8; ROUNDS=2; PGROUNDS=2 ;;
		--scale-n) SCALE_N=$2; shift ;;
		--synchronous-commit) SYNC=$2; shift ;;
		--set) SETS+=("$2"); shift ;;
		--hmac)
			keydir=$(mktemp -d)
			head -c 32 /dev/urandom >"$keydir/key"
			chmod 700 "$keydir"; chmod 600 "$keydir/key"
			chown -R postgres "$keydir"
			SETS+=("codes.key_file=$keydir/key")
			GENARGS=", store => 'hmac'" ;;
		--brake) SETS+=("shared_preload_libraries=codes") ;;
		--chart) CHART=1 ;;
		--install) INSTALL=1 ;;
		--out) OUTFILE=$2; case $OUTFILE in /*) ;; *) OUTFILE=$PWD/$OUTFILE ;; esac; shift ;;
		--pg) PG=$2; shift ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
		esac
		shift
	done
	for v in "$N" "$DURATION" "$CLIENTS" "$JOBS" "$ROUNDS" "$PGROUNDS" "$SCALE_N"; do
		case "$v" in '' | *[!0-9]* | 0) echo "not a positive integer: '$v'" >&2; exit 2 ;; esac
	done
	case "$SYNC" in
	on | off) ;;
	*) echo "--synchronous-commit: on or off, not '$SYNC'" >&2; exit 2 ;;
	esac
	if [ -z "$OUTFILE" ]; then
		if [ "$QUICK" = 1 ]; then OUTFILE=$here/out/results-quick.md
		elif [ "$SCALE" = 1 ]; then OUTFILE=$here/results-scale.md
		else OUTFILE=$here/results.md; fi
		[ "$QUICK" = 1 ] || [ "$SYNC" = on ] || OUTFILE=${OUTFILE%.md}-sync-off.md
	fi

	# What the benchmark needs: the server (with pgbench and pageinspect)
	# and pg_virtualenv; gnuplot only for --chart.
	need=""
	for pkg in postgresql-15 postgresql-client-15 postgresql-common; do
		dpkg-query -W -f '${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' ||
			need="$need $pkg"
	done
	[ "$CHART" = 1 ] && ! command -v gnuplot >/dev/null && need="$need gnuplot-nox"
	if [ -n "$need" ]; then
		echo "installing:$need"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
	fi
	case "$PG" in
	15) ;;
	18)
		# A private build: its pg_config, pgbench and psql come first, and
		# the cluster is made by its initdb (pg_virtualenv knows only
		# Debian's servers).
		pg_config18=$(sh "$here/../scripts/build_pg.sh" 18.6)
		PATH=$("$pg_config18" --bindir):$PATH
		export PATH
		;;
	*) echo "--pg: 15 or 18" >&2; exit 2 ;;
	esac
	if [ "$INSTALL" = 1 ]; then
		sh "$here/../scripts/deps.sh"
		make -s -C "$here/.." clean
		make -s -C "$here/.." PG_CONFIG="$(command -v pg_config)"
		make -s -C "$here/.." PG_CONFIG="$(command -v pg_config)" install
		make -s -C "$here/.." clean
	fi
	if [ ! -f "$(pg_config --sharedir)/extension/codes.control" ]; then
		echo "the codes extension is not installed: run make install (or this script with --install)" >&2
		exit 1
	fi

	# Server settings.  synchronous_commit = on and fsync = on by default
	# (pg_virtualenv would turn fsync off): the figures are those of a
	# durable server, where each commit waits for its WAL flush.  With
	# --synchronous-commit off the flush, which costs both sides the same
	# and on this kind of disk dominates every short transaction, is out
	# of the timed part, so the ratios show the statements' own work more
	# sharply; WAL is still written and fsync stays on.  A large
	# max_wal_size and checkpoint_timeout keep checkpoints out of the timed
	# parts (the benchmark checkpoints before each); autovacuum is off so
	# it cannot wake up in the middle of a round (the benchmark vacuums
	# where autovacuum would); jit is off because it would only add compile
	# time to the hand-written INSERT.  --set overrides any of them.
	sb=1GB
	[ "$BIG" = 1 ] && sb=4GB
	[ "$SCALE" = 1 ] && sb=512MB
	opts=(-o "shared_buffers=$sb" -o "synchronous_commit=$SYNC" -o fsync=on -o max_wal_size=8GB
		-o checkpoint_timeout=1h -o autovacuum=off -o jit=off)
	for s in ${SETS[@]+"${SETS[@]}"}; do opts+=(-o "$s"); done

	mkdir -p "$here/out"
	export N DURATION CLIENTS JOBS ROUNDS PGROUNDS QUICK BIG SCALE SCALE_N CHART OUTFILE GENARGS
	# -t: the cluster goes to a temporary directory even as root, so it
	# cannot collide with another pg_virtualenv cluster on the machine;
	# and on a free port (scripts/common.sh), not pg_virtualenv's first
	# choice, 5432, which another cluster on a shared machine may hold.
	if [ "$PG" = 15 ]; then
		. "$here/../scripts/common.sh"
		PGPORT=$(free_port) || { echo "no free port" >&2; exit 1; }
		export PGPORT
		exec pg_virtualenv -t "${opts[@]}" bash "$0" --inner
	fi

	# 18: initdb as postgres (it refuses root) in a temporary directory,
	# the same settings, and the inner part as with pg_virtualenv.
	cl=$(mktemp -d -t codes-bench18.XXXXXX)
	chown postgres "$cl"
	trap 'runuser -u postgres -- pg_ctl -D "$cl/data" -m immediate stop >/dev/null 2>&1; rm -rf "$cl"' EXIT
	runuser -u postgres -- initdb -D "$cl/data" -A trust -N >/dev/null
	for o in "${opts[@]}"; do
		[ "$o" = -o ] || echo "$o" | sed "s/=\(.*\)/ = '\1'/" >>"$cl/data/postgresql.conf"
	done
	printf "listen_addresses = ''\nunix_socket_directories = '%s'\n" "$cl" >>"$cl/data/postgresql.conf"
	runuser -u postgres -- pg_ctl -D "$cl/data" -l "$cl/server.log" -w start >/dev/null ||
		{ cat "$cl/server.log"; exit 1; }
	PGHOST=$cl PGUSER=postgres PGDATABASE=postgres bash "$0" --inner
	exit
fi

# --- The inner part, inside the throwaway cluster ------------------------

# One brace group that bash reads whole before running it, so that editing
# this file during a run cannot derail the run.
{

OUT=$here/out
K=32			# codes fetched per pgbench transaction, see make_script
cd "$here"

log() { echo "$*" >&2; }
die() {
	echo "bench: $*" >&2
	# the extension may have been reinstalled under a running benchmark
	[ -z "${SOSUM:-}" ] || [ "$(md5sum "$SOFILE" | cut -c1-12)" = "$SOSUM" ] ||
		echo "bench: note: $SOFILE changed during the run; run again" >&2
	exit 1
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
export PGOPTIONS='-c client_min_messages=warning'	# no "does not exist, skipping"

# Arithmetic and formatting on decimals, with awk.
calc() { awk "BEGIN { x = $1; printf \"%${2:-.3f}\", x }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
thousands() { printf '%s' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }

# Figures, by name: gen_ext, use_hand_tps_1000000, ... (lists of rounds).
declare -A F

# --- Machine and settings ------------------------------------------------

DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
[ -n "$CPU" ] || CPU=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1)
MEM=$(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)
MACHINE="$(nproc) CPUs ($CPU), $MEM RAM, Linux $(uname -r)"
q -f helpers.sql
PGVERSION_STR=$(q -c "SELECT split_part(version(), ' ', 2)")
SETTINGS=$(q -c "SELECT string_agg(s || ' = ' || current_setting(s), ', ')
	FROM unnest('{shared_buffers,work_mem,synchronous_commit,fsync,full_page_writes,
		wal_level,max_wal_size,checkpoint_timeout,autovacuum,jit,shared_preload_libraries}'::text[]) AS s")
[ -z "$GENARGS" ] || SETTINGS="$SETTINGS; code_gen(...$GENARGS)"
# The commit mode, in the header line of every table.
MODE=$(q -c "SELECT 'synchronous_commit = ' || current_setting('synchronous_commit') ||
	', fsync = ' || current_setting('fsync')")
SOFILE=$(pg_config --pkglibdir)/codes.so
SOSUM=$(md5sum "$SOFILE" | cut -c1-12)
log "== codes benchmark, $DATE"
log "machine: $MACHINE"
log "server: PostgreSQL $PGVERSION_STR; $SETTINGS"
log "figures with $MODE"
log "extension: $SOFILE (md5 $SOSUM)"
log "N = $N, pgbench: $CLIENTS clients, $JOBS threads, ${DURATION} s, -M prepared; rounds: gen $ROUNDS, pgbench $PGROUNDS"

# --- gen: code_gen vs INSERT ... SELECT vs COPY --------------------------

# Run one gen script and print its time in seconds; check the row count.
# The WAL it wrote, in bytes per code, goes to $OUT/<script>.wal (see
# wal_of).
gen_round() {
	local file=$1 outf out ms count lsn
	outf=$OUT/${file%.sql}.out
	lsn=$(q -c "SELECT pg_current_wal_lsn()")
	q -v n="$N" -v copyfile="$COPYFILE" -v genargs="$GENARGS" -f "$file" >"$outf"
	q -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn') / $N)" >"$OUT/${file%.sql}.wal"
	ms=$(awk '/^Time:/ { print $2 }' "$outf")
	count=$(grep -v '^Time:' "$outf" | tail -1)
	[ -n "$ms" ] || die "no time in $outf"
	[ "$count" = "$N" ] || die "$file made $count rows, not $N"
	calc "$ms / 1000" .4f
}

# The WAL per code of the last gen_round of a script.
wal_of() {
	cat "$OUT/${1%.sql}.wal"
}

# Bytes per code of some tables ($1) holding $2 codes (default N):
# "total heap idx other".
bytes_per_code() {
	local n=${2:-$N}
	q -F ' ' -c "SELECT round(total / $n::numeric, 1), round(heap / $n::numeric, 1),
		round(idx / $n::numeric, 1), round((total - heap - idx) / $n::numeric, 1)
		FROM bench.size($1)"
}

COPYFILE=$(q -c "SHOW data_directory")/bench_codes.copy
q -v n="$N" -v copyfile="$COPYFILE" -f make_copy.sql
q -v n="$N" -f make_import.sql
log "== gen and import $N codes, $ROUNDS rounds (seconds)"
for r in $(seq "$ROUNDS"); do
	t=$(gen_round gen_ext.sql); F[gen_ext]+=" $t" F[wal_ext]+=" $(wal_of gen_ext.sql)"
	SIZE_EXT=$(bytes_per_code 'bench.ext_tables()')
	t=$(gen_round gen_hand.sql); F[gen_hand]+=" $t" F[wal_hand]+=" $(wal_of gen_hand.sql)"
	SIZE_HAND=$(bytes_per_code "'{hand_codes}'")
	t=$(gen_round gen_copy.sql); F[gen_copy]+=" $t"
	t=$(gen_round import_ext.sql); F[import_ext]+=" $t" F[wal_import_ext]+=" $(wal_of import_ext.sql)"
	t=$(gen_round import_hand.sql); F[import_hand]+=" $t" F[wal_import_hand]+=" $(wal_of import_hand.sql)"
	log "round $r: ext${F[gen_ext]##* } hand${F[gen_hand]##* } copy${F[gen_copy]##* }; import: ext${F[import_ext]##* } hand${F[import_hand]##* }"
done
log "bytes per code (total heap indexes other): ext $SIZE_EXT, hand $SIZE_HAND"
rm -f "$COPYFILE"	# the server's file (the cluster is local); gone with the cluster anyway
q -c "DROP TABLE import_src"

# --- pgbench: use, query, delete -----------------------------------------

# How pgbench gets the codes.  The codes are random (that is the point), so
# pgbench cannot compute them; it has to read them from a table, and that
# read must not be charged to one side only, nor weigh much on both.  So
# build_*.sql stores each side's codes in random groups of K per row
# (grp_ext, grp_hand: g, c1 .. cK), and each pgbench transaction reads one
# row by its integer key with \gset and then makes K calls, each its own
# autocommitted statement, exactly as an application calls.  Both sides
# pay the same, tiny, amortized read (one indexed row per K calls).  The
# latency we report is pgbench's own per-statement average of the K calls
# (-r), without the read; calls per second is pgbench's tps times K.
#
# Each client walks the groups in order (g = lo + client + clients * k,
# k = 0, 1, ...; pgbench keeps k per client), not at random: a use or
# delete run then never meets a code an earlier call used or deleted, so
# every use succeeds and every delete deletes.  Use and delete rounds get
# disjoint ranges of groups (lo), or fresh tables (see bench_size), and run
# for as many transactions as the hand-written use runs at the previous,
# smaller table size showed fit in the duration (the query runs, at the
# first size), capped by the range, so they run about --duration seconds
# (less on small tables).  With synchronous_commit on a write waits for
# its WAL flush and runs at a fraction of a query's rate: sized by the
# query runs, use and delete runs would run many times --duration.  Query
# runs are read-only and run for --duration.
make_script() {
	local op=$1 side=$2 f=$OUT/${1}_${2}.pgb i cols=""
	for i in $(seq $K); do cols="$cols${cols:+, }c$i"; done
	{
		echo '\set g (:lo + :client_id + :nclients * :k) % :ngroups'
		echo '\set k :k + 1'
		echo "SELECT $cols FROM grp_$side WHERE g = :g \\gset"
		for i in $(seq $K); do sed "s/:code\\b/:c$i/g" "ops/${op}_$side.sql"; done
	} >"$f"
	echo "$f"
}

# One pgbench run: op side size lo (-T secs | -t count); records calls/s
# and per-call latency (ms) in F[op_side_tps_size] and F[op_side_lat_size].
pgbench_run() {
	local op=$1 side=$2 size=$3 lo=$4 limit=$5 count=$6 script outf tps lat
	script=$(make_script "$op" "$side")
	outf=$OUT/pgbench_${op}_${side}_$size.out
	q -c CHECKPOINT
	pgbench -n -M prepared -r -c "$CLIENTS" -j "$JOBS" "$limit" "$count" \
		-D lo="$lo" -D k=0 -D nclients="$CLIENTS" -D ngroups="$NGROUPS" \
		-f "$script" >"$outf" 2>&1 || { cat "$outf" >&2; die "pgbench failed ($op, $side)"; }
	grep -q '^number of failed transactions: 0 ' "$outf" || { cat "$outf" >&2; die "pgbench: failed transactions"; }
	tps=$(awk '/^tps = / { print $3 }' "$outf")
	# per-statement latencies: average over the K calls (not \set, not the fetch)
	lat=$(awk '/^statement latencies/ { on = 1; next }
		on && $3 != "\\set" && $0 !~ /FROM grp_/ { s += $1; n++ }
		END { if (n) printf "%.4f", s / n }' "$outf")
	[ -n "$tps" ] && [ -n "$lat" ] || { cat "$outf" >&2; die "cannot read pgbench output"; }
	F[${op}_${side}_tps_$size]+=" $(calc "$tps * $K" .0f)"
	F[${op}_${side}_lat_$size]+=" $lat"
	log "  $op $side: $(calc "$tps * $K" .0f) calls/s, $lat ms ($limit $count)"
}

# How many of the codes the use rounds walked are now used (first code of
# each walked group, by each side's own query): "used/walked".  The rounds
# walked the first $2 groups of each of the first $PGROUNDS ranges of $3
# (only the last round's, when the tables were rebuilt).
check_used() {
	local side=$1 walked=$2 range=$3 stmt
	if [ "$side" = ext ]; then
		stmt="count(*) FILTER (WHERE codes.code_query(c1) = 'ACTIVED')"
	else
		stmt="count(*) FILTER (WHERE (SELECT used FROM hand_codes WHERE code = c1::uuid))"
	fi
	q -c "SELECT $stmt || '/' || count(*) FROM grp_$side
		WHERE g < $PGROUNDS * $range AND g % $range < $walked"
}

# Make both sides' tables of $1 codes for pgbench, and set NGROUPS, the
# groups of codes both sides have.  Of a table larger than SAMPLE codes,
# about SAMPLE of them, drawn at random, go into groups: more than the
# calls of a run make.  Both sides' tables are vacuumed, as autovacuum
# would (it is off here): the hand-written side's groups are read from its
# table, which sets its rows' hint bits, the extension's come from
# code_gen, so without it the first calls on the extension's rows would
# pay for writing them (the first query run on 20M codes was a quarter
# slower than the second).
SAMPLE=2000000
build() {
	local size=$1 cols="" i frac
	for i in $(seq $K); do cols="$cols${cols:+, }a[$i] AS c$i"; done
	frac=$(calc "$SAMPLE >= $size ? 1 : $SAMPLE / $size" .6f)
	F[depth_ext_$size]=$(q -v s="$size" -v k=$K -v frac="$frac" -v cols="$cols" \
		-v genargs="$GENARGS" -f build_ext.sql)
	F[depth_hand_$size]=$(q -v s="$size" -v k=$K -v frac="$frac" -v cols="$cols" -f build_hand.sql)
	NGROUPS=$(q -c "SELECT least((SELECT count(*) FROM grp_ext), (SELECT count(*) FROM grp_hand))")
	q -c "VACUUM codes.codes" -c "VACUUM codes.batch" -c "VACUUM hand_codes"
}

# With --scale, after building the large tables: rounds of N codes
# generated into each side's tables as they are (each round's codes stay),
# against the gen into empty tables above; then bytes per code there.
gen_into_large() {
	local r t
	log "== gen $N codes into the tables of $SCALE_N codes, $ROUNDS rounds (seconds)"
	for r in $(seq "$ROUNDS"); do
		t=$(gen_round gen_into_ext.sql); F[gen_large_ext]+=" $t"
		F[wal_large_ext]+=" $(wal_of gen_into_ext.sql)"
		t=$(gen_round gen_into_hand.sql); F[gen_large_hand]+=" $t"
		F[wal_large_hand]+=" $(wal_of gen_into_hand.sql)"
		log "round $r: ext${F[gen_large_ext]##* } hand${F[gen_large_hand]##* }"
	done
	LARGE_TOTAL=$((SCALE_N + ROUNDS * N))
	SIZE_LARGE_EXT=$(bytes_per_code 'bench.ext_tables()' "$LARGE_TOTAL")
	SIZE_LARGE_HAND=$(bytes_per_code "'{hand_codes}'" "$LARGE_TOTAL")
	log "bytes per code at $LARGE_TOTAL codes (total heap indexes other): ext $SIZE_LARGE_EXT, hand $SIZE_LARGE_HAND"
}

# With --scale: one call of ONE_CALL codes (10,000,000, code_gen's most)
# into a fresh extension: its time, and the backend's memory, read from
# /proc while it runs (every 0.1 s): the peak of RssAnon, its private
# memory, and VmHWM, its peak resident size, which counts the pages of
# shared buffers it touched too.
one_call() {
	local pid="" psql_pid i rss peak=0 hwm=0 ms
	log "== one call of $ONE_CALL codes"
	q -c "DROP EXTENSION IF EXISTS codes" -c "CREATE EXTENSION codes" -c CHECKPOINT
	PGAPPNAME=bench_one_call q -c '\timing on' \
		-c "SELECT count(*) FROM codes.code_gen($ONE_CALL, now(), now() + interval '1 year' $GENARGS)" \
		>"$OUT/one_call.out" &
	psql_pid=$!
	for i in $(seq 100); do
		pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_one_call'")
		[ -n "$pid" ] && break
		sleep 0.05
	done
	[ -n "$pid" ] || die "cannot find the backend of the call"
	while kill -0 "$psql_pid" 2>/dev/null; do
		read -r rss i <<<"$(awk '/^RssAnon:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r + 0, h + 0 }' \
			"/proc/$pid/status" 2>/dev/null || echo 0 0)"
		[ "$rss" -gt "$peak" ] && peak=$rss
		[ "$i" -gt "$hwm" ] && hwm=$i
		sleep 0.1
	done
	wait "$psql_pid" || die "the call of $ONE_CALL codes failed"
	ms=$(awk '/^Time:/ { print $2 }' "$OUT/one_call.out")
	[ "$(grep -v '^Time:' "$OUT/one_call.out" | tail -1)" = "$ONE_CALL" ] || die "the call made too few codes"
	ONE_CALL_S=$(calc "$ms / 1000" .1f)
	ONE_CALL_RSS=$(calc "$peak / 1024" .0f)
	ONE_CALL_HWM=$(calc "$hwm / 1024" .0f)
	log "  $ONE_CALL_S s; peak RssAnon $ONE_CALL_RSS MB, VmHWM $ONE_CALL_HWM MB"
}

# Everything at one table size: build both sides, query, use (and delete
# at size N), alternating ext and hand.  Each use and delete round gets a
# range of groups of its own; on tables smaller than N, which a few
# seconds of calls would use up, the tables are built afresh for each use
# round instead, so that each round can walk all of them.
bench_size() {
	local size=$1 ops=$2 r ranges range t lo qps rebuild=0
	log "== pgbench at $size codes"
	build "$size"
	[ "$SCALE" = 1 ] && [ "$size" = "$SCALE_N" ] && gen_into_large
	ranges=$PGROUNDS
	[ "$ops" = all ] && ranges=$((2 * PGROUNDS))
	[ "$size" -lt "$N" ] && rebuild=1 ranges=1
	range=$((NGROUPS / ranges))
	[ $((range / CLIENTS)) -ge 1 ] ||
		die "$size codes are too few for $CLIENTS clients and $PGROUNDS rounds (need $((K * CLIENTS * ranges)))"

	for r in $(seq "$PGROUNDS"); do
		for side in ext hand; do pgbench_run query $side "$size" 0 -T "$DURATION"; done
	done
	# transactions per client for use and delete runs: what the last
	# size's use runs (or, at the first size, the query runs) did in
	# DURATION seconds, capped by the range of unused groups
	qps=${WRITE_TPS:-$(median ${F[query_hand_tps_$size]})}
	t=$(calc "$qps * $DURATION / ($K * $CLIENTS) + 1" .0f)
	[ "$t" -le $((range / CLIENTS)) ] || t=$((range / CLIENTS))

	for r in $(seq "$PGROUNDS"); do
		lo=$(((r - 1) * range))
		if [ "$rebuild" = 1 ]; then
			lo=0
			[ "$r" = 1 ] || build "$size"
		fi
		for side in ext hand; do pgbench_run use $side "$size" $lo -t "$t"; done
	done
	F[used_$size]="ext $(check_used ext $((t * CLIENTS)) $range), hand $(check_used hand $((t * CLIENTS)) $range)"
	WRITE_TPS=$(median ${F[use_hand_tps_$size]})
	log "  codes used among the first codes of the walked groups: ${F[used_$size]}"

	if [ "$ops" = all ]; then
		for r in $(seq "$PGROUNDS"); do
			lo=$(((PGROUNDS + r - 1) * range))
			for side in ext hand; do pgbench_run del $side "$size" $lo -t "$t"; done
		done
	fi
}

# Table sizes: N for everything; 10k (1k with --quick) and 10M (--big) for
# the scaling of use and query; with --scale SCALE_N for everything too.
small=10000
[ "$QUICK" = 1 ] && small=1000
SIZES=$(printf '%s\n' "$small" "$N" $([ "$BIG" = 1 ] && echo 10000000) \
	$([ "$SCALE" = 1 ] && echo "$SCALE_N") | sort -nu)
ONE_CALL=10000000
[ "$QUICK" = 1 ] && ONE_CALL=$((10 * N))
[ "$SCALE" = 1 ] && one_call
for size in $SIZES; do
	if [ "$size" = "$N" ] || { [ "$SCALE" = 1 ] && [ "$size" = "$SCALE_N" ]; }; then
		bench_size "$size" all
	else
		bench_size "$size" use_query
	fi
done

# --- Results -------------------------------------------------------------

# A table row: label, ext value, hand value, ratio.
row() { echo "| $1 | $2 | $3 | $4 |"; }
m() { calc "$(median ${F[$1]})" "${2:-.4f}"; }	# median of a figure, formatted

Nfmt=$(thousands "$N")
results() {
	local ge gh gc se sh op label size
	ge=$(m gen_ext) gh=$(m gen_hand) gc=$(m gen_copy)
	read -r se_t se_h se_i se_o <<<"$SIZE_EXT"
	read -r sh_t sh_h sh_i sh_o <<<"$SIZE_HAND"
	echo "## codes benchmark: extension vs hand-written SQL, $MODE"
	echo
	echo "$DATE; $MACHINE; PostgreSQL $PGVERSION_STR, codes.so md5 $SOSUM."
	echo "Settings: $SETTINGS."
	echo "pgbench -M prepared, $CLIENTS clients, $JOBS threads, ${DURATION} s query runs;"
	echo "figures are medians of $ROUNDS gen rounds and $PGROUNDS pgbench rounds per side, alternating."
	echo
	echo "| $Nfmt codes, $MODE | extension | hand-written | ext/hand |"
	echo "|---|--:|--:|--:|"
	row "gen, s (lower is better)" "$ge" "$gh" "$(ratio "$ge" "$gh")"
	row "gen floor: COPY of the rows, s (ratio ext/COPY)" "" "$gc" "$(ratio "$ge" "$gc")"
	row "gen: WAL per code, bytes" "$(m wal_ext .0f)" "$(m wal_hand .0f)" "$(ratio "$(m wal_ext)" "$(m wal_hand)")"
	row "import of the seed's codes from a table, s" "$(m import_ext)" "$(m import_hand)" \
		"$(ratio "$(m import_ext)" "$(m import_hand)")"
	row "import: WAL per code, bytes" "$(m wal_import_ext .0f)" "$(m wal_import_hand .0f)" \
		"$(ratio "$(m wal_import_ext)" "$(m wal_import_hand)")"
	row "bytes per code: total" "$se_t" "$sh_t" "$(ratio "$se_t" "$sh_t")"
	row "bytes per code: heap" "$se_h" "$sh_h" "$(ratio "$se_h" "$sh_h")"
	row "bytes per code: indexes" "$se_i" "$sh_i" "$(ratio "$se_i" "$sh_i")"
	row "bytes per code: TOAST, FSM, VM" "$se_o" "$sh_o" "$(ratio "$se_o" "$sh_o")"
	for op in use query del; do
		case $op in use) label=use ;; query) label=query ;; del) label=delete ;; esac
		e=$(m "${op}_ext_tps_$N" .0f) h=$(m "${op}_hand_tps_$N" .0f)
		row "$label: calls/s (higher is better)" "$e" "$h" "$(ratio "$e" "$h")"
		e=$(m "${op}_ext_lat_$N") h=$(m "${op}_hand_lat_$N")
		row "$label: latency per call, ms" "$e" "$h" "$(ratio "$e" "$h")"
	done
	echo
	echo "Scaling ($MODE): latency per call (ms) by table size; index depth = B-tree levels of the code index."
	echo
	echo "| codes | index depth ext/hand | use ext | use hand | use ext/hand | query ext | query hand | query ext/hand |"
	echo "|--:|--:|--:|--:|--:|--:|--:|--:|"
	for size in $SIZES; do
		ue=$(m "use_ext_lat_$size") uh=$(m "use_hand_lat_$size")
		qe=$(m "query_ext_lat_$size") qh=$(m "query_hand_lat_$size")
		echo "| $(thousands "$size") | ${F[depth_ext_$size]}/${F[depth_hand_$size]} | $ue | $uh | $(ratio "$ue" "$uh") | $qe | $qh | $(ratio "$qe" "$qh") |"
	done
	echo
	[ "$SCALE" = 1 ] && scale_results
	echo "Use and delete calls each hit a code no earlier call had touched (used afterwards, first code of each walked group: ${F[used_$N]})."
	echo "Bytes per code include the extension's batches table; gen times include commit;"
	echo "code_gen returns the new codes (counted), the hand-written INSERT returns nothing."
	echo "Import: $Nfmt version 1 UUID texts, a tenth used, in the order of the seed's table (by code),"
	echo "read from a table by codes.code_add(batch, array_agg(code), array_agg(uses)) and by"
	echo "INSERT INTO hand_codes SELECT code::uuid, ...; each into empty tables, times include commit."
}

# With --scale: the large case, after the scaling table.
scale_results() {
	local ge gh gle glh le lh Sfmt op label
	ge=$(m gen_ext) gh=$(m gen_hand) gle=$(m gen_large_ext) glh=$(m gen_large_hand)
	read -r le _ <<<"$SIZE_LARGE_EXT"
	read -r lh _ <<<"$SIZE_LARGE_HAND"
	Sfmt=$(thousands "$SCALE_N")
	echo
	echo "At scale ($MODE): $Nfmt codes generated into tables of $Sfmt codes (each round's codes stay), and the calls on them."
	echo
	echo "| $Sfmt codes, $MODE | extension | hand-written | ext/hand |"
	echo "|---|--:|--:|--:|"
	row "gen $Nfmt into the large table, s" "$gle" "$glh" "$(ratio "$gle" "$glh")"
	row "gen into the large table / into an empty one" "$(ratio "$gle" "$ge")" "$(ratio "$glh" "$gh")" ""
	row "gen into the large table: WAL per code, bytes" "$(m wal_large_ext .0f)" "$(m wal_large_hand .0f)" \
		"$(ratio "$(m wal_large_ext)" "$(m wal_large_hand)")"
	row "bytes per code at $(thousands "$LARGE_TOTAL") codes" "$le" "$lh" "$(ratio "$le" "$lh")"
	for op in use query del; do
		case $op in use) label=use ;; query) label=query ;; del) label=delete ;; esac
		e=$(m "${op}_ext_tps_$SCALE_N" .0f) h=$(m "${op}_hand_tps_$SCALE_N" .0f)
		row "$label: calls/s" "$e" "$h" "$(ratio "$e" "$h")"
	done
	echo
	echo "One call of $(thousands "$ONE_CALL") codes: $ONE_CALL_S s; the backend's memory: peak RssAnon $ONE_CALL_RSS MB (private), VmHWM $ONE_CALL_HWM MB (counts the shared buffers it touched)."
	echo
	echo "At $Sfmt codes, $(thousands "$((NGROUPS * K))") codes drawn at random from each side's table make the groups the calls walk."
}

results | tee "$OUTFILE"
log "written to $OUTFILE"

# --- Optional chart ------------------------------------------------------

if [ "$CHART" = 1 ]; then
	png=${OUTFILE%.md}.png
	{
		echo "gen time $(ratio "$(m gen_ext)" "$(m gen_hand)")"
		echo "bytes/code $(ratio "${SIZE_EXT%% *}" "${SIZE_HAND%% *}")"
		for op in use query del; do
			echo "$op calls/s $(ratio "$(m "${op}_ext_tps_$N")" "$(m "${op}_hand_tps_$N")")"
		done
	} | awk '{ v = $NF; $NF = ""; sub(/ $/, ""); printf "\"%s\" %s\n", $0, v }' >"$OUT/chart.dat"
	gnuplot <<EOF
set terminal png size 800,450
set output '$png'
set title "codes extension / hand-written SQL, $Nfmt codes, $MODE ($DATE)\\ntime and size: lower is better; calls/s: higher is better"
set ylabel 'ratio ext/hand'
set style fill solid 0.6
set boxwidth 0.6
set yrange [0:*]
set offsets 0, 0, 0.25, 0	# headroom above the line at 1
set grid ytics
unset key
plot '$OUT/chart.dat' using 0:2:xtic(1) with boxes, 1 with lines dt 2 lc rgb 'black'
EOF
	log "chart: $png"
fi
exit 0
}

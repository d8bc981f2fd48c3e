#!/bin/bash
# bench/hot.sh (bench/run.sh --hot): one promo code for many customers,
# once per customer, against the counter row plus history table a user
# would write by hand, in one run on this machine.
#
#   bash bench/run.sh --hot [--quick] [-d SECONDS] [-r ROUNDS] [--past N]
#                           [--synchronous-commit off]
#
# About 11 minutes with the defaults, 4 to 5 of them the hand-written
# side's --past uses in one transaction (which grow with the square of
# their number); --quick about 90 s.
#
# The code: code_gen(1, ..., max_uses => 2000000000,
# max_uses_per_redeemer => 1).  By hand: a row (code, uses, max_uses) and a
# history table with UNIQUE (code, redeemer); a use is
#
#   WITH u AS (UPDATE hand_promo SET uses = uses + 1
#              WHERE code = $1 AND uses < max_uses RETURNING code)
#   INSERT INTO hand_promo_use (code, redeemer) SELECT code, $2 FROM u
#
# Every call names a redeemer no call named before.  In one throwaway
# cluster (pg_virtualenv, the extension staged from this tree, fsync and
# synchronous_commit on: a flash sale runs on a durable server;
# --synchronous-commit off measures without the WAL flush at commit, into
# bench/results-hot-sync-off.md), rounds alternate between the sides so
# that machine noise hits both alike:
#
#   clients   calls per second with 1, 16 and 32 pgbench clients (prepared)
#             on the one code, median of the rounds;
#   past      one statement of N uses of a fresh code (--past, default
#             100,000), timed, and one of N / 10 (is it linear?); then the
#             latency of a use (1 client) of that code against a use of a
#             fresh code: the cost of past uses, with the WAL per use of
#             those runs (pg_current_wal_lsn before and after: commit
#             records and full page images included);
#   cost      what one use reads and writes, by EXPLAIN (ANALYZE, BUFFERS,
#             WAL) of single uses of each code: shared buffers, WAL
#             records and bytes (the statement's, without its commit);
#   checkout  20 clients, each transaction an order with 20 ms of other
#             work: the use of one shared code first (its lock, if any, is
#             held through the order) or last, just before COMMIT, and the
#             use of a code per client first.
#
# Prints a Markdown table and writes it to bench/results-hot.md (--quick:
# bench/out/results-hot-quick.md).  Timings never fail the run; it exits
# non-zero only when something broke, or when a check of the uses made
# (every call a use, no redeemer twice) fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" != --inner ]; then
	DURATION=10 ROUNDS=2 PAST=100000 OUTFILE= QUICK=0 SYNC=on
	while [ $# -gt 0 ]; do
		case "$1" in
		--hot) ;;
		--quick) QUICK=1 DURATION=2 ROUNDS=1 PAST=5000 ;;
		-d | --duration) DURATION=$2; shift ;;
		-r | --rounds) ROUNDS=$2; shift ;;
		--past) PAST=$2; shift ;;
		--synchronous-commit) SYNC=$2; shift ;;
		--out) OUTFILE=$2; case $OUTFILE in /*) ;; *) OUTFILE=$PWD/$OUTFILE ;; esac; shift ;;
		*) echo "usage: bash bench/run.sh --hot [--quick] [-d S] [-r R] [--past N] [--synchronous-commit on|off] [--out FILE]" >&2; exit 2 ;;
		esac
		shift
	done
	for v in "$DURATION" "$ROUNDS" "$PAST"; do
		case "$v" in '' | *[!0-9]* | 0) echo "not a positive integer: '$v'" >&2; exit 2 ;; esac
	done
	case "$SYNC" in
	on | off) ;;
	*) echo "--synchronous-commit: on or off, not '$SYNC'" >&2; exit 2 ;;
	esac
	# A run without the WAL flush at commit never overwrites the headline
	# figures (synchronous_commit = on) in bench/results-hot.md.
	if [ -z "$OUTFILE" ]; then
		if [ "$QUICK" = 1 ]; then OUTFILE=$here/out/results-hot-quick.md
		elif [ "$SYNC" = off ]; then OUTFILE=$here/results-hot-sync-off.md
		else OUTFILE=$here/results-hot.md; fi
	fi

	cd "$here/.."
	. scripts/common.sh
	sh scripts/deps.sh >&2
	work=$(mktemp -d -t codes-bench-hot.XXXXXX)
	chmod 755 "$work"
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$here/out" "$(dirname "$OUTFILE")"
	stage_copy "$work" >/dev/null
	chmod 777 "$work"
	export DURATION ROUNDS PAST
	as_tester env PGPORT="$(free_port)" pg_virtualenv \
		-o "extension_destdir=$work/stage" -o fsync=on -o "synchronous_commit=$SYNC" \
		-o shared_buffers=1GB -o max_wal_size=8GB -o checkpoint_timeout=1h \
		-o autovacuum=off -o jit=off -o max_connections=100 \
		bash "$here/hot.sh" --inner "$work"
	cp "$work/results.md" "$OUTFILE"
	cat "$OUTFILE"
	exit
fi

# --- The inner part, inside the throwaway cluster ------------------------
{
work=$2
OUT=$work/out
mkdir -p "$OUT"

log() { echo "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
export PGOPTIONS='-c client_min_messages=warning'
calc() { awk "BEGIN { printf \"%${2:-.2f}\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

declare -A F
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1)
MACHINE="$(nproc) CPUs ($CPU), $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM"
SETTINGS=$(q -c "SELECT string_agg(s || ' = ' || current_setting(s), ', ')
	FROM unnest('{shared_buffers,synchronous_commit,fsync,full_page_writes,wal_level,max_wal_size,autovacuum,jit}'::text[]) AS s")
PGV=$(q -c "SELECT split_part(version(), ' ', 2)")
# The commit mode, said in every table's header line.
MODE=$(q -c "SELECT 'synchronous_commit = ' || current_setting('synchronous_commit') ||
	', fsync = ' || current_setting('fsync')")
log "== hot promo code benchmark, $DATE"
log "machine: $MACHINE"
log "server: PostgreSQL $PGV; $SETTINGS"
log "figures with $MODE"

q <<'SQL'
CREATE EXTENSION codes;
CREATE TABLE hand_promo (code text PRIMARY KEY, uses integer NOT NULL DEFAULT 0,
						 max_uses integer NOT NULL);
CREATE TABLE hand_promo_use (id bigserial PRIMARY KEY, code text NOT NULL,
							 redeemer text NOT NULL,
							 used_at timestamptz NOT NULL DEFAULT now(),
							 UNIQUE (code, redeemer));
CREATE TABLE promo (side text, name text, code text, PRIMARY KEY (side, name));
SQL

# A promo code of each side, by name; its text.
make_code() {
	local name=$1
	q -c "INSERT INTO promo SELECT 'ext', '$name', c FROM codes.code_gen(1, NULL, NULL,
			max_uses => 2000000000, max_uses_per_redeemer => 1, batch => '$name') AS c"
	q -c "INSERT INTO hand_promo VALUES ('$name', 0, 2000000000)"
	q -c "INSERT INTO promo VALUES ('hand', '$name', '$name')"
}
code_of() { q -c "SELECT code FROM promo WHERE side = '$1' AND name = '$2'"; }

# The statement of a use, with the redeemer made of the run, the client
# and a count of the client's calls: never the same twice.
use_stmt() {
	local side=$1 code=$2 who="'r' || :run || '-' || :client_id || '-' || :k"
	if [ "$side" = ext ]; then
		echo "SELECT codes.code_use($code, $who);"
	else
		echo "WITH u AS (UPDATE hand_promo SET uses = uses + 1 WHERE code = $code AND uses < max_uses RETURNING code) INSERT INTO hand_promo_use (code, redeemer) SELECT code, $who FROM u;"
	fi
}

RUN=0
# One pgbench run: side, clients, script, name; sets TPS (transactions per
# second), WALPER (bytes of WAL per transaction, from the WAL position
# before and after the run: commit records and the full page images after
# the checkpoint included) and LAST (its output).  Each run has a number
# of its own, which goes into every redeemer it names.
bench_run() {
	local side=$1 clients=$2 script=$3 name=$4 outf lsn n
	RUN=$((RUN + 1))
	outf=$OUT/pgbench_${name}_${side}_${clients}_$RUN.out
	LAST=$outf
	q -c CHECKPOINT
	lsn=$(q -c "SELECT pg_current_wal_lsn()")
	pgbench -n -M prepared -r -c "$clients" -j "$(( clients < 2 ? 1 : 2 ))" -T "$DURATION" \
		-D run="$RUN" -D k=0 -D code="$(code_of "$side" "${CODE_NAME:-summer20}")" \
		-f "$script" >"$outf" 2>&1 || { cat "$outf" >&2; die "pgbench failed"; }
	grep -q '^number of failed transactions: 0 ' "$outf" || { cat "$outf" >&2; die "pgbench: failed transactions"; }
	TPS=$(awk '/^tps = / { printf "%.0f", $3 }' "$outf")
	n=$(awk '/^number of transactions actually processed/ { print $NF }' "$outf")
	WALPER=$(q -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn') / greatest($n, 1))")
}

# What single uses of a code cost, by EXPLAIN (ANALYZE, BUFFERS, WAL) of
# $3 uses in one session, each by a new redeemer: side, code name, count;
# prints the medians of "shared-buffers-hit read dirtied wal-records fpi
# wal-bytes execution-ms" (the top plan node's counts, which include the
# function's or the CTE's work, and the executor's time: not planning,
# not the commit).
explain_uses() {
	local side=$1 name=$2 n=$3 code i stmt outf=$OUT/explain_$1_$2.out
	code=$(code_of "$side" "$name")
	for i in $(seq "$n"); do
		if [ "$side" = ext ]; then
			stmt="SELECT codes.code_use('$code', 'x-$name-$i')"
		else
			stmt="WITH u AS (UPDATE hand_promo SET uses = uses + 1 WHERE code = '$code' AND uses < max_uses RETURNING code) INSERT INTO hand_promo_use (code, redeemer) SELECT code, 'x-$name-$i' FROM u"
		fi
		echo "EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF, TIMING OFF, SUMMARY ON) $stmt;"
	done | q >"$outf"
	# one line per EXPLAIN: its top node's Buffers and WAL lines, and its
	# execution time
	awk 'function flush() { if (seen) print h + 0, r + 0, d + 0, wr + 0, wf + 0, wb + 0, et + 0 }
		/^Execution Time:/ { et = $3; next }
		/^[^ ]/ && !/^(Buffers|WAL|Planning)/ { flush(); seen = 1; top = 1; h = r = d = wr = wf = wb = et = 0; next }
		/^ *Planning/ { top = 0; next }
		/^ *->/ { top = 0 }
		top && /Buffers:/ { for (i = 1; i <= NF; i++) { split($i, kv, "=");
			if (kv[1] == "hit") h = kv[2]; else if (kv[1] == "read") r = kv[2]; else if (kv[1] == "dirtied") d = kv[2] } }
		top && /WAL:/ { for (i = 1; i <= NF; i++) { split($i, kv, "=");
			if (kv[1] == "records") wr = kv[2]; else if (kv[1] == "fpi") wf = kv[2]; else if (kv[1] == "bytes") wb = kv[2] } }
		END { flush() }' "$outf" >"$outf.counts"
	[ "$(wc -l <"$outf.counts")" = "$n" ] || die "cannot read $outf"
	for i in 1 2 3 4 5 6 7; do
		median $(cut -d ' ' -f "$i" "$outf.counts")
	done | tr '\n' ' '
}

# The latency of the use statement of a one-client run, in ms.
latency_of() {
	awk '/^statement latencies/ { on = 1; next } on && /code_use|WITH u AS/ { print $1; exit }' "$1"
}

for side in ext hand; do
	{
		echo '\set k :k + 1'
		use_stmt "$side" ':code'
	} >"$OUT/use_$side.pgb"
done

# --- clients: one code, 1, 16 and 32 clients ------------------------------
make_code summer20
log "== one code, once per customer: calls per second, $DURATION s runs, $ROUNDS rounds"
for c in 1 16 32; do
	for r in $(seq "$ROUNDS"); do
		for side in ext hand; do
			bench_run "$side" "$c" "$OUT/use_$side.pgb" clients
			F[use_${side}_$c]+=" $TPS"
		done
		log "$c clients, round $r: ext ${F[use_ext_$c]##* } hand ${F[use_hand_$c]##* }"
	done
done

# every call a use of its own redeemer, on both sides; none twice
ext_uses=$(q -c "SELECT count(*) FROM codes.redemptions WHERE batch = 'summer20' AND undone_at IS NULL")
ext_distinct=$(q -c "SELECT count(DISTINCT redeemer) FROM codes.redemptions WHERE batch = 'summer20'")
ext_counted=$(q -c "SELECT uses FROM codes.batches WHERE name = 'summer20'")
ext_calls=$(cat "$OUT"/pgbench_clients_ext_*.out | awk '/^number of transactions actually processed/ { s += $NF } END { print s }')
[ "$ext_uses" = "$ext_calls" ] && [ "$ext_distinct" = "$ext_uses" ] && [ "$ext_counted" = "$ext_uses" ] ||
	die "ext: $ext_calls calls, $ext_uses uses recorded, $ext_distinct redeemers, $ext_counted counted"
log "check: $ext_calls calls, $ext_uses uses, $ext_distinct redeemers, $ext_counted counted"

# --- past: N uses in one statement, then a use after them ----------------
# uses name n: n uses of the code name in one statement on each side, in
# seconds, to F[name_ext] and F[name_hand].  The hand-written side makes
# them in a PL/pgSQL loop (one statement, one transaction), as a user
# would.
uses() {
	local name=$1 n=$2 t0 t1 t2
	t0=$(date +%s.%N)
	q -c "SELECT count(*) FROM promo p, generate_series(1, $n) AS g
		WHERE p.side = 'ext' AND p.name = '$name' AND codes.code_use(p.code, 'p' || g) = 'SUCCEED'" >"$OUT/${name}_ext.out"
	t1=$(date +%s.%N)
	[ "$(cat "$OUT/${name}_ext.out")" = "$n" ] || die "ext: $(cat "$OUT/${name}_ext.out") of $n uses in one statement"
	q -c "DO \$\$ BEGIN FOR g IN 1..$n LOOP
			WITH u AS (UPDATE hand_promo SET uses = uses + 1 WHERE code = '$name' AND uses < max_uses RETURNING code)
			INSERT INTO hand_promo_use (code, redeemer) SELECT code, 'p' || g FROM u;
		END LOOP; END \$\$"
	t2=$(date +%s.%N)
	F[${name}_ext]=$(calc "$t1 - $t0" .2f)
	F[${name}_hand]=$(calc "$t2 - $t1" .2f)
	log "$n uses: ext ${F[${name}_ext]} s, hand ${F[${name}_hand]} s"
}
PAST10=$((PAST / 10))
log "== $PAST10 and $PAST uses of one code in one statement"
make_code tenth
make_code old
make_code fresh
uses tenth "$PAST10"
uses old "$PAST"
q -c "VACUUM ANALYZE"

log "== latency of a use, 1 client: after $PAST uses of the code, and of a fresh code"
for r in $(seq "$ROUNDS"); do
	for name in old fresh; do
		for side in ext hand; do
			CODE_NAME=$name bench_run "$side" 1 "$OUT/use_$side.pgb" "lat_$name"
			F[lat_${side}_$name]+=" $(latency_of "$LAST")"
			F[wal_${side}_$name]+=" $WALPER"
		done
	done
	log "round $r: ext old ${F[lat_ext_old]##* } fresh ${F[lat_ext_fresh]##* }, hand old ${F[lat_hand_old]##* } fresh ${F[lat_hand_fresh]##* } ms"
done

log "== what a use reads and writes: EXPLAIN (ANALYZE, BUFFERS, WAL) of 7 uses of each code"
for name in old fresh; do
	for side in ext hand; do
		F[cost_${side}_$name]=$(explain_uses "$side" "$name" 7)
		log "$side $name: ${F[cost_${side}_$name]}(buffers hit read dirtied, WAL records fpi bytes, ms)"
	done
done

# --- checkout: 20 ms of other work, then the use, 20 clients --------------
log "== checkout: an order of 20 ms with the use last, 20 clients"
q -c "INSERT INTO promo SELECT 'ext', 'own' || n, c FROM generate_series(1, 20) AS n,
		codes.code_gen(1, NULL, NULL, max_uses => 2000000000, max_uses_per_redeemer => 1) AS c"
q -c "INSERT INTO hand_promo SELECT 'own' || n, 0, 2000000000 FROM generate_series(1, 20) AS n"
q -c "INSERT INTO promo SELECT 'hand', 'own' || n, 'own' || n FROM generate_series(1, 20) AS n"
for side in ext hand; do
	for kind in first last own; do
		use=$(use_stmt "$side" ':code')
		[ "$kind" = own ] &&
			use=$(use_stmt "$side" "(SELECT code FROM promo WHERE side = '$side' AND name = 'own' || :client_id + 1)")
		{
			echo '\set k :k + 1'
			echo 'BEGIN;'
			[ "$kind" = last ] || echo "$use"
			echo 'SELECT pg_sleep(0.02);'
			[ "$kind" = last ] && echo "$use"
			echo 'COMMIT;'
		} >"$OUT/checkout_${kind}_$side.pgb"
	done
done
for r in $(seq "$ROUNDS"); do
	for kind in first last own; do
		for side in ext hand; do
			bench_run "$side" 20 "$OUT/checkout_${kind}_$side.pgb" "checkout_$kind"
			F[checkout_${side}_$kind]+=" $TPS"
		done
	done
	log "round $r: shared code, use first: ext ${F[checkout_ext_first]##* } hand ${F[checkout_hand_first]##* }; use last: ext ${F[checkout_ext_last]##* } hand ${F[checkout_hand_last]##* }; a code per client: ext ${F[checkout_ext_own]##* } hand ${F[checkout_hand_own]##* } orders/s"
done

# --- results --------------------------------------------------------------
m() { median ${F[$1]}; }
# field i of a cost figure: side name i
cost() { echo "${F[cost_$1_$2]}" | cut -d ' ' -f "$3"; }
row() { echo "| $1 | $2 | $3 | $(ratio "$2" "$3") |"; }
{
	echo "# Hot promo code benchmark"
	echo
	echo "$DATE; $MACHINE; PostgreSQL $PGV."
	echo "Settings: $SETTINGS; pgbench -M prepared, $DURATION s runs, median of $ROUNDS rounds per figure, sides alternated."
	echo "The code: \`max_uses => 2000000000, max_uses_per_redeemer => 1\`, a new redeemer every call."
	echo
	echo "| $MODE | extension | hand-written | ext/hand |"
	echo "|---|--:|--:|--:|"
	for c in 1 16 32; do
		row "$c client$([ "$c" = 1 ] || echo s), uses/s" "$(m use_ext_$c)" "$(m use_hand_$c)"
	done
	row "$PAST10 uses of one code in one statement, s" "${F[tenth_ext]}" "${F[tenth_hand]}"
	row "$PAST uses of one code in one statement, s" "${F[old_ext]}" "${F[old_hand]}"
	echo "| $PAST uses / $PAST10 uses in one statement (10 if linear) | $(ratio "${F[old_ext]}" "${F[tenth_ext]}") | $(ratio "${F[old_hand]}" "${F[tenth_hand]}") | |"
	row "latency of a use of a fresh code, ms (1 client)" "$(m lat_ext_fresh)" "$(m lat_hand_fresh)"
	row "latency of a use after $PAST past uses, ms" "$(m lat_ext_old)" "$(m lat_hand_old)"
	echo "| after $PAST past uses / fresh | $(ratio "$(m lat_ext_old)" "$(m lat_ext_fresh)") | $(ratio "$(m lat_hand_old)" "$(m lat_hand_fresh)") | |"
	row "checkout (an order of 20 ms, 20 clients), one shared code used first, orders/s" "$(m checkout_ext_first)" "$(m checkout_hand_first)"
	row "checkout, one shared code used last (just before COMMIT), orders/s" "$(m checkout_ext_last)" "$(m checkout_hand_last)"
	row "checkout, a code per client used first, orders/s" "$(m checkout_ext_own)" "$(m checkout_hand_own)"
	echo
	echo "What one use costs ($MODE). WAL per use of a run: the WAL position moved during the 1-client latency runs, divided by the uses (commit records and full page images after the run's checkpoint included); the rest: EXPLAIN (ANALYZE, BUFFERS, WAL, TIMING OFF) of 7 single uses of each code, each by a new redeemer, medians (the statement's own work: no planning, no commit record)."
	echo
	echo "| $MODE | ext, fresh code | ext, after $PAST uses | hand, fresh code | hand, after $PAST uses |"
	echo "|---|--:|--:|--:|--:|"
	echo "| WAL per use of a run, bytes | $(m wal_ext_fresh) | $(m wal_ext_old) | $(m wal_hand_fresh) | $(m wal_hand_old) |"
	echo "| shared buffers hit | $(cost ext fresh 1) | $(cost ext old 1) | $(cost hand fresh 1) | $(cost hand old 1) |"
	echo "| shared buffers read | $(cost ext fresh 2) | $(cost ext old 2) | $(cost hand fresh 2) | $(cost hand old 2) |"
	echo "| shared buffers dirtied | $(cost ext fresh 3) | $(cost ext old 3) | $(cost hand fresh 3) | $(cost hand old 3) |"
	echo "| WAL records | $(cost ext fresh 4) | $(cost ext old 4) | $(cost hand fresh 4) | $(cost hand old 4) |"
	echo "| WAL full page images | $(cost ext fresh 5) | $(cost ext old 5) | $(cost hand fresh 5) | $(cost hand old 5) |"
	echo "| WAL bytes | $(cost ext fresh 6) | $(cost ext old 6) | $(cost hand fresh 6) | $(cost hand old 6) |"
	echo "| execution time, ms (the statement in the server, without its commit) | $(cost ext fresh 7) | $(cost ext old 7) | $(cost hand fresh 7) | $(cost hand old 7) |"
	echo
	echo "Rounds: $(for k in "${!F[@]}"; do echo "$k:${F[$k]}"; done | sort | tr '\n' ';' | sed 's/;/; /g')"
} >"$work/results.md"
exit
}

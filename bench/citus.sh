#!/bin/bash
# bench/citus.sh (bench/run.sh --citus): codes through a Citus coordinator
# against codes on one plain node, in one run on this machine.
#
#   bash bench/run.sh --citus [--quick] [-n N] [-d SECONDS] [-c CLIENTS]
#
# Starts a coordinator and two workers on localhost (scripts/citus_cluster.sh,
# Citus built by scripts/build_citus.sh, codes staged from this tree).  In
# database "postgres" the tables are distributed (codes.distribute()); in
# database "plain", on the same server, codes runs without Citus: the one
# plain node.  For each side: code_gen of N codes (the median of 3), then
# pgbench (prepared, CLIENTS clients) of code_query and of code_use, each
# transaction reading 16 codes from a local table and calling 16 times
# (every use succeeds: each client walks its own codes).  Prints calls per
# second, latency and the ratio citus/plain, and writes them to
# bench/results-citus.md (--quick: bench/out/results-citus-quick.md).
# Every node shares this machine's cores: see docs/scaling-out.md for
# what the ratios mean.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
N=200000 DURATION=10 CLIENTS=8 OUTFILE=$here/results-citus.md
while [ $# -gt 0 ]; do
	case "$1" in
	--citus) ;;
	--quick) N=10000 DURATION=2 OUTFILE=$here/out/results-citus-quick.md ;;
	-n | --codes) N=$2; shift ;;
	-d | --duration) DURATION=$2; shift ;;
	-c | --clients) CLIENTS=$2; shift ;;
	--out) OUTFILE=$2; case $OUTFILE in /*) ;; *) OUTFILE=$PWD/$OUTFILE ;; esac; shift ;;
	*) echo "usage: bash bench/run.sh --citus [--quick] [-n N] [-d S] [-c C] [--out FILE]" >&2; exit 2 ;;
	esac
	shift
done
for v in "$N" "$DURATION" "$CLIENTS"; do
	case "$v" in '' | *[!0-9]* | 0) echo "not a positive integer: '$v'" >&2; exit 2 ;; esac
done

cd "$here/.."
. scripts/common.sh
K=16
work=$(mktemp -d -t codes-bench-citus.XXXXXX)
chmod 755 "$work"
trap 'sh scripts/citus_cluster.sh stop "$work/cluster" >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -p "$here/out" "$(dirname "$OUTFILE")"

sh scripts/build_citus.sh >&2
stage_copy "$work" >/dev/null
sh scripts/citus_cluster.sh start "$work/cluster" "$work/stage" >/dev/null
. "$work/cluster/env"
chmod 777 "$work"

log() { echo "$*" >&2; }
q() { as_tester psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
calc() { awk "BEGIN { printf \"%${2:-.2f}\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

q -c 'CREATE EXTENSION codes' -c 'SELECT codes.distribute()' >/dev/null
q -c 'CREATE DATABASE plain' 2>/dev/null
q -d plain -c 'CREATE EXTENSION codes'

# code_gen of N codes, 3 rounds: median seconds.
declare -A F
for db in plain postgres; do
	times=""
	for r in 1 2 3; do
		ms=$(q -d "$db" -c '\timing on' -c "SELECT count(*) FROM codes.code_gen($N, NULL, NULL, batch => 'gen $r')" |
			awk '/^Time:/ { print $2 }')
		times="$times $(calc "$ms / 1000" .3f)"
	done
	F[gen_$db]=$(median $times)
	log "gen $N on $db: $times s"
done

# The codes pgbench calls: groups of K per row, in a local table.
for db in plain postgres; do
	cols=""
	for i in $(seq $K); do cols="$cols${cols:+, }a[$i] AS c$i"; done
	q -d "$db" -c "CREATE TABLE grp AS SELECT (row_number() OVER () - 1)::integer AS g, $cols
		FROM (SELECT array_agg(c) AS a FROM (SELECT c, (row_number() OVER () - 1) / $K AS b
			FROM codes.code_gen($N, NULL, NULL, batch => 'bench') AS c) s GROUP BY b) t" \
		-c 'CREATE UNIQUE INDEX ON grp (g)' -c 'VACUUM ANALYZE grp'
done
NGROUPS=$((N / K))

# pgbench of op (query, use) on db: calls per second and latency (ms).
run() {
	local op=$1 db=$2 f=$work/$1.pgb out i cols="" tps lat
	for i in $(seq $K); do cols="$cols${cols:+, }c$i"; done
	{
		echo '\set g (:client_id + :nclients * :k) % :ngroups'
		echo '\set k :k + 1'
		echo "SELECT $cols FROM grp WHERE g = :g \\gset"
		for i in $(seq $K); do
			case $op in
			query) echo "SELECT codes.code_query(:c$i);" ;;
			use) echo "SELECT codes.code_use(:c$i, 'pgbench');" ;;
			esac
		done
	} >"$f"
	out=$work/pgbench_${op}_$db.out
	limit="-T $DURATION"
	# uses: never more than the codes, so that every use succeeds
	[ "$op" = use ] && limit="-t $((NGROUPS / CLIENTS))"
	q -d "$db" -c CHECKPOINT
	as_tester pgbench -n -M prepared -r -c "$CLIENTS" -j 2 $limit -d "$db" \
		-D k=0 -D nclients="$CLIENTS" -D ngroups="$NGROUPS" -f "$f" >"$out" 2>&1 ||
		{ cat "$out" >&2; exit 1; }
	grep -q '^number of failed transactions: 0 ' "$out" || { cat "$out" >&2; exit 1; }
	tps=$(awk '/^tps = / { print $3 }' "$out")
	lat=$(awk '/^statement latencies/ { on = 1; next }
		on && $3 != "\\set" && $0 !~ /FROM grp/ { s += $1; n++ }
		END { if (n) printf "%.3f", s / n }' "$out")
	F[${op}_${db}_tps]=$(calc "$tps * $K" .0f)
	F[${op}_${db}_lat]=$lat
	log "$op on $db: ${F[${op}_${db}_tps]} calls/s, $lat ms"
}
for op in query use; do
	run "$op" plain
	run "$op" postgres
done
used=$(q -c "SELECT count(*) FILTER (WHERE uses = 1) || '/' || count(*) FROM codes.batch_codes('bench')")
log "bench batch on Citus after the use run: $used codes used"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
	echo "# codes on Citus: through the coordinator vs one plain node"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM;"
	echo "PostgreSQL $(q -c "SELECT split_part(version(), ' ', 2)"), Citus $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'");"
	echo "a coordinator and two workers on this one machine (shared_buffers 32MB each, fsync off);"
	echo "N = $N codes; pgbench $CLIENTS clients, prepared, ${DURATION} s (use: each code once)."
	echo
	echo "| work | one plain node | Citus (coordinator) | citus/plain |"
	echo "|---|--:|--:|--:|"
	echo "| gen $N codes, s | ${F[gen_plain]} | ${F[gen_postgres]} | $(ratio "${F[gen_postgres]}" "${F[gen_plain]}") (time) |"
	for op in query use; do
		echo "| $op, calls/s | ${F[${op}_plain_tps]} | ${F[${op}_postgres_tps]} | $(ratio "${F[${op}_postgres_tps]}" "${F[${op}_plain_tps]}") |"
		echo "| $op, ms per call | ${F[${op}_plain_lat]} | ${F[${op}_postgres_lat]} | |"
	done
} | tee "$OUTFILE"

#!/bin/sh
# Build codes with debugging information and run the pg_regress suite and
# the isolation specs once against a server running under Valgrind's
# memcheck; then report every error whose stack passes through codes.so.
# Exits non-zero when there is one, or when the run itself fails.
#
# Debian's server is not built with USE_VALGRIND, so memcheck does not know
# palloc's memory contexts: it cannot see a read past the end of a palloc'd
# chunk that stays inside the context's block, nor a use after pfree.  It
# does see reads of uninitialised memory (in codes.so too), reads and writes
# outside any malloc'd block, and bad arguments to system calls.  Without
# USE_VALGRIND the server itself reports some errors of its own (such as
# uninitialised padding bytes it writes out); those are counted and listed
# by function, but only errors with a frame in codes.so make this fail.
# Slow: about 20 times slower than without Valgrind.  CODES_KEEP=1 keeps
# the temporary directory with Valgrind's logs (valgrind/PID.log).
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

sh scripts/deps.sh valgrind || exit 1

work=$(mktemp -d -t codes-valgrind.XXXXXX)
bindir=$(pg_config --bindir)
port=$(free_port) || exit 1

cleanup() {
	[ -f "$work/data/postmaster.pid" ] &&
		as_tester "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
	[ -n "${CODES_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

stage_copy "$work" COPT='-Og -g' || exit 1
cd "$work" || exit 1
as_tester mkdir valgrind

as_tester "$bindir/initdb" -D data -A trust -N --locale=C.UTF-8 --encoding=UTF8 >/dev/null || exit 1
cat >>data/postgresql.conf <<EOF
extension_destdir = '$work/stage'
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
fsync = off
autovacuum = off
max_connections = 20
EOF

# The postmaster's children are forks, so memcheck follows them;
# --trace-children also follows anything the server execs.
as_tester valgrind --quiet --trace-children=yes --track-origins=yes \
	--num-callers=40 --leak-check=no \
	--error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END \
	--log-file="$work/valgrind/%p.log" \
	"$bindir/postgres" -D "$work/data" >server.log 2>&1 &
server=$!

tries=0
until "$bindir/pg_isready" -q -h "$work" -p "$port"; do
	tries=$((tries + 1))
	if [ $tries -gt 300 ] || ! kill -0 $server 2>/dev/null; then
		cat server.log
		echo "valgrind: the server did not start"
		exit 1
	fi
	sleep 1
done

start=$(date +%s)
as_tester env PGHOST="$work" PGPORT="$port" make -s installcheck ISOLATION= TAP_TESTS= >regress.log 2>&1 ||
	cat regression.diffs
as_tester env PGHOST="$work" PGPORT="$port" make -s installcheck REGRESS= TAP_TESTS= >>regress.log 2>&1 ||
	cat output_iso/regression.diffs
grep -E '^test |\.\.\. |tests (passed|failed)' regress.log
as_tester "$bindir/pg_ctl" -D data -m fast -w -t 600 stop >/dev/null || exit 1
echo "valgrind: tests ran in $(($(date +%s) - start)) s"

# One error per block between the markers; an error is the extension's
# when a frame of its stack is in codes.so or in one of its source files.
awk '
	/VALGRINDERROR-BEGIN/ { inside = 1; block = ""; ours = 0; what = ""; where = ""; next }
	/VALGRINDERROR-END/ {
		inside = 0
		if (ours) { nours++; print block > "ours.txt" }
		else { nother++; others[what " in " where]++ }
		next
	}
	inside {
		sub(/^==[0-9]+== /, "")
		block = block $0 "\n"
		if (what == "") {
			what = $0
			gsub(/\(0x[0-9A-Fa-f]+, 0x[0-9A-Fa-f]+, /, "(", what)
		}
		# the first named frame in the server or in codes.so
		if (where == "" && $0 ~ /\(in \/usr\/lib\/postgresql|codes\.so|\((codes|code_gen|store|store_direct|tables|searchpath|gen|gen_chunk|gen_insert|lookup|batch|keys|brake|progress|text|citus|plans)\.c:[0-9]+\)/ &&
			$0 !~ /: \?\?\? / && $0 ~ /^ *(at|by) /) {
			where = $0
			sub(/^ *(at|by) 0x[0-9A-F]+: /, "", where)
			sub(/ \(.*$/, "", where)
		}
		if ($0 ~ /codes\.so|\((codes|code_gen|store|store_direct|tables|searchpath|gen|gen_chunk|gen_insert|lookup|batch|keys|brake|progress|text|citus|plans)\.c:[0-9]+\)/) ours = 1
	}
	END {
		printf "valgrind: %d errors with a frame in codes.so, %d in the server alone\n", nours, nother
		for (k in others) printf "  server: %d x %s\n", others[k], k
	}' valgrind/*.log

if [ -s ours.txt ]; then
	cat ours.txt
	exit 1
fi

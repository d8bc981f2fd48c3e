#!/bin/sh
# Find a source tarball that a test builds but the repository does not
# hold (PostgreSQL 18's for scripts/build_pg.sh, Citus's for
# scripts/build_citus.sh), check it against the SHA-256 that
# scripts/sources.txt lists for it, and print its path.  Looks, in order:
#   1. in the cache, CACHE/src/NAME (CACHE as for scripts/build_pg.sh:
#      $CODES_PG_CACHE, else /var/cache/codes-pg as root), where a
#      download is kept;
#   2. in the vendor directory next to the clone, ../shared/vendor/NAME
#      ($CODES_VENDOR_DIR names another);
#   3. at the official release URL that scripts/sources.txt lists (or
#      $CODES_SOURCES_URL/NAME, a mirror), downloaded with curl into the
#      cache.
# A copy whose SHA-256 differs is never used, and a download that differs
# is not kept.  When none of the three gives the file, exits 3 and says
# why on stderr, in one line: its caller reports the test that needed it
# as skipped, with that reason.  Other errors exit 1.
#
#   sh scripts/source.sh NAME        # NAME as in scripts/sources.txt
#
# CODES_SOURCES_LIST names another list than scripts/sources.txt (the test
# of this script, sql_tests/sources.sh, uses one of its own).
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

if [ $# -ne 1 ]; then
	echo "usage: sh scripts/source.sh NAME" >&2
	exit 2
fi
name=$1
list=${CODES_SOURCES_LIST:-scripts/sources.txt}
entry=$(awk -v n="$name" '!/^#/ && $1 == n { print $2, $3 }' "$list") || exit 1
if [ -z "$entry" ]; then
	echo "source: $name is not in $list" >&2
	exit 1
fi
sum=${entry%% *}
url=${entry#* }
if [ -n "${CODES_SOURCES_URL:-}" ]; then
	url=${CODES_SOURCES_URL%/}/$name
fi
cache=$(codes_cache)/src
vendor=${CODES_VENDOR_DIR:-$(cd .. && pwd)/shared/vendor}

# Whether file $1 has the SHA-256 the list gives.
good() {
	[ "$(sha256sum "$1" 2>/dev/null | cut -d' ' -f1)" = "$sum" ]
}

why=""
for f in "$cache/$name" "$vendor/$name"; do
	if [ ! -f "$f" ]; then
		why="$why, not in $(dirname "$f")"
	elif good "$f"; then
		echo "$f"
		exit 0
	else
		echo "source: $f has another SHA-256 than $list gives: not used" >&2
		why="$why, $f has another SHA-256"
	fi
done

if ! command -v curl >/dev/null 2>&1; then
	why="$why, no curl to download $url"
elif ! mkdir -p "$cache" 2>/dev/null; then
	why="$why, cannot create $cache to download into"
else
	part=$cache/$name.part.$$
	echo "source: downloading $url" >&2
	if curl -fsSL --connect-timeout 20 --retry 2 --max-time 900 -o "$part" "$url" 2>"$part.err"; then
		if good "$part" && mv -f "$part" "$cache/$name"; then
			rm -f "$part.err"
			echo "source: downloaded $name into $cache, SHA-256 checked" >&2
			echo "$cache/$name"
			exit 0
		fi
		why="$why, $url gave a file with another SHA-256"
	else
		why="$why, $url: $(tail -n 1 "$part.err")"
	fi
	rm -f "$part" "$part.err"
fi
echo "no source $name:${why#,}" >&2
exit 3

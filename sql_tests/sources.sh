#!/bin/sh
# Sources that the repository does not hold (scripts/source.sh): each
# place is tried in order and every copy is checked, and a test with no
# source is skipped, not failed.  With a list of its own (a small tarball
# made here, served by a local HTTP server standing in for the official
# URL, as this machine may reach no other), checks that:
#   - with nothing anywhere (empty cache, no vendor directory, the URL
#     refusing), source.sh exits 3 and names each place it tried;
#   - a good copy in the vendor directory is used as it is;
#   - a vendored copy with another SHA-256 is not used: the file is
#     downloaded instead, checked and kept in the cache, where the next
#     call finds it with the URL down;
#   - a download with another SHA-256 is refused (exit 3) and not kept;
# and, with the real list: every entry has a SHA-256 and an https URL,
# the tarballs in ../shared/vendor (where it exists) have the SHA-256 the
# list gives, and scripts/build_pg.sh, scripts/build_citus.sh (as root)
# and scripts/pg17_root.sh (as root) exit 3 with the reason when nothing is
# cached and no source or mirror can be reached.  Needs no cluster; prints
# a pg_regress-style result line.
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

work=$(mktemp -d -t codes-sources.XXXXXX)
# run() runs in a subshell: the HTTP server's pid is kept in a file, so
# that the cleanup, here, can stop it
cleanup() {
	[ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAILED: $*"
	exit 1
}

# source.sh with the test's list, cache and vendor directory; its stdout
# in $work/out, stderr in $work/err, exit status in $rc.
src() {
	rc=0
	env CODES_SOURCES_LIST="$work/list" CODES_PG_CACHE="$work/cache" \
		CODES_VENDOR_DIR="$work/vendor" CODES_SOURCES_URL="$1" \
		sh scripts/source.sh demo-1.0.tar.gz >"$work/out" 2>"$work/err" || rc=$?
}

run() {
	# a small tarball, its SHA-256 in a list, and a bad copy of it
	mkdir -p "$work/demo-1.0" "$work/good" "$work/bad" "$work/vendor"
	echo "demo" >"$work/demo-1.0/README"
	tar -czf "$work/good/demo-1.0.tar.gz" -C "$work" demo-1.0
	cp "$work/good/demo-1.0.tar.gz" "$work/bad/demo-1.0.tar.gz"
	echo "tampered" >>"$work/bad/demo-1.0.tar.gz"
	sum=$(sha256sum "$work/good/demo-1.0.tar.gz" | cut -d' ' -f1)
	echo "demo-1.0.tar.gz $sum https://example.org/demo-1.0.tar.gz" >"$work/list"

	down=http://127.0.0.1:$(free_port)
	port=$(free_port)
	(cd "$work" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$port") \
		>"$work/http.log" 2>&1 &
	echo $! >"$work/server.pid"
	up=http://127.0.0.1:$port
	i=0
	until curl -fsS -o /dev/null "$up/good/demo-1.0.tar.gz" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 50 ] || fail "the local HTTP server did not start"
		sleep 0.1
	done

	# nothing anywhere
	rmdir "$work/vendor"
	src "$down"
	echo "nothing: exit $rc: $(cat "$work/err")"
	[ $rc -eq 3 ] || fail "exit $rc, not 3, with no source anywhere"
	for place in "not in $work/cache/src" "not in $work/vendor" "$down/demo-1.0.tar.gz: curl: "; do
		grep -qF "$place" "$work/err" || fail "the reason does not say: $place"
	done

	# a good vendored copy
	mkdir "$work/vendor"
	cp "$work/good/demo-1.0.tar.gz" "$work/vendor/"
	src "$down"
	[ $rc -eq 0 ] && [ "$(cat "$work/out")" = "$work/vendor/demo-1.0.tar.gz" ] ||
		fail "the vendored copy was not used: exit $rc, $(cat "$work/out" "$work/err")"

	# a bad vendored copy: downloaded instead, and kept
	cp "$work/bad/demo-1.0.tar.gz" "$work/vendor/"
	src "$up/good"
	echo "bad vendored copy: exit $rc: $(tr '\n' ' ' <"$work/err")"
	[ $rc -eq 0 ] && [ "$(cat "$work/out")" = "$work/cache/src/demo-1.0.tar.gz" ] ||
		fail "not downloaded into the cache: exit $rc, $(cat "$work/out" "$work/err")"
	grep -q "vendor/demo-1.0.tar.gz has another SHA-256" "$work/err" ||
		fail "the bad vendored copy was not reported"
	cmp -s "$work/cache/src/demo-1.0.tar.gz" "$work/good/demo-1.0.tar.gz" ||
		fail "the cache holds another file than the one served"
	src "$down"
	[ $rc -eq 0 ] && [ "$(cat "$work/out")" = "$work/cache/src/demo-1.0.tar.gz" ] ||
		fail "the cached download was not found: exit $rc, $(cat "$work/out" "$work/err")"

	# a bad download: refused, not kept
	rm -rf "$work/cache" "$work/vendor"
	src "$up/bad"
	echo "bad download: exit $rc: $(tail -n 1 "$work/err")"
	[ $rc -eq 3 ] || fail "a download with another SHA-256: exit $rc, not 3"
	grep -qF "$up/bad/demo-1.0.tar.gz gave a file with another SHA-256" "$work/err" ||
		fail "the reason does not say the download had another SHA-256"
	[ -z "$(ls -A "$work/cache/src")" ] || fail "the bad download was kept: $(ls "$work/cache/src")"

	# the real list
	awk '!/^#/ && NF' scripts/sources.txt | while read -r name sha url; do
		echo "$sha" | grep -qE '^[0-9a-f]{64}$' || fail "scripts/sources.txt: $name: no SHA-256"
		case $url in
		https://*/"$name" | https://github.com/*/archive/refs/tags/*) ;;
		*) fail "scripts/sources.txt: $name: $url is not an https URL of it" ;;
		esac
		if [ -f "../shared/vendor/$name" ]; then
			[ "$(sha256sum "../shared/vendor/$name" | cut -d' ' -f1)" = "$sha" ] ||
				fail "../shared/vendor/$name has another SHA-256 than scripts/sources.txt gives"
			echo "../shared/vendor/$name: SHA-256 as listed"
		fi
	done || exit 1

	# the builds, with nothing cached and nothing reachable
	for cmd in "scripts/build_pg.sh 18.6" scripts/build_citus.sh scripts/pg17_root.sh; do
		if [ "$(id -u)" -ne 0 ] && [ "$cmd" != "scripts/build_pg.sh 18.6" ]; then
			continue
		fi
		rc=0
		# shellcheck disable=SC2086
		env CODES_PG_CACHE="$work/empty" CODES_VENDOR_DIR="$work/none" CODES_SOURCES_URL="$down" \
			CODES_DEBIAN_MIRROR="$down/debian" sh $cmd >"$work/out" 2>"$work/err" || rc=$?
		echo "$cmd: exit $rc: $(tail -n 1 "$work/err")"
		[ $rc -eq 3 ] || fail "$cmd: exit $rc, not 3, with nothing cached or reachable"
		[ ! -s "$work/out" ] || fail "$cmd printed a path: $(cat "$work/out")"
	done
}

if (run) >"$work/log" 2>&1; then
	[ -n "${CODES_VERBOSE:-}" ] && cat "$work/log"
	echo "test sources                       ... ok"
else
	cat "$work/log"
	echo "test sources                       ... FAILED"
fi

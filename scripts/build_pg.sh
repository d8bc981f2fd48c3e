#!/bin/sh
# Build a PostgreSQL release from its upstream source tarball into a prefix
# of its own, in a cache directory outside the clone, and print the path of
# its pg_config.  A second run finds the cache (a stamp file and a pg_config
# that reports the version) and builds nothing.  Prints how long it took
# (on stderr, like every other message, so that stdout is only the path).
#
#   sh scripts/build_pg.sh [VERSION]        # VERSION defaults to 18.6
#
# Environment:
#   CODES_PG_CACHE    cache directory; default /var/cache/codes-pg as root,
#                     else ${XDG_CACHE_HOME:-$HOME/.cache}/codes-pg.  The
#                     prefix is $CODES_PG_CACHE/VERSION.
#   CODES_PG_TARBALL  the source tarball, used as it is; by default
#                     scripts/source.sh finds postgresql-VERSION.tar.bz2
#                     (the cache, ../shared/vendor, or the download from
#                     ftp.postgresql.org) and checks its SHA-256.
#   CODES_PG_JOBS     make -j; default 2.
#
# Exits 3 when no build is cached and no source can be found (the reason
# on stderr, from scripts/source.sh): scripts/test.sh then reports the
# tests on that version as skipped.
#
# As root, installs the build dependencies with apt (bison and flex: the
# tarball has no generated parser files).  Configured with
# --enable-tap-tests (PostgreSQL::Test::Cluster goes to
# lib/pgxs/src/test/perl), --with-openssl and --without-icu; contrib is
# installed too (amcheck, pgcrypto...).
set -eu
cd "$(dirname "$0")/.."
. scripts/common.sh

ver=${1:-18.6}
cache=$(codes_cache)
prefix=$cache/$ver
stamp=$prefix/.codes-built
jobs=${CODES_PG_JOBS:-2}

cached() {
	[ -f "$stamp" ] && [ -x "$prefix/bin/pg_config" ] &&
		[ "$("$prefix/bin/pg_config" --version)" = "PostgreSQL $ver" ]
}

start=$(date +%s)
mkdir -p "$cache"
# One build at a time: a second run waits for the first and then reuses it.
exec 9>"$cache/.lock-$ver"
flock 9

if cached; then
	echo "build_pg: PostgreSQL $ver from the cache $prefix ($(($(date +%s) - start)) s)" >&2
	echo "$prefix/bin/pg_config"
	exit 0
fi

if [ -n "${CODES_PG_TARBALL:-}" ]; then
	tarball=$CODES_PG_TARBALL
	if [ ! -f "$tarball" ]; then
		echo "build_pg: no source tarball $tarball (CODES_PG_TARBALL)" >&2
		exit 1
	fi
else
	rc=0
	tarball=$(sh scripts/source.sh "postgresql-$ver.tar.bz2") || rc=$?
	[ "$rc" -eq 0 ] || exit "$rc"
fi

if [ "$(id -u)" -eq 0 ]; then
	need=""
	for pkg in bison flex gcc make perl libssl-dev libreadline-dev zlib1g-dev \
		pkg-config libipc-run-perl bzip2; do
		dpkg-query -W -f '${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' ||
			need="$need $pkg"
	done
	if [ -n "$need" ]; then
		echo "build_pg: installing:$need" >&2
		apt-get -o DPkg::Lock::Timeout=600 update -qq
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $need >/dev/null
	fi
fi

echo "build_pg: building PostgreSQL $ver into $prefix (make -j$jobs; several minutes)" >&2
rm -rf "$prefix" "$cache/build-$ver"
mkdir -p "$cache/build-$ver"
tar -xjf "$tarball" -C "$cache/build-$ver"
src=$cache/build-$ver/postgresql-$ver
blog=$cache/build-$ver.log
(
	cd "$src"
	./configure --prefix="$prefix" --enable-tap-tests --with-openssl --without-icu
	make -j"$jobs"
	make install
	make -C contrib -j"$jobs"
	make -C contrib install
) >"$blog" 2>&1 || {
	tail -n 40 "$blog" >&2
	echo "build_pg: the build failed; the whole log is $blog" >&2
	exit 1
}
rm -rf "$cache/build-$ver"
touch "$stamp"
if ! cached; then
	echo "build_pg: $prefix/bin/pg_config does not report PostgreSQL $ver" >&2
	exit 1
fi
echo "build_pg: built PostgreSQL $ver into $prefix in $(($(date +%s) - start)) s" >&2
echo "$prefix/bin/pg_config"

#!/bin/sh
# Build Citus 13.2.2 for the system's PostgreSQL 15 (Debian 12's packages)
# from the vendored, unmodified upstream tarball, with this tree's patch for
# PostgreSQL 15.20 (scripts/patches/citus-13.2.2-pg15.20.patch, see its
# header), and install it into the system's PostgreSQL 15, so that a
# cluster can preload it (scripts/citus_cluster.sh).  Run as root.
#
#   sh scripts/build_citus.sh
#
# The build is staged ("make install DESTDIR=") in a cache directory outside
# the clone, $CODES_PG_CACHE/citus-13.2.2/stage, with a stamp holding the
# checksums of the tarball and the patch and the version of pg_config.  A
# second run finds the stamp, builds nothing and only copies into the
# system what differs from the stage (nothing, usually): it takes a second.
# A file is replaced by a new one (rename), never rewritten in place, so
# that a running server that has citus.so mapped is not disturbed.  The
# build's log is $CODES_PG_CACHE/citus-13.2.2/build.log.  Prints how long it
# took.
#
# Environment:
#   CODES_PG_CACHE        cache directory; default /var/cache/codes-pg.
#   CODES_CITUS_TARBALL   the source tarball, used as it is; by default
#                         scripts/source.sh finds citus-13.2.2.tar.gz (the
#                         cache, ../shared/vendor, or the download from
#                         GitHub) and checks its SHA-256.
#   CODES_PG_JOBS         make -j; default 2.
#
# Exits 3 when no build is cached and no source can be found (the reason
# on stderr, from scripts/source.sh): the Citus tests then report
# themselves skipped.
#
# Installs the build dependencies with apt if they are missing (lz4, zstd
# and Kerberos headers; PostgreSQL 15's server headers come from
# scripts/deps.sh).  Configured --without-libcurl (no usage reports) and
# built with_llvm=no (no JIT bitcode: 40 s instead of 115 s).
set -eu
cd "$(dirname "$0")/.."

ver=13.2.2
cache=${CODES_PG_CACHE:-/var/cache/codes-pg}/citus-$ver
stage=$cache/stage
stamp=$cache/.codes-built
blog=$cache/build.log
tarball=${CODES_CITUS_TARBALL:-}
patchfile=$(pwd)/scripts/patches/citus-$ver-pg15.20.patch
jobs=${CODES_PG_JOBS:-2}
pg_config=/usr/lib/postgresql/15/bin/pg_config

if [ "$(id -u)" -ne 0 ]; then
	echo "build_citus: run as root (it installs into the system's PostgreSQL 15)" >&2
	exit 1
fi
for f in ${tarball:+"$tarball"} "$patchfile" "$pg_config"; do
	if [ ! -f "$f" ]; then
		echo "build_citus: no $f (CODES_CITUS_TARBALL names the tarball; scripts/deps.sh installs PostgreSQL 15)" >&2
		exit 1
	fi
done

start=$(date +%s)
mkdir -p "$cache"
# One build at a time: a second run waits for the first and then reuses it.
exec 9>"$cache/.lock"
flock 9

# What the stage was built from: a change to any of these rebuilds it.
# The tarball's SHA-256 is the one scripts/sources.txt lists (source.sh
# checks every copy against it), so that a cached build needs no tarball.
if [ -n "$tarball" ]; then
	tarsum=$(sha256sum "$tarball" | cut -d' ' -f1)
else
	tarsum=$(awk -v n="citus-$ver.tar.gz" '!/^#/ && $1 == n { print $2 }' scripts/sources.txt)
fi
want=$(
	echo "$tarsum"
	sha256sum "$patchfile" | cut -d' ' -f1
	"$pg_config" --version
)

# Copy every file of the stage that the system lacks or has otherwise to
# the same path under /; print how many were copied.
install_stage() {
	n=0
	for f in $(cd "$stage" && find . -type f | sort); do
		f=${f#./}
		if ! cmp -s "$stage/$f" "/$f"; then
			mkdir -p "$(dirname "/$f")"
			cp -p "$stage/$f" "/$f.codes-new.$$"
			mv -f "/$f.codes-new.$$" "/$f"
			n=$((n + 1))
		fi
	done
	echo "$n"
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$stage" ]; then
	n=$(install_stage)
	echo "build_citus: Citus $ver from the cache $stage, $n files installed ($(($(date +%s) - start)) s)" >&2
	exit 0
fi

if [ -z "$tarball" ]; then
	rc=0
	tarball=$(sh scripts/source.sh "citus-$ver.tar.gz") || rc=$?
	[ "$rc" -eq 0 ] || exit "$rc"
fi

need=""
for pkg in liblz4-dev libzstd-dev libkrb5-dev postgresql-server-dev-15 gcc make patch; do
	dpkg-query -W -f '${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' ||
		need="$need $pkg"
done
if [ -n "$need" ]; then
	echo "build_citus: installing:$need" >&2
	# apt-get update only when apt knows none of the packages yet.
	# shellcheck disable=SC2086
	apt-cache show $need >/dev/null 2>&1 ||
		apt-get -o DPkg::Lock::Timeout=600 update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $need >/dev/null
fi

echo "build_citus: building Citus $ver for PostgreSQL 15 into $stage (make -j$jobs; about a minute)" >&2
rm -rf "$stage" "$stamp" "$cache/build"
mkdir -p "$cache/build"
tar -xzf "$tarball" -C "$cache/build"
src=$cache/build/citus-$ver
(
	cd "$src"
	patch -p1 <"$patchfile"
	./configure PG_CONFIG="$pg_config" --without-libcurl
	make -j"$jobs" with_llvm=no
	make install with_llvm=no DESTDIR="$stage"
) >"$blog" 2>&1 || {
	tail -n 40 "$blog" >&2
	echo "build_citus: the build failed; the whole log is $blog" >&2
	exit 1
}
rm -rf "$cache/build"
if [ ! -f "$stage$("$pg_config" --pkglibdir)/citus.so" ]; then
	echo "build_citus: the build staged no citus.so; the log is $blog" >&2
	exit 1
fi
echo "$want" >"$stamp"
n=$(install_stage)
echo "build_citus: built Citus $ver into $stage and installed $n files in $(($(date +%s) - start)) s" >&2

#!/bin/sh
# Make a Debian 13 (trixie) root with PostgreSQL 17 from Debian's own
# packages, in the cache outside the clone, and print its path: the tests
# on 17 build and run codes inside it (scripts/test.sh, test_17), as
# Debian 12 has no PostgreSQL 17 and Debian 13's binaries need its C
# library.  A second run finds the root (a stamp file that names the
# packages, and 17's pg_config) and does nothing.  Run as root.
#
#   sh scripts/pg17_root.sh
#
# The root is CACHE/trixie-pg17 (CACHE as for scripts/build_pg.sh:
# $CODES_PG_CACHE, else /var/cache/codes-pg), made by
#   debootstrap --variant=minbase trixie DIR http://deb.debian.org/debian
# ($CODES_DEBIAN_MIRROR names another mirror; about 2 minutes), then apt
# in the root installs postgresql-17 and postgresql-server-dev-17 with
# what the tests use there (gcc, make, uuid-dev, IPC::Run, python3 and
# psycopg, Hypothesis, node), from trixie and trixie-security; when the list of
# packages changes, a root made before gets the new ones with apt.  No cluster is made there
# (create_main_cluster = false) and no service started (policy-rc.d).
# Everything runs in a mount namespace of its own (in_root in
# scripts/common.sh), so nothing stays mounted.  The root is made beside
# its final place and renamed into it only once complete.  Prints how long
# it took on stderr.
#
# Exits 3 (the reason on stderr) when the root is not cached and Debian's
# mirror cannot be reached: scripts/test.sh then reports the tests on 17
# as skipped.
set -eu
cd "$(dirname "$0")/.."
. scripts/common.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "pg17_root: run as root (debootstrap and chroot)" >&2
	exit 1
fi
cache=$(codes_cache)
root=$cache/trixie-pg17
stamp=$root/.codes-built
mirror=${CODES_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages="postgresql-17 postgresql-server-dev-17 gcc make libc6-dev uuid-dev libssl-dev
	libipc-run-perl python3 python3-psycopg python3-hypothesis nodejs"
want=$(echo "trixie" $packages)

cached() {
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
		[ -x "$root/usr/lib/postgresql/17/bin/pg_config" ]
}

start=$(date +%s)
mkdir -p "$cache"
# One at a time: a second run waits for the first and then reuses its root.
exec 9>"$cache/.lock-trixie-pg17"
flock 9

if cached; then
	echo "pg17_root: PostgreSQL 17 in the Debian 13 root $root, from the cache ($(($(date +%s) - start)) s)" >&2
	echo "$root"
	exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
	echo "pg17_root: no debootstrap (scripts/deps.sh installs it)" >&2
	exit 1
fi
# Debian's mirror, reachable?
if ! curl -fsS --connect-timeout 20 -o /dev/null "$mirror/dists/trixie/Release" 2>"$cache/.trixie-pg17.err"; then
	echo "no Debian 13 root for PostgreSQL 17: $mirror: $(tail -n 1 "$cache/.trixie-pg17.err")" >&2
	rm -f "$cache/.trixie-pg17.err"
	exit 3
fi
rm -f "$cache/.trixie-pg17.err"

blog=$cache/trixie-pg17.log
# A root made with fewer packages: install the others into it.
if [ -f "$stamp" ] && [ -x "$root/usr/lib/postgresql/17/bin/pg_config" ]; then
	echo "pg17_root: installing into $root:" $packages >&2
	{
		in_root "$root" apt-get -q update
		# shellcheck disable=SC2086
		in_root "$root" env DEBIAN_FRONTEND=noninteractive \
			apt-get -q install -y --no-install-recommends $packages
		in_root "$root" apt-get clean
		rm -rf "$root/var/lib/apt/lists/"*
	} >"$blog" 2>&1 || {
		tail -n 30 "$blog" >&2
		echo "pg17_root: installing into the root failed; the whole log is $blog" >&2
		exit 1
	}
	echo "$want" >"$stamp"
	echo "pg17_root: PostgreSQL 17 in the Debian 13 root $root, with new packages in $(($(date +%s) - start)) s" >&2
	echo "$root"
	exit 0
fi

new=$root.new
rm -rf "$new"
echo "pg17_root: debootstrap of Debian 13 into $root and apt-get install of PostgreSQL 17 (a few minutes)" >&2
{
	unshare --mount --propagation private \
		debootstrap --variant=minbase trixie "$new" "$mirror"
	cat >"$new/etc/apt/sources.list" <<-SOURCES
		deb $mirror trixie main
		deb ${mirror%/debian}/debian-security trixie-security main
	SOURCES
	printf '#!/bin/sh\n# scripts/pg17_root.sh: no service starts in this root\nexit 101\n' \
		>"$new/usr/sbin/policy-rc.d"
	chmod 755 "$new/usr/sbin/policy-rc.d"
	mkdir -p "$new/etc/postgresql-common"
	echo "create_main_cluster = false" >"$new/etc/postgresql-common/createcluster.conf"
	in_root "$new" apt-get -q update
	# shellcheck disable=SC2086
	in_root "$new" env DEBIAN_FRONTEND=noninteractive \
		apt-get -q install -y --no-install-recommends $packages
	in_root "$new" apt-get clean
	rm -rf "$new/var/lib/apt/lists/"*
	in_root "$new" /usr/lib/postgresql/17/bin/pg_config --version
} >"$blog" 2>&1 || {
	tail -n 30 "$blog" >&2
	echo "pg17_root: making the root failed; the whole log is $blog" >&2
	exit 1
}
echo "$want" >"$new/.codes-built"
rm -rf "$root"
mv "$new" "$root"
echo "pg17_root: made the Debian 13 root $root with $(tail -n 1 "$blog") in $(($(date +%s) - start)) s" >&2
echo "$root"

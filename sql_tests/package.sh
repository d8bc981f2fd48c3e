#!/bin/sh
# The Debian package: build it as the README says, with exactly
# "dpkg-buildpackage -us -uc -b" (which runs its build-time check, and
# refuses to build when debian/control is not what debian/control.in
# makes: sql_tests/meta.sh checks that too) in a temporary copy of the
# tree, check that the README's "apt-get install ../....deb" names the
# package it built, check the .deb with lintian (errors and warnings fail, after
# debian/lintian-overrides), install it with apt-get install ./....deb,
# run the regression suite against the installed package in throwaway
# clusters (debian/tests/installcheck, the autopkgtest: pg_regress and the
# isolation specs, with codes preloaded and a key file), and purge it
# again, also when something failed.  Needs root (apt-get); the suite runs
# as postgres.  A codes installed from source (make install) is put back
# afterwards; an installed postgresql-NN-codes package is left alone, and
# the test fails.  Prints a pg_regress-style result line with the time it
# took, and everything it did when it fails or PACKAGE_VERBOSE=1.
set -u
cd "$(dirname "$0")/.."
. scripts/common.sh

work=$(mktemp -d -t codes-package.XXXXXX)
log=$work/log
installed=""
backup=""

cleanup() {
	if [ -n "$installed" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $installed >>"$log" 2>&1 ||
			echo "could not purge$installed" >&2
	fi
	if [ -n "$backup" ]; then
		tar -xPf "$backup" || echo "could not restore the codes installed from source" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

run() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "sql_tests/package.sh installs a package: run it as root"
		return 1
	fi
	have=$(dpkg-query -W -f '${db:Status-Status} ${Package}\n' 'postgresql-*-codes' 2>/dev/null |
		   sed -n 's/^installed //p')
	if [ -n "$have" ]; then
		echo "already installed, left alone:" $have
		return 1
	fi

	# Files of a "make install" would be overwritten by the package and
	# removed by the purge: keep them to put back.
	share=$(pg_config --sharedir) lib=$(pg_config --pkglibdir)
	set -- $(ls -d "$share"/extension/codes.control "$share"/extension/codes--*.sql \
				 "$lib"/codes.so "$lib"/bitcode/codes.index.bc "$lib"/bitcode/codes 2>/dev/null)
	if [ "$#" -gt 0 ]; then
		backup=$work/make-install.tar
		tar -cPf "$backup" "$@" || return 1
	fi

	# The server (postgres) reads the build's files and the suite writes
	# its results in the copy.
	chmod 755 "$work"
	mkdir "$work/codes"
	tar --exclude=.git -cf - . | tar -xf - -C "$work/codes" || return 1
	started=$(date +%s)
	# the README's command, verbatim
	(cd "$work/codes" && dpkg-buildpackage -us -uc -b) || return 1
	built=$(date +%s)
	echo "built in $((built - started)) s:" "$work"/*.deb
	# the README's install line names the package just built
	readme_deb=$(sed -n 's|^apt-get install \(\.\./[^ ]*\.deb\).*|\1|p' README.md | head -n 1)
	if [ -z "$readme_deb" ]; then
		echo "README.md shows no line apt-get install ../....deb"
		return 1
	elif [ ! -f "$work/codes/$readme_deb" ]; then
		echo "README.md says apt-get install $readme_deb, but the build made" "$work"/*.deb
		return 1
	fi

	debs=$(ls "$work"/postgresql-[0-9]*-codes_*.deb | grep -v -- -dbgsym_)
	[ -n "$debs" ] || return 1
	for deb in $debs; do
		dpkg-deb -c "$deb"
		# errors and warnings fail; overridden tags are shown, with the
		# reasons in debian/lintian-overrides (lintian --fail-on counts
		# shown overrides as failures, so its output is read instead)
		as_tester lintian --pedantic --show-overrides "$deb" >"$work/lintian" 2>&1
		cat "$work/lintian"
		if grep -q '^[EW]: ' "$work/lintian"; then
			return 1
		fi
	done

	for deb in $debs; do
		installed="$installed $(dpkg-deb -f "$deb" Package)"
	done
	# ./ tells apt-get these are files
	(cd "$work" && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$(for deb in $debs; do echo "./$(basename "$deb")"; done)) || return 1

	chown -R postgres: "$work/codes"
	(cd "$work/codes" && as_tester env PGPORT="$(free_port)" sh debian/tests/installcheck) ||
		return 1
	echo "installed and tested in $(($(date +%s) - built)) s"
}

start=$(date +%s)
if run >>"$log" 2>&1; then
	[ -n "${PACKAGE_VERBOSE:-}" ] && sed 's/^/package: /' "$log"
	printf 'test package                       ... ok %8s ms\n' "$(($(date +%s) - start))000"
else
	# prefixed, so that the suite's own result lines are not counted
	sed 's/^/package: /' "$log"
	echo "test package                       ... FAILED"
	exit 1
fi

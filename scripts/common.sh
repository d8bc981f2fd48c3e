# Shell functions that scripts/test.sh and scripts/valgrind.sh share.
# Source it from the top of the tree: . scripts/common.sh

# Copy the tree (without .git) into directory $1, which must exist, build
# it there, and stage the build in $1/stage with "make install DESTDIR=": the system's
# installation is left alone, and a cluster loads the extension from the
# stage when it has extension_destdir = '$1/stage' (a Debian setting).
# Extra arguments go to make.  As root, the copy then belongs to postgres,
# so that as_tester can run initdb in it.
stage_copy() {
	dir=$1
	shift
	tar --exclude=.git -cf - . | tar -xf - -C "$dir" || return 1
	make -s -C "$dir" clean
	make -s -C "$dir" "$@" >/dev/null || return 1
	make -s -C "$dir" "$@" install DESTDIR="$dir/stage" >/dev/null || return 1
	echo "extension_destdir = '$dir/stage'" >"$dir/stage.conf"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$dir" || return 1
	fi
}

# Run a command as the user the tests run as: postgres when we are root
# (initdb refuses root), else ourselves.
as_tester() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Print a TCP port nothing listens on, for a throwaway cluster.
free_port() {
	perl -MIO::Socket::INET -e '
		for (1 .. 100) {
			my $p = 20000 + int(rand(20000));
			next if -e "/var/run/postgresql/.s.PGSQL.$p";
			IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $p,
								  Listen => 1, ReuseAddr => 1) or next;
			print $p;
			exit 0;
		}
		exit 1'
}

# Print the cache directory outside the clone where the tests keep what
# they build once (PostgreSQL 18, Citus, the Debian 13 root of
# PostgreSQL 17) and the sources they download: $CODES_PG_CACHE, else
# /var/cache/codes-pg as root, else ${XDG_CACHE_HOME:-$HOME/.cache}/codes-pg.
codes_cache() {
	if [ -n "${CODES_PG_CACHE:-}" ]; then
		echo "$CODES_PG_CACHE"
	elif [ "$(id -u)" -eq 0 ]; then
		echo /var/cache/codes-pg
	else
		echo "${XDG_CACHE_HOME:-$HOME/.cache}/codes-pg"
	fi
}

# Run a command as root inside the Debian root $1 (scripts/pg17_root.sh
# makes one), the rest of the arguments being the command: in a mount
# namespace of its own, with /proc and the host's /dev mounted in the
# root, so that a server can run there and nothing stays mounted when the
# command ends, however it ends.
in_root() {
	unshare --mount --propagation private sh -c '
		r=$1
		shift
		mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" || exit 1
		exec chroot "$r" env PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
	' in_root "$@"
}

# Wait at most $2 seconds for the shell command $1 (eval'd) to succeed;
# say so and fail when it does not.  For the failover tests.
wait_for() {
	cond=$1
	limit=$2
	i=0
	while ! eval "$cond"; do
		i=$((i + 1))
		[ "$i" -gt $((limit * 5)) ] && { echo "timed out after ${limit}s: $cond"; return 1; }
		sleep 0.2
	done
}

# Kill what a failover test started in its directory $1: the process group
# of each process listed in $1/pgids (each started with setsid: an HA
# manager with its services and servers, or etcd), TERM then KILL, and
# any postmaster left in a data directory $1/*/.
kill_all() {
	w=$1
	[ -f "$w/pgids" ] && for g in $(cat "$w/pgids"); do
		kill -TERM "-$g" 2>/dev/null
	done
	sleep 1
	[ -f "$w/pgids" ] && for g in $(cat "$w/pgids"); do
		kill -KILL "-$g" 2>/dev/null
	done
	for d in "$w"/*/; do
		if [ -f "$d/postmaster.pid" ]; then
			p=$(head -n 1 "$d/postmaster.pid")
			[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
		fi
	done
	return 0
}

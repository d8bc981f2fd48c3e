#!/bin/sh
# Install what building and testing codes needs (Debian 12, as root), if it
# is not there yet: the PostgreSQL 15 server (with pgbench and amcheck) and
# its headers (PGXS), libuuid's and libcrypto's headers (OpenSSL's, for
# HMAC), IPC::Run for PostgreSQL's TAP test modules, Debian's python3
# (sql_tests/hmac_at_rest.sh searches files with it) and its psycopg 3
# (the example shop, sql_tests/example.sh) and Hypothesis (the model of
# the README's contract, sql_tests/contract_model.py), node (the README's
# JavaScript, sql_tests/readme_js.sh), what building the Debian
# package needs (sql_tests/package.sh: debhelper, pg_buildext from
# postgresql-server-dev-all, the postgresql package its build-time check
# depends on, build-essential, lintian), pg_auto_failover and Patroni with
# a local etcd (python3-etcd: Patroni's etcd client) for the failover
# tests (sql_tests/ha.sh, sql_tests/patroni.sh), curl for downloading
# sources the repository does not hold (scripts/source.sh), debootstrap
# for the Debian 13 root of PostgreSQL 17 (scripts/pg17_root.sh), and
# any package named as an argument (scripts/valgrind.sh asks for
# valgrind).
set -eu

need=""
for pkg in postgresql-15 postgresql-server-dev-15 uuid-dev libssl-dev \
	libipc-run-perl make gcc python3 python3-psycopg python3-hypothesis \
	debhelper postgresql-server-dev-all postgresql build-essential lintian \
	postgresql-15-auto-failover patroni python3-etcd etcd-server \
	curl ca-certificates debootstrap nodejs "$@"; do
	dpkg-query -W -f '${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' ||
		need="$need $pkg"
done

if [ -n "$need" ]; then
	echo "installing:$need"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

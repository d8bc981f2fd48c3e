#!/bin/sh
# codes on Citus, exploratory: build Citus (scripts/build_citus.sh), build
# and stage this tree (stage_copy), start a coordinator and two workers
# (scripts/citus_cluster.sh), and run sql_tests/citus_smoke.sql on the
# coordinator: CREATE EXTENSION codes, the distribution of its tables, and
# the functions through the coordinator afterwards.  Prints psql's
# transcript, errors included; nothing is judged, so it is not part of
# scripts/test.sh.  Run as root.  CODES_KEEP=1 leaves the cluster running
# and says where (stop it with scripts/citus_cluster.sh stop DIR).
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/common.sh

sh scripts/build_citus.sh || exit 1
work=$(mktemp -d -t codes-citus.XXXXXX)
chmod 755 "$work"
if [ "${CODES_KEEP:-}" = 1 ]; then
	trap 'echo "citus_smoke: the cluster runs in $work/cluster; . $work/cluster/env"' EXIT
else
	trap 'sh scripts/citus_cluster.sh stop "$work/cluster" 2>/dev/null; rm -rf "$work"' EXIT
fi
trap 'exit 1' INT TERM
mkdir "$work/tree" || exit 1
stage_copy "$work/tree" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
sh scripts/citus_cluster.sh start "$work/cluster" "$work/tree/stage" >/dev/null || exit 1
. "$work/cluster/env"
as_tester env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" PGDATABASE="$PGDATABASE" \
	psql -X -a -v worker_port="${CITUS_WORKER_PORTS%% *}" -f "$work/tree/sql_tests/citus_smoke.sql" 2>&1

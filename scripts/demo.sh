#!/bin/sh
# The main job, from a fresh clone: install the build dependencies, build and
# install the extension, start a throwaway PostgreSQL cluster and show the
# extension at work (scripts/demo.sql).  The cluster is gone afterwards.
set -eu
cd "$(dirname "$0")/.."

sh scripts/deps.sh
make -s
make -s install
pg_virtualenv psql -X -q -v ON_ERROR_STOP=1 -e -f scripts/demo.sql

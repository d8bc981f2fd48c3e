#!/bin/sh
# The README's Getting started runs as it stands: README.md shows
# scripts/getting_started.sql verbatim, and the script runs without error
# on a fresh database and gives the answers its comments promise.  Run
# inside a cluster (for example under pg_virtualenv); prints a
# pg_regress-style result line.
set -u

db=codes_getting_started
out=$(mktemp)
trap 'rm -f "$out"; dropdb --if-exists $db 2>/dev/null' EXIT

run() {
	# the script, line for line, in the README
	python3_bin=/usr/bin/python3
	$python3_bin - <<'PY' || { echo "README.md does not show scripts/getting_started.sql as it stands"; return 1; }
import sys
readme = open("README.md").read()
script = open("scripts/getting_started.sql").read()
sys.exit(0 if "```sql\n" + script + "```" in readme else 1)
PY
	dropdb --if-exists $db 2>/dev/null
	createdb $db || return 1
	psql -X -v ON_ERROR_STOP=1 -d $db -f scripts/getting_started.sql >"$out" 2>&1 || { cat "$out"; return 1; }
	# the grant happened once, the retry says why not, and the statuses
	grep -q '^  *4711 | closed-beta | beta$' "$out" &&
	grep -q '^ f  | used_up | closed-beta' "$out" &&
	grep -q '^ ACTIVED$' "$out" &&
	grep -q '^ SUCCEED$' "$out" &&
	grep -q '^ NO EXISTED$' "$out" || { cat "$out"; return 1; }
}

if run; then
	echo "test getting_started               ... ok"
else
	echo "test getting_started               ... FAILED"
fi

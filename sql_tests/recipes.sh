#!/bin/sh
# The README's Recipes run as they stand: README.md shows each of
# scripts/recipes/*.sql verbatim, and they run one after the other in one
# psql session (as a reader would paste them) on a fresh database without
# error, with the answers their comments promise: the checkout with a hold
# makes order 1017, the failed payment's release gives the use back, the
# refund undoes order 1017's use, the chosen hot code's use in the order
# transaction makes order 1018 and a second use by that customer is
# refused, and the export writes
# the 500 hashed codes, which are then found.  Run inside a cluster with a
# key configured (as scripts/test.sh does); prints a pg_regress-style
# result line.
set -u

db=codes_recipes
work=$(mktemp -d)
chmod 777 "$work"
trap 'rm -rf "$work"; dropdb --if-exists $db 2>/dev/null' EXIT

run() {
	# each recipe, line for line, in the README
	/usr/bin/python3 - scripts/recipes/*.sql <<'PY' || return 1
import sys
readme = open("README.md").read()
missing = [f for f in sys.argv[1:] if "```sql\n" + open(f).read() + "```" not in readme]
for f in missing:
    print(f"README.md does not show {f} as it stands")
sys.exit(1 if missing else 0)
PY
	dropdb --if-exists $db 2>/dev/null
	createdb $db || return 1
	psql -X -q -d $db -c 'CREATE EXTENSION codes' || return 1
	args=""
	for f in scripts/recipes/*.sql; do
		args="$args -f $PWD/$f"
	done
	# in a directory of its own: the export writes gifts.csv there
	(cd "$work" && psql -X -v ON_ERROR_STOP=1 -d $db $args) >"$work/out" 2>&1 || { cat "$work/out"; return 1; }
	grep -q '^ t  |        | order-1017$' "$work/out" &&
	grep -Eq '^ hold_release *$' "$work/out" &&
	grep -Eq '^ +1$' "$work/out" &&
	grep -q '^ t  |        | order-1018$' "$work/out" &&
	grep -q '^ f  | redeemer_limit$' "$work/out" &&
	grep -Eq '^ +500$' "$work/out" || { cat "$work/out"; return 1; }
	[ "$(sort -u "$work/gifts.csv" | wc -l)" = 500 ] || { echo "gifts.csv: not 500 codes"; return 1; }
	# what the database holds afterwards
	result=$(psql -X -q -A -t -d $db <<SQL
CREATE TEMP TABLE gifts (code text);
\\copy gifts FROM '$work/gifts.csv' CSV
SELECT (SELECT string_agg(id, ',' ORDER BY id) FROM orders),
	   (SELECT count(*) FROM codes.holds),
	   (SELECT string_agg(redeemer || ':' || coalesce(reference, '-') || ':'
						  || (undone_at IS NULL), ',' ORDER BY used_at, redeemer)
		FROM codes.redemptions WHERE batch IN ('autumn', 'summer')),
	   (SELECT count(*) FROM gifts WHERE codes.code_query(code) = 'UNACTIVED');
SQL
)
	[ "$result" = "order-1018|0|customer-42:order-1017:false,customer-44:order-1018:true|500" ] ||
		{ echo "after the recipes: $result"; return 1; }
}

if run; then
	echo "test recipes                       ... ok"
else
	echo "test recipes                       ... FAILED"
fi

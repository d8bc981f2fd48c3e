#!/bin/sh
# The example shop (examples/): in a fresh database, examples/setup.sql
# makes the shop's table, its login role and batches, then examples/shop.py
# lets 8 tills, each with its own connection, race for those few codes,
# once at READ COMMITTED and once, in another fresh database, at
# SERIALIZABLE (where racing uses get 40001, which the shop retries).  Then
# it checks: the app ran as a role with codes_app only; each single-use
# code that could be used was used by exactly one attempt; the shop's
# orders, the successful attempts the app printed and codes.redemptions
# match one for one; every failed attempt gave a documented reason and the
# message for it; and every reason came up at least once.  Run inside a
# cluster with codes preloaded (for the brake), as scripts/test.sh does;
# needs Debian's python3-psycopg (scripts/deps.sh); prints a pg_regress-
# style result line.
set -u
cd "$(dirname "$0")/.."

db=codes_example
work=$(mktemp -d)
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
trap 'rm -rf "$work"; dropdb --if-exists $db 2>/dev/null; psql -X -q -d postgres -c "DROP ROLE IF EXISTS shop_app" 2>/dev/null' EXIT

one() {
	isolation=$1
	echo "== $isolation"
	dropdb --if-exists $db 2>/dev/null
	createdb $db || return 1
	psql -X -d $db -v app_password="$password" -f examples/setup.sql >"$work/codes" || return 1
	PGDATABASE=$db PGUSER=shop_app PGPASSWORD=$password \
		/usr/bin/python3 examples/shop.py --tills 8 --isolation "$isolation" "$work/codes" \
		>"$work/out" || { cat "$work/out"; return 1; }
	cat "$work/out"
	PGDATABASE=$db /usr/bin/python3 - "$work/codes" "$work/out" <<'PY'
import collections, re, sys
import psycopg

REASONS = {"not_found", "used_up", "not_yet_valid", "expired", "revoked",
           "redeemer_limit", "braked"}
MESSAGES = {"not_found": "Code not recognised",
            "used_up": "This code was already used",
            "not_yet_valid": "This code is not valid yet",
            "expired": "This code has expired",
            "revoked": "This code is no longer valid",
            "redeemer_limit": "You have already used this code",
            "braked": "Too many attempts, try later"}
OK = {"spring-10": "10% off applied", "free-shipping": "Free shipping applied"}

bad = []
def check(cond, what):
    if not cond:
        bad.append(what)

codes = open(sys.argv[1]).read().split()
lines = open(sys.argv[2]).read().splitlines()
line_re = re.compile(r"\[till \d+\] (\S+) (\S+): (.*) \((?:ok, order (\d+)|(\w+))\)$")
attempts = [m.groups() for m in map(line_re.match, lines) if m]
summary = re.match(r"(\d+) of (\d+) attempts", lines[-1]) if lines else None
check(summary and int(summary[1]) == int(summary[2]) == len(attempts) == len(lines) - 1,
      "every attempt printed one line, and the summary counts them")

with psycopg.connect() as conn:
    q = lambda sql, *a: conn.execute(sql, a).fetchall()
    check(q("SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls,"
            " array(SELECT m.roleid::regrole::text FROM pg_auth_members m WHERE m.member = r.oid)"
            " FROM pg_roles r WHERE r.rolname = 'shop_app'") == [(False, ["codes_app"])],
          "shop_app is an ordinary role, member of codes_app only")
    norm = dict(q("SELECT t, codes.code_normalize(t) FROM unnest(%s::text[]) t",
                  list({a[1] for a in attempts})))
    batch_of = dict(q("SELECT c.code, b.name FROM codes.batches b, codes.batch_codes(b.name) c"))
    orders = q("SELECT id, customer, code, batch FROM shop_orders")
    uses = q("SELECT redeemer, code, batch FROM codes.redemptions WHERE undone_at IS NULL")
    spring = [c for (c,) in q("SELECT code FROM codes.batch_codes('spring-10')")]

seen = collections.Counter()
ok_lines = []
for customer, typed, shown, order, reason in attempts:
    if order:
        batch = batch_of.get(norm.get(typed))
        check(shown == OK.get(batch), f"message for a use of {batch}: {shown!r}")
        ok_lines.append((int(order), customer, norm.get(typed), batch))
        seen["ok"] += 1
    else:
        check(reason in REASONS, f"undocumented reason {reason!r}")
        check(shown == MESSAGES.get(reason), f"message for {reason}: {shown!r}")
        seen[reason] += 1
check(set(seen) == REASONS | {"ok"}, f"every reason came up: {dict(seen)}")

# each single-use code that could be used: exactly one ok
per_code = collections.Counter(c for _, _, c, b in ok_lines if b == "spring-10")
check(set(spring) <= {norm.get(a[1]) for a in attempts}, "every spring-10 code was tried")
check(all(per_code[c] == 1 for c in spring), f"one use per spring-10 code: {per_code}")
# orders, printed successes and recorded uses: one for one
check(sorted(ok_lines) == sorted((i, cu, norm.get(co), b) for i, cu, co, b in orders),
      "the orders are the successes printed")
check(sorted((cu, norm.get(co), b) for _, cu, co, b in orders) == sorted(uses),
      "the orders are the uses recorded")
check(len(set((cu, c) for _, cu, c, b in ok_lines if b == "free-shipping"))
      == sum(1 for *_, b in ok_lines if b == "free-shipping"),
      "free shipping once per customer")

for b in bad:
    print("check failed:", b)
print(f"checked {len(attempts)} attempts, {len(orders)} orders, {len(uses)} uses: "
      + ("ok" if not bad else "FAILED"))
sys.exit(1 if bad else 0)
PY
}

run() {
	/usr/bin/python3 -c 'import psycopg' || { echo "python3-psycopg is missing: sh scripts/deps.sh"; return 1; }
	one "read committed" && one serializable
}

start=$(date +%s%N)
if run >"$work/log" 2>&1; then
	[ -n "${CODES_VERBOSE:-}" ] && cat "$work/log"
	grep -h '^[0-9]* of [0-9]* attempts\|^checked' "$work/log" | sed 's/^/  example: /'
	printf 'test %-30s ... ok %8s ms\n' example "$((($(date +%s%N) - start) / 1000000))"
else
	cat "$work/log"
	printf 'test %-30s ... FAILED\n' example
fi

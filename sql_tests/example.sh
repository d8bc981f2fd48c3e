#!/bin/sh
# The example shop (examples/): in a fresh database, examples/setup.sql
# makes the shop's table, its login role and batches, then examples/shop.py
# lets 8 tills, each with its own connection, race for those few codes
# through the checkout with holds (hold, pay, confirm with the order or
# release, some orders refunded after), once at READ COMMITTED and once,
# in another fresh database, at SERIALIZABLE (where racing transactions
# get 40001, which the shop retries).  Then it checks: the app ran as a
# role with codes_app only; no single-use code has more than one standing
# use, and no spring-10 code more than one order; the shop's orders and
# the successes the app printed match one for one, those not refunded
# match the standing uses of codes.redemptions one for one, and those
# refunded have their uses undone; every hold that made no order was
# given back, and no hold is left live; every attempt and refund printed
# a documented reason and the message for it; and every reason and path
# (held, hold_expired, payment_failed, refunded and the others) came up at
# least once.  Run inside a cluster with codes preloaded (for the brake),
# as scripts/test.sh does; needs Debian's python3-psycopg
# (scripts/deps.sh); prints a pg_regress-style result line.
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

REASONS = {"not_found", "used_up", "held", "not_yet_valid", "expired", "revoked",
           "redeemer_limit", "braked", "payment_failed", "hold_expired"}
MESSAGES = {"not_found": "Code not recognised",
            "used_up": "This code was already used",
            "held": "This code is in another customer's checkout, try again in a few minutes",
            "not_yet_valid": "This code is not valid yet",
            "expired": "This code has expired",
            "revoked": "This code is no longer valid",
            "redeemer_limit": "You have already used this code",
            "braked": "Too many attempts, try later",
            "payment_failed": "Payment declined, the code was not used",
            "hold_expired": "Checkout took too long and the payment was cancelled: apply the code again"}
REFUNDED = "Order refunded, the code can be used again"
OK = {"spring-10": "10% off applied", "free-shipping": "Free shipping applied"}

bad = []
def check(cond, what):
    if not cond:
        bad.append(what)

lines = open(sys.argv[2]).read().splitlines()
line_re = re.compile(r"\[till \d+\] (\S+) (\S+): (.*) \((?:(ok|refunded), order (\d+)|(\w+))\)$")
events = [m.groups() for m in map(line_re.match, lines) if m]
attempts = [e for e in events if e[3] != "refunded"]
refunds = [e for e in events if e[3] == "refunded"]
summary = re.match(r"(\d+) of (\d+) attempts .*; (\d+) orders refunded;", lines[-1]) if lines else None
check(summary and int(summary[1]) == int(summary[2]) == len(attempts)
      and int(summary[3]) == len(refunds) and len(events) == len(lines) - 1,
      "every attempt and refund printed one line, and the summary counts them")

with psycopg.connect() as conn:
    q = lambda sql, *a: conn.execute(sql, a).fetchall()
    check(q("SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls,"
            " array(SELECT m.roleid::regrole::text FROM pg_auth_members m WHERE m.member = r.oid)"
            " FROM pg_roles r WHERE r.rolname = 'shop_app'") == [(False, ["codes_app"])],
          "shop_app is an ordinary role, member of codes_app only")
    norm = dict(q("SELECT t, codes.code_normalize(t) FROM unnest(%s::text[]) t",
                  list({e[1] for e in events})))
    batch_of = dict(q("SELECT c.code, b.name FROM codes.batches b, codes.batch_codes(b.name) c"))
    orders = [(i, r, cu, norm.get(co), b, refunded)
              for i, r, cu, co, b, refunded in
              q("SELECT id, reference, customer, code, batch, refunded_at IS NOT NULL FROM shop_orders")]
    uses = q("SELECT reference, redeemer, code, batch, undone_at IS NOT NULL FROM codes.redemptions")
    twice = q("SELECT r.code FROM codes.redemptions r JOIN codes.batches b ON b.name = r.batch"
              " WHERE b.max_uses = 1 AND r.undone_at IS NULL GROUP BY r.code HAVING count(*) > 1")
    holds = q("SELECT count(*) FILTER (WHERE live), count(*) FROM codes.holds")[0]
    # the holds that made no use: released, or run out and given back
    given_back = q("SELECT l.redeemer, coalesce(c.shown, l.code::text), l.undone_at IS NOT NULL"
                   " FROM codes.redemption_log l LEFT JOIN codes.codes c ON c.code = l.code"
                   " WHERE l.held_until IS NOT NULL")

# every line: a documented reason, and the message for it
seen = collections.Counter()
ok_lines = []
for customer, typed, shown, event, order, reason in events:
    if event == "ok":
        batch = batch_of.get(norm.get(typed))
        check(shown == OK.get(batch), f"message for a use of {batch}: {shown!r}")
        ok_lines.append((int(order), customer, norm.get(typed), batch))
    elif event == "refunded":
        check(shown == REFUNDED, f"message for a refund: {shown!r}")
    else:
        check(reason in REASONS, f"undocumented reason {reason!r}")
        check(shown == MESSAGES.get(reason), f"message for {reason}: {shown!r}")
    seen[event or reason] += 1
check(set(seen) == REASONS | {"ok", "refunded"}, f"every reason and path came up: {dict(seen)}")

# single-use codes: one standing use each, one order each (refunded or not)
check(not twice, f"single-use codes with more than one standing use: {twice}")
per_code = collections.Counter(c for _, _, _, c, b, _ in orders if b == "spring-10")
check(max(per_code.values(), default=0) <= 1, f"at most one order per spring-10 code: {per_code}")
check(len(set((cu, c) for _, cu, c, b in ok_lines if b == "free-shipping"))
      == sum(1 for *_, b in ok_lines if b == "free-shipping"),
      "free shipping once per customer")
# orders, printed successes and recorded uses: one for one
check(sorted(ok_lines) == sorted((i, cu, c, b) for i, _, cu, c, b, _ in orders),
      "the orders are the successes printed")
check(sorted(int(e[4]) for e in refunds) == sorted(i for i, *_, refunded in orders if refunded),
      "the orders refunded are the refunds printed")
check(sorted((r, cu, c, b) for _, r, cu, c, b, refunded in orders if not refunded)
      == sorted((r, cu, c, b) for r, cu, c, b, undone in uses if not undone),
      "the orders not refunded are the standing uses")
check(sorted((r, cu, c, b, True) for _, r, cu, c, b, refunded in orders if refunded)
      == sorted(u for u in uses if u[4]),
      "the orders refunded are the uses undone")
# holds: each one that made no order was given back, none is left live
check(holds[0] == 0, f"{holds[0]} holds left live")
check(all(undone for *_, undone in given_back), "every hold that made no use was given back")
check(sorted((cu, norm.get(co)) for cu, co, _, _, _, reason in attempts
             if reason in ("payment_failed", "hold_expired"))
      == sorted((cu, c) for cu, c, _ in given_back),
      "the holds given back are the failed payments and the checkouts too slow")

for b in bad:
    print("check failed:", b)
print(f"checked {len(attempts)} attempts, {len(orders)} orders ({len(refunds)} refunded), "
      f"{len(given_back)} holds given back: " + ("ok" if not bad else "FAILED"))
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

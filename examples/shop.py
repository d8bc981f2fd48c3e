"""A shop's checkout rush: customers at several tills type coupon codes.

Shows how an application redeems codes of the `codes` extension:

- each redemption is one transaction together with the shop's own write,
  in one statement: the order is inserted only from a successful use, so an
  order exists exactly when its use does;
- codes and customers go to the server as bind parameters, never as text
  of the SQL;
- a serialization failure (SQLSTATE 40001, at REPEATABLE READ or
  SERIALIZABLE) is retried, as every application must;
- each reason why a code fails becomes what the shop tells its customer.

The customers: for every code read from CODES_FILE (one a line, as
examples/setup.sql prints them), a few customers try it at once from
different tills, some of them twice, some typing it in lower case or with
a typo; and one bot guesses codes until it is braked.  Each till has its
own connection.  Prints one line per attempt, then a summary.

    /usr/bin/python3 examples/shop.py --dsn "host=localhost dbname=shop user=shop_app password=shop" codes.txt

Without --dsn, libpq's PG* environment variables say where to connect.
The role needs codes_app and SELECT, INSERT on shop_orders, nothing more.
It connects to this machine only: the bot's guesses are not for a real
server.
"""

import argparse
import collections
import ipaddress
import queue
import random
import sys
import threading
import time

import psycopg
from psycopg import errors

MAX_ATTEMPTS = 1000     # the rush is bounded, whatever the codes file
MAX_TRIES = 10          # tries of one redemption after serialization failures

# The redemption and the order, one statement, one transaction: the order
# is inserted only from a row with ok, and the reason comes back either way.
REDEEM = """
WITH r AS (
    SELECT * FROM codes.code_redeem(%(code)s, %(customer)s)
), o AS (
    INSERT INTO shop_orders (customer, code, batch, discount_percent, free_shipping)
    SELECT %(customer)s, %(code)s, r.batch,
           (r.metadata ->> 'discount_percent')::integer,
           coalesce((r.metadata ->> 'free_shipping')::boolean, false)
    FROM r WHERE r.ok
    RETURNING id
)
SELECT r.ok, r.reason, r.metadata, o.id FROM r LEFT JOIN o ON true
"""

# Every reason code_redeem gives, and what the shop tells its customer.
MESSAGES = {
    "not_found": "Code not recognised",
    "used_up": "This code was already used",
    "not_yet_valid": "This code is not valid yet",
    "expired": "This code has expired",
    "revoked": "This code is no longer valid",
    "redeemer_limit": "You have already used this code",
    "braked": "Too many attempts, try later",
}


def applied(metadata):
    """What a successful code gives, from its batch's metadata."""
    metadata = metadata or {}
    parts = []
    if metadata.get("discount_percent"):
        parts.append(f"{metadata['discount_percent']}% off")
    if metadata.get("free_shipping"):
        parts.append("Free shipping")
    return (" and ".join(parts) or "Code") + " applied"


def message(ok, reason, metadata):
    if ok:
        return applied(metadata)
    return MESSAGES.get(reason, "This code cannot be used")


SYMBOLS = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def typo(code, rng):
    """The code with one of its last symbols mistyped."""
    i = rng.choice([i for i, c in enumerate(code) if c.isalnum()][-8:])
    pool = SYMBOLS if code[i] in SYMBOLS else "0123456789abcdef"
    return code[:i] + rng.choice(pool.replace(code[i], "")) + code[i + 1:]


def rush(codes, per_code, guesses, rng):
    """The attempts, as (customer, typed code), shuffled."""
    attempts = []
    for n, code in enumerate(codes):
        for k in range(per_code):
            customer = f"customer-{n:02d}-{k % 5}"   # k >= 5: a second try
            attempts.append((customer, code.lower() if k == 3 else code))
        if n % 4 == 0:
            attempts.append((f"customer-{n:02d}-9", typo(code, rng)))
    bot = f"bot-{rng.randrange(16**6):06x}"        # a client we have not seen
    for _ in range(guesses):
        attempts.append((bot, typo(rng.choice(codes), rng)))
    rng.shuffle(attempts)
    return attempts


def redeem(conn, customer, code):
    """One redemption with its order; returns (ok, reason, metadata, order id, retries)."""
    for retries in range(MAX_TRIES):
        try:
            with conn.transaction():
                row = conn.execute(REDEEM, {"code": code, "customer": customer}).fetchone()
            return (*row, retries)
        except errors.SerializationFailure:
            # another till used the code first: try again, after a moment
            time.sleep(rng_sleep.uniform(0, 0.005 * 2 ** retries))
    raise RuntimeError(f"no answer after {MAX_TRIES} serialization failures")


rng_sleep = random.Random()
print_lock = threading.Lock()


def till(number, dsn, isolation, start, work, results):
    with psycopg.connect(dsn, autocommit=True, application_name=f"shop-till-{number}") as conn:
        conn.isolation_level = isolation
        start.wait()
        while True:
            try:
                customer, code = work.get_nowait()
            except queue.Empty:
                return
            ok, reason, metadata, order, retries = redeem(conn, customer, code)
            shown = message(ok, reason, metadata)
            note = f"ok, order {order}" if ok else reason
            with print_lock:
                print(f"[till {number}] {customer} {code}: {shown} ({note})", flush=True)
                results.append((ok, reason, retries))


def local(conn):
    """Is the server on this machine (a Unix socket or a loopback address)?"""
    host = conn.info.host
    if host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("codes_file", help="codes handed out, one a line")
    ap.add_argument("--dsn", default="", help="libpq connection string (default: PG* variables)")
    ap.add_argument("--tills", type=int, default=8, help="connections redeeming at once (default 8)")
    ap.add_argument("--per-code", type=int, default=8, help="customers trying each code (default 8)")
    ap.add_argument("--guesses", type=int, default=15, help="the bot's guesses (default 15)")
    ap.add_argument("--isolation", default="read committed",
                    choices=["read committed", "repeatable read", "serializable"])
    ap.add_argument("--seed", type=int, default=None, help="for a repeatable rush")
    args = ap.parse_args()

    with open(args.codes_file) as f:
        codes = [line.strip() for line in f if line.strip()]
    if not codes:
        sys.exit("no codes in " + args.codes_file)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    attempts = rush(codes, args.per_code, args.guesses, random.Random(seed))
    if len(attempts) > MAX_ATTEMPTS:
        sys.exit(f"{len(attempts)} attempts: at most {MAX_ATTEMPTS}, use fewer codes")
    if not 1 <= args.tills <= 32:
        sys.exit("--tills: 1 to 32")

    with psycopg.connect(args.dsn) as conn:
        if not local(conn):
            sys.exit(f"server {conn.info.host}: this example runs against this machine only")

    work = queue.SimpleQueue()
    for a in attempts:
        work.put(a)
    isolation = psycopg.IsolationLevel[args.isolation.upper().replace(" ", "_")]
    start = threading.Barrier(args.tills)
    results, failed = [], []

    def run(n):
        try:
            till(n, args.dsn, isolation, start, work, results)
        except BaseException as e:
            start.abort()
            failed.append(f"till {n}: {e!r}")

    began = time.monotonic()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(1, args.tills + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - began

    counts = collections.Counter("ok" if ok else reason for ok, reason, _ in results)
    retries = sum(r for _, _, r in results)
    print(f"{len(results)} of {len(attempts)} attempts at {args.tills} tills in {took:.2f} s "
          f"({args.isolation}, seed {seed}): "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; {retries} retries after serialization failures")
    if failed:
        sys.exit("\n".join(failed))


if __name__ == "__main__":
    main()

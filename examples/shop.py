"""A shop's checkout rush: customers at several tills apply coupon codes and pay.

Shows how an application runs a checkout with the `codes` extension, as
shops run it: the customer applies a code, is sent to pay, and comes back
seconds or minutes later.

1. The code goes into the cart: code_hold holds a use of it for the
   customer for a few minutes, under the cart's reference.  Meanwhile it
   counts against the code's limits: another customer is refused as
   `held`.
2. The customer pays, outside any transaction (simulated here: a short
   wait, and some payments are declined).
3. Paid: in one transaction, in one statement, hold_confirm makes the hold
   a use under the order's reference, and the order is inserted only if
   the confirm is ok.  A customer who took longer than the hold gets
   `hold_expired` instead, and no order is made.
   Declined: hold_release gives the use back at once.
4. Afterwards, some customers send their goods back: undo_reference
   refunds their order, and its code may be used again.

And, as every application must:

- codes and customers go to the server as bind parameters, never as text
  of the SQL (so they are not in the server log either);
- every transaction is tried again after a serialization failure
  (SQLSTATE 40001, at REPEATABLE READ or SERIALIZABLE);
- each reason why a code fails becomes what the shop tells its customer.

The customers: for every code read from CODES_FILE (one a line, as
examples/setup.sql prints them), a few customers try it at once from
different tills, some of them twice, some typing it in lower case or with
a typo; and one bot guesses codes until it is braked.  Each till has its
own connection.  Prints one line per attempt and one per refund, then a
summary.

    /usr/bin/python3 examples/shop.py --dsn "host=localhost dbname=shop user=shop_app password=shop" codes.txt

Without --dsn, libpq's PG* environment variables say where to connect.
The role needs codes_app, SELECT and INSERT on shop_orders and UPDATE of
its refunded_at, nothing more.  It connects to this machine only: the
bot's guesses are not for a real server.
"""

import argparse
import collections
import datetime
import ipaddress
import queue
import random
import secrets
import sys
import threading
import time

import psycopg
from psycopg import errors
from psycopg.types.json import Jsonb

MAX_ATTEMPTS = 1000     # the rush is bounded, whatever the codes file
MAX_TRIES = 10          # tries of one transaction after serialization failures
HOLD_FOR = datetime.timedelta(minutes=5)    # how long a cart keeps its code

# 1. The code goes into the cart: a use of it is held for the customer.
HOLD = """
SELECT h.ok, h.reason, h.hold, h.batch, h.metadata
FROM codes.code_hold(%(code)s, %(customer)s, %(hold_for)s, %(cart)s) AS h
"""

# 3a. Paid: the hold becomes a use, and the order is placed, in one
# statement, one transaction.  The order is inserted only from a confirm
# that is ok, and the reason comes back either way (LEFT JOIN).  What the
# order grants comes from the batch's metadata, as code_hold gave it.
CONFIRM = """
WITH k AS (
    SELECT * FROM codes.hold_confirm(%(code)s, %(hold)s, %(order)s)
), o AS (
    INSERT INTO shop_orders (reference, customer, code, batch, discount_percent, free_shipping)
    SELECT %(order)s, %(customer)s, %(code)s, %(batch)s,
           (%(metadata)s::jsonb ->> 'discount_percent')::integer,
           coalesce((%(metadata)s::jsonb ->> 'free_shipping')::boolean, false)
    FROM k WHERE k.ok
    RETURNING id
)
SELECT k.ok, k.reason, o.id FROM k LEFT JOIN o ON true
"""

# 3b. The payment failed: the code's use is free again at once.
RELEASE = "SELECT codes.hold_release(%(code)s, %(hold)s)"

# 4. A refund: the order is marked refunded and every use made for it is
# undone, in one transaction; no row if it was refunded already.
REFUND = """
WITH o AS (
    UPDATE shop_orders SET refunded_at = now()
    WHERE reference = %(order)s AND refunded_at IS NULL
    RETURNING reference
)
SELECT codes.undo_reference(o.reference) FROM o
"""

# What the shop tells its customer: for every reason code_hold gives ...
MESSAGES = {
    "not_found": "Code not recognised",
    "used_up": "This code was already used",
    "held": "This code is in another customer's checkout, try again in a few minutes",
    "not_yet_valid": "This code is not valid yet",
    "expired": "This code has expired",
    "revoked": "This code is no longer valid",
    "redeemer_limit": "You have already used this code",
    "braked": "Too many attempts, try later",
    # ... and for what can happen after the hold
    "payment_failed": "Payment declined, the code was not used",
    "hold_expired": "Checkout took too long and the payment was cancelled: apply the code again",
    "refunded": "Order refunded, the code can be used again",
}


def applied(metadata):
    """What a code gives, from its batch's metadata."""
    metadata = metadata or {}
    parts = []
    if metadata.get("discount_percent"):
        parts.append(f"{metadata['discount_percent']}% off")
    if metadata.get("free_shipping"):
        parts.append("Free shipping")
    return (" and ".join(parts) or "Code") + " applied"


class Payments:
    """The payment step, simulated.

    How a customer's payment will go is dealt when their code is held,
    from decks of ten shuffled by the seeded rng: in every ten payments
    two are declined, one takes longer than its hold, two pay and return
    their goods later, five just pay.  So each path comes up in a short
    run, whatever the timing.  A customer whose code is not held pays
    nothing, and their card goes back on the deck.
    """

    DECK = ["declined"] * 2 + ["slow"] + ["returns"] * 2 + ["pays"] * 5
    SLOW_HOLD = datetime.timedelta(milliseconds=200)    # minutes, in a real shop

    def __init__(self, rng):
        self.rng = rng
        self.deck = []
        self.lock = threading.Lock()

    def deal(self):
        """How the next customer to reach checkout will pay."""
        with self.lock:
            if not self.deck:
                self.deck = self.DECK[:]
                self.rng.shuffle(self.deck)
            return self.deck.pop()

    def put_back(self, plan):
        """A customer whose code was not held: their plan is the next one dealt."""
        with self.lock:
            self.deck.append(plan)

    def hold_for(self, plan):
        """How long to hold the code: a slow payer's hold is short, to keep the run short."""
        return self.SLOW_HOLD if plan == "slow" else HOLD_FOR

    def pay(self, plan):
        """The customer at the payment page, outside any transaction: paid?"""
        time.sleep(random.uniform(0.3, 0.4) if plan == "slow" else random.uniform(0.01, 0.05))
        return plan != "declined"


class Till:
    """One till: its own connection, a customer at a time."""

    def __init__(self, number, conn, payments):
        self.number = number
        self.conn = conn
        self.payments = payments
        self.retries = 0

    def run(self, statement, **params):
        """One statement in a transaction of its own, tried again after a
        serialization failure; returns its row."""
        for tries in range(MAX_TRIES):
            try:
                with self.conn.transaction():
                    return self.conn.execute(statement, params).fetchone()
            except errors.SerializationFailure:
                # another till changed what this transaction read: again, after a moment
                self.retries += 1
                time.sleep(random.uniform(0, 0.005 * 2 ** tries))
        raise RuntimeError(f"no answer after {MAX_TRIES} serialization failures")

    def checkout(self, customer, code, cart, order):
        """A customer's checkout with a code: (outcome, message, order id,
        how they paid)."""
        plan = self.payments.deal()
        ok, reason, hold, batch, metadata = self.run(
            HOLD, code=code, customer=customer, hold_for=self.payments.hold_for(plan), cart=cart)
        if not ok:
            self.payments.put_back(plan)
            return reason, MESSAGES.get(reason, "This code cannot be used"), None, None
        if not self.payments.pay(plan):
            self.run(RELEASE, code=code, hold=hold)
            return "payment_failed", MESSAGES["payment_failed"], None, plan
        ok, reason, order_id = self.run(
            CONFIRM, code=code, hold=hold, order=order, customer=customer, batch=batch,
            metadata=Jsonb(metadata))
        if not ok:
            # hold_expired: the customer took too long; a real shop would
            # cancel the payment here (an authorisation not captured)
            return reason, MESSAGES.get(reason, "This code cannot be used"), None, plan
        return "ok", applied(metadata), order_id, plan

    def refund(self, order):
        """Refund an order: True if it was not refunded before."""
        return self.run(REFUND, order=order) is not None


print_lock = threading.Lock()


def say(till, customer, code, shown, note):
    with print_lock:
        print(f"[till {till.number}] {customer} {code}: {shown} ({note})", flush=True)


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


def drain(work):
    """The items of a queue, until it is empty."""
    while True:
        try:
            yield work.get_nowait()
        except queue.Empty:
            return


def till(number, dsn, isolation, payments, phases, work, returns, counts):
    """A till's day: customers check out; after the rush, the orders whose
    goods came back are refunded."""
    with psycopg.connect(dsn, autocommit=True, application_name=f"shop-till-{number}") as conn:
        conn.isolation_level = isolation
        t = Till(number, conn, payments)
        phases.wait()                   # the doors open
        for customer, code, cart, order in drain(work):
            outcome, shown, order_id, plan = t.checkout(customer, code, cart, order)
            say(t, customer, code, shown, f"ok, order {order_id}" if outcome == "ok" else outcome)
            if outcome == "ok" and plan == "returns":
                returns.put((customer, code, order, order_id))
            with print_lock:
                counts[outcome] += 1
        phases.wait()                   # the rush is over
        for customer, code, order, order_id in drain(returns):
            if t.refund(order):
                say(t, customer, code, MESSAGES["refunded"], f"refunded, order {order_id}")
                with print_lock:
                    counts["refunded"] += 1
        with print_lock:
            counts["retries"] += t.retries


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
    ap.add_argument("--tills", type=int, default=8, help="connections at once (default 8)")
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
    rng = random.Random(seed)
    attempts = rush(codes, args.per_code, args.guesses, rng)
    if len(attempts) > MAX_ATTEMPTS:
        sys.exit(f"{len(attempts)} attempts: at most {MAX_ATTEMPTS}, use fewer codes")
    if not 1 <= args.tills <= 32:
        sys.exit("--tills: 1 to 32")

    with psycopg.connect(args.dsn) as conn:
        if not local(conn):
            sys.exit(f"server {conn.info.host}: this example runs against this machine only")

    # each cart and order has the shop's own reference; this run's prefix
    # keeps them apart from another run's in the same database
    run = secrets.token_hex(3)
    payments = Payments(rng)
    work, returns = queue.SimpleQueue(), queue.SimpleQueue()
    for n, (customer, code) in enumerate(attempts):
        work.put((customer, code, f"cart-{run}-{n}", f"order-{run}-{n}"))
    isolation = psycopg.IsolationLevel[args.isolation.upper().replace(" ", "_")]
    phases = threading.Barrier(args.tills)
    counts, failed = collections.Counter(), []

    def run_till(n):
        try:
            till(n, args.dsn, isolation, payments, phases, work, returns, counts)
        except BaseException as e:
            phases.abort()
            failed.append(f"till {n}: {e!r}")

    began = time.monotonic()
    threads = [threading.Thread(target=run_till, args=(n,)) for n in range(1, args.tills + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - began

    retries, refunded = counts.pop("retries", 0), counts.pop("refunded", 0)
    print(f"{sum(counts.values())} of {len(attempts)} attempts at {args.tills} tills in {took:.2f} s "
          f"({args.isolation}, seed {seed}): "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; {refunded} orders refunded; {retries} retries after serialization failures")
    if failed:
        sys.exit("\n".join(failed))


if __name__ == "__main__":
    main()

"""Clients of sql_tests/citus.sh racing for few codes through the coordinator.

race.py CONNINFO SECONDS CLIENTS

On the coordinator (CONNINFO), batch "race" has 20 codes of one use, 10
of three uses and 10 of four uses with one per redeemer.  CLIENTS
connections use them, each picking random codes and redeemers, for
SECONDS seconds; half the uses run in a transaction that is rolled back.
Then, checked from a fresh connection:
  - every code has exactly as many uses recorded as SUCCEED answers seen
    for it in committed transactions (the ledger), none more than allowed;
  - per-redeemer codes never gave one redeemer two uses;
  - the history (codes.redemption_log) holds one standing row per use of
    a multi-use code;
  - an open session sees a batch revoked and extended by another at once
    (the batch cache on the coordinator is told).
Prints its findings, one line each, and "ledger ok" last; exits 1 on the
first failed check.
"""
import random
import sys
import threading
import time

import psycopg

conninfo, seconds, clients = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])


def fail(msg):
    print("FAILED: " + msg)
    sys.exit(1)


with psycopg.connect(conninfo, autocommit=True) as admin:
    admin.execute("SELECT codes.batch_del(name) FROM codes.batches WHERE name LIKE 'race%'")
    codes = {}
    for name, n, uses, per in (("race one", 20, 1, None), ("race three", 10, 3, None),
                               ("race per redeemer", 10, 4, 1)):
        rows = admin.execute(
            "SELECT g FROM codes.code_gen(%s, NULL, NULL, max_uses => %s,"
            " max_uses_per_redeemer => %s, batch => %s) AS g", (n, uses, per, name)).fetchall()
        for (code,) in rows:
            codes[code] = (name, uses, per)

code_list = sorted(codes)
succeeded = {c: 0 for c in code_list}
by_redeemer = {}
answers = {"SUCCEED": 0, "FAILED": 0}
lock = threading.Lock()
errors = []
deadline = time.monotonic() + seconds


def client(seed):
    rnd = random.Random(seed)
    try:
        with psycopg.connect(conninfo) as conn:
            while time.monotonic() < deadline:
                code = rnd.choice(code_list)
                redeemer = "r%d" % rnd.randrange(6)
                rollback = rnd.random() < 0.5
                try:
                    answer = conn.execute("SELECT codes.code_use(%s, %s)",
                                          (code, redeemer)).fetchone()[0]
                    if rollback:
                        conn.rollback()
                    else:
                        conn.commit()
                except psycopg.errors.SerializationFailure:
                    conn.rollback()
                    continue
                with lock:
                    answers[answer] += 1
                    if answer == "SUCCEED" and not rollback:
                        succeeded[code] += 1
                        key = (code, redeemer)
                        by_redeemer[key] = by_redeemer.get(key, 0) + 1
    except Exception as e:  # noqa: BLE001 - reported, and the run fails
        with lock:
            errors.append(repr(e))


threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    fail("client errors: %s" % errors[:3])
print("answers: %d SUCCEED, %d FAILED, %d committed uses"
      % (answers["SUCCEED"], answers["FAILED"], sum(succeeded.values())))

with psycopg.connect(conninfo, autocommit=True) as conn:
    uses = dict(conn.execute(
        "SELECT c.code, c.uses FROM codes.batch_codes('race one') c "
        "UNION ALL SELECT c.code, c.uses FROM codes.batch_codes('race three') c "
        "UNION ALL SELECT c.code, c.uses FROM codes.batch_codes('race per redeemer') c").fetchall())
    for code, (name, allowed, per) in codes.items():
        if uses.get(code) != succeeded[code]:
            fail("%s code %s: %s uses recorded, %d SUCCEED answers committed"
                 % (name, code, uses.get(code), succeeded[code]))
        if succeeded[code] > allowed:
            fail("%s code %s used %d times, %d allowed" % (name, code, succeeded[code], allowed))
    for (code, redeemer), n in by_redeemer.items():
        if codes[code][2] is not None and n > codes[code][2]:
            fail("code %s used %d times by %s" % (code, n, redeemer))
    history = conn.execute(
        "SELECT count(*) FROM codes.redemptions WHERE batch IN ('race three', 'race per redeemer')"
        " AND undone_at IS NULL").fetchone()[0]
    expected = sum(succeeded[c] for c in code_list if codes[c][1] > 1)
    if history != expected:
        fail("history holds %d uses of multi-use codes, the ledger %d" % (history, expected))
    print("ledger: every code's uses == its SUCCEED answers (%d codes), none over its limit"
          % len(code_list))

    # an open session sees another's revocation and extension at once
    with psycopg.connect(conninfo, autocommit=True) as other:
        fresh = next(c for c in code_list if codes[c][1] == 3 and succeeded[c] == 0) \
            if any(codes[c][1] == 3 and succeeded[c] == 0 for c in code_list) else None
        probe = fresh or next(c for c in code_list if codes[c][1] == 3)
        before = other.execute("SELECT codes.code_query(%s)", (probe,)).fetchone()[0]
        conn.execute("SELECT codes.batch_revoke('race three')")
        revoked = other.execute("SELECT codes.code_query(%s)", (probe,)).fetchone()[0]
        conn.execute("SELECT codes.batch_unrevoke('race three')")
        conn.execute("SELECT codes.batch_extend('race three', '2001-01-01')")
        ended = other.execute("SELECT codes.code_query(%s)", (probe,)).fetchone()[0]
        if revoked != "TIMEINVALID" or ended != "TIMEINVALID" or before == "TIMEINVALID":
            fail("an open session saw %s, then %s after revoke, %s after extend into the past"
                 % (before, revoked, ended))
        print("open session: %s, revoked: %s, extended into the past: %s" % (before, revoked, ended))
print("ledger ok")

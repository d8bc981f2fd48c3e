"""The client of sql_tests/ha.sh and sql_tests/patroni.sh: one round of
uses across a failover or a switchover.

ha_client.py [--clients N] [--event-cmd CMD]
             ROUND URI CODES VICTIM_PGID VICTIM_PGDATA NEW_PORT RESULT

N connections (4 unless --clients says otherwise; URI: every node,
target_session_attrs=read-write) use the codes of file CODES (kind TAB
code), each once, in autocommit.  After 400 answers, the node in
VICTIM_PGDATA dies: SIGKILL of the process group VICTIM_PGID (its HA
manager, pg_autoctl or Patroni, so that nothing restarts it) and of its
postmaster; or, with --event-cmd, the shell command CMD runs instead (a
switchover that moves the primary away from that node) and VICTIM_PGID is
not used.  The clients reconnect and retry each code whose answer they
did not see, until they have 400 answers from the new primary (port
NEW_PORT), the codes run out or 120 s have passed.  Then, on the new
primary: every SUCCEED seen must be a use there (a ROUND whose name
begins with "async", whose clients set synchronous_commit = local, only
counts those lost), no code may have more uses than allowed, a retried
code must have answered FAILED exactly when its first use had committed
(plain codes, by the use's time).  The codes of the round are those of
the batches whose names begin with ROUND and a dash.  Writes its findings
to RESULT, one line each; exits 1 if a check failed.
"""
import argparse
import os
import subprocess
import signal
import sys
import threading
import time

import psycopg

parser = argparse.ArgumentParser()
parser.add_argument("--clients", type=int, default=4)
parser.add_argument("--event-cmd")
for name in ("round", "uri", "codes", "victim_pgid", "victim_pgdata", "new_port", "result"):
    parser.add_argument(name)
args = parser.parse_args()
rnd, uri, codes_file, victim_pgid, victim_pgdata, result = (
    args.round, args.uri, args.codes, args.victim_pgid, args.victim_pgdata, args.result)
new_port = int(args.new_port)
sync = not rnd.startswith("async")
options = {} if sync else {"options": "-c synchronous_commit=local"}

codes = [l.rstrip("\n").split("\t") for l in open(codes_file) if "\t" in l]
# interleave the kinds, so that each is in flight at the kill
codes.sort(key=lambda kc: hash(kc[1]))
# One code of each kind is used by a "ghost" connection that sends the use
# and never reads the answer (an answer lost on the way): the use commits
# (seen by code_query from another connection, which, with synchronous
# replication, means the secondary has it too) before the kill, and the
# client retries it after: it must answer FAILED.
ghosts = []
ghost_kind = {}
for kind in sorted(set(k for k, c in codes)):
    i = max(i for i, kc in enumerate(codes) if kc[0] == kind)
    ghosts.append(codes.pop(i)[1])
    ghost_kind[ghosts[-1]] = kind
pending = []  # codes to retry first
WORKERS = args.clients
KILL_AFTER = 400
AFTER_KILL = 400
DEADLINE = time.monotonic() + 120

lock = threading.Lock()
nxt = 0
answers = {}  # code -> (answer, port, wall time, retried, the server's now())
inflight = set()  # codes whose first attempt's outcome was not seen
errors = []
killed_at = None  # wall time
killed_mono = None
first_new = None  # monotonic time of the first SUCCEED on the new primary
new_answers = 0
stop = threading.Event()
event_out = []  # what the event command printed


def worker():
    global nxt, first_new, new_answers
    conn = None
    while not stop.is_set():
        with lock:
            if pending:
                code = pending.pop()
                retried = True
            elif nxt >= len(codes):
                return
            else:
                kind, code = codes[nxt]
                nxt += 1
                retried = False
        while True:
            if time.monotonic() > DEADLINE:
                with lock:
                    errors.append("deadline passed with %s unanswered" % code)
                return
            try:
                if conn is None:
                    conn = psycopg.connect(uri, autocommit=True, **options)
                ans, port, started = conn.execute(
                    "SELECT codes.code_use(%s), pg_catalog.inet_server_port(),"
                    " extract(epoch FROM pg_catalog.now())::float8",
                    (code,)).fetchone()
                now = time.time()
                with lock:
                    answers[code] = (ans, port, now, retried, started)
                    if port == new_port and killed_mono is not None:
                        new_answers += 1
                        if ans == "SUCCEED" and first_new is None:
                            first_new = time.monotonic()
                break
            except psycopg.Error:
                with lock:
                    if not retried:
                        inflight.add(code)
                retried = True
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                conn = None
                time.sleep(0.05)
    if conn is not None:
        conn.close()


def send_ghosts():
    conns = []
    for code in ghosts:
        conn = psycopg.connect(uri, autocommit=True, **options)
        conn.pgconn.send_query_params(b"SELECT codes.code_use($1)", [code.encode()])
        conns.append(conn)
    with psycopg.connect(uri, autocommit=True) as conn:
        for code in ghosts:
            while conn.execute("SELECT codes.code_query(%s)", (code,)).fetchone()[0] != "ACTIVED":
                if time.monotonic() > DEADLINE:
                    raise RuntimeError("the ghost use of %s never committed" % code)
                time.sleep(0.01)
    return conns


def kill_victim():
    global killed_at, killed_mono
    with open(os.path.join(victim_pgdata, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    with lock:
        killed_at = time.time()
        killed_mono = time.monotonic()
    if args.event_cmd:
        # the switchover: from its start, answers come from either node
        ev = subprocess.run(["sh", "-c", args.event_cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
        with lock:
            # its messages, without patronictl's tables
            event_out.extend(l.strip() for l in ev.stdout.splitlines()
                             if l.strip() and l.strip()[0] not in "+|"
                             and l.strip() != "Current cluster topology")
            if ev.returncode != 0:
                errors.append("the event command failed (exit %d)" % ev.returncode)
        return
    os.killpg(int(victim_pgid), signal.SIGKILL)
    try:
        os.kill(postmaster, signal.SIGKILL)
    except ProcessLookupError:
        pass


threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
for t in threads:
    t.start()
while time.monotonic() < DEADLINE and len(answers) < KILL_AFTER:
    time.sleep(0.01)
ghost_conns = send_ghosts()
kill_victim()
with lock:
    inflight.update(ghosts)
    pending.extend(ghosts)
while time.monotonic() < DEADLINE and new_answers < AFTER_KILL and any(t.is_alive() for t in threads):
    time.sleep(0.05)
stop.set()
for t in threads:
    t.join(max(1, DEADLINE + 5 - time.monotonic()))

out = []
ok = True


def fail(msg):
    global ok
    ok = False
    out.append("round %s: FAILED: %s" % (rnd, msg))


for e in event_out:
    out.append("round %s: %s" % (rnd, e))
for e in errors:
    fail(e)
if first_new is None:
    fail("no SUCCEED from the new primary%s"
         % (" (the clients used all %d codes first)" % len(codes) if nxt >= len(codes) else ""))
else:
    out.append("round %s: %s: %.1f s from the %s to the first SUCCEED on the new primary"
               % (rnd, "switchover" if args.event_cmd else "failover", first_new - killed_mono,
                  "switchover's start" if args.event_cmd else "kill"))
seen = [c for c, a in answers.items() if a[0] == "SUCCEED" and not a[3]]
retried = [c for c in inflight if c in answers]
event = "switchover" if args.event_cmd else "kill"
out.append("round %s: %d answers (%d before the %s), %d SUCCEED seen at first try, %d in flight at the %s and retried"
           % (rnd, len(answers), sum(1 for a in answers.values() if a[2] < killed_at), event, len(seen),
              len(retried), event))

kind_of = dict((c, k) for k, c in codes)
kind_of.update(ghost_kind)
ghost_answers = [answers.get(g, ("none",))[0] for g in ghosts]
out.append("round %s: retried ghost uses (committed, answer never read): %s"
           % (rnd, ", ".join(ghost_answers)))
if sync and ghost_answers != ["FAILED"] * len(ghosts):
    fail("a retried code whose first use had committed did not answer FAILED")
with psycopg.connect(uri, autocommit=True) as conn:
    port = conn.execute("SELECT pg_catalog.inet_server_port()").fetchone()[0]
    if port != new_port:
        fail("the primary is on port %d, not %d" % (port, new_port))
    status = {}
    for c, in [(c,) for c in answers]:
        status[c] = conn.execute("SELECT codes.code_query(%s)", (c,)).fetchone()[0]
    lost = [c for c in seen if status[c] != "ACTIVED"]
    lost_kinds = sorted(set(kind_of[c] for c in lost))
    out.append("round %s: acknowledged uses lost: %d%s" % (rnd, len(lost), (" (%s)" % ", ".join(lost_kinds)) if lost else ""))
    if sync and lost:
        fail("%d SUCCEED seen are no use on the new primary" % len(lost))
    # A code whose answer was seen (first or retried) is used; any other
    # answer is a lost use (async) or a failure.
    unused = [c for c, a in answers.items() if status[c] != "ACTIVED" and c not in lost]
    if unused:
        fail("%d answered codes unused on the new primary" % len(unused))
    over = conn.execute("""
        SELECT count(*) FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
        WHERE c.uses > b.max_uses""").fetchone()[0]
    if over:
        fail("%d codes with more uses than allowed" % over)
    # the uses of this round's codes: one each, whatever the retries
    uses = conn.execute("""
        SELECT coalesce(sum(c.uses), 0) FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
        WHERE b.name LIKE %s""", (rnd + "-%",)).fetchone()[0]
    if uses != len(answers) - len(lost):
        fail("%d uses of this round's codes, %d codes answered, %d lost" % (uses, len(answers), len(lost)))
    # Retried codes: FAILED exactly when the first use had committed.  For
    # plain codes, the use's time tells whether it was the first (on the old
    # primary, before the new one took its first use; not before the kill:
    # the backends of a killed postmaster may go on for a moment, and their
    # commits reach the secondary) or the retry; hashed codes have no text
    # in codes.redemptions.
    promoted = min([a[4] for a in answers.values() if a[1] == new_port] or [0])
    used_at = dict(conn.execute("""
        SELECT code, extract(epoch FROM used_at)::float8 FROM codes.redemptions
        WHERE batch LIKE %s AND code IS NOT NULL AND undone_at IS NULL""", (rnd + "-plain-%",)).fetchall())
    first_committed = 0
    checked = 0
    for c in retried:
        ans = answers[c][0]
        if c in used_at:
            checked += 1
            before = used_at[c] < promoted
            first_committed += before
            if before != (ans == "FAILED"):
                fail("retried code %s answered %s, its use is from %s the new primary's first"
                     % (c, ans, "before" if before else "after"))
        elif ans not in ("SUCCEED", "FAILED"):
            fail("retried code %s answered %s" % (c, ans))
    out.append("round %s: retried: %d answered FAILED, %d SUCCEED; of %d plain ones, %d had committed on the old primary (and answered FAILED)"
               % (rnd, sum(1 for c in retried if answers[c][0] == "FAILED"),
                  sum(1 for c in retried if answers[c][0] == "SUCCEED"), checked, first_committed))
    # the lost ones can be used again: a second redemption of one coupon
    if lost:
        again = sum(1 for c in lost
                    if conn.execute("SELECT codes.code_use(%s)", (c,)).fetchone()[0] == "SUCCEED")
        out.append("round %s: of the lost uses, %d codes could be used a second time on the new primary" % (rnd, again))

with open(result, "w") as f:
    f.write("\n".join(out) + "\n")
sys.exit(0 if ok else 1)

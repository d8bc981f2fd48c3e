"""An open coordinator session while Citus's placements change, for
sql_tests/citus.sh (run last: it takes the coordinator out of the node list).

stale.py CONNINFO COORDINATOR_PORT

Session A begins a REPEATABLE READ transaction; another session removes
the coordinator from Citus's nodes (citus_remove_node), which drops the
coordinator's copy of the reference table codes.batch.  A then queries a
code and commits.  From then on the triggers that tell A's batch cache of
changes fire on the workers' copies only, so A must stop trusting its
cache: what A learned of Citus's catalogs must have been read with the
latest snapshot, not with its transaction's, which predates the removal.
Another session revokes the code's batch; A must see it (TIMEINVALID,
FAILED).  Prints "stale ok" or "FAILED: ..." (exit 1).
"""
import sys

import psycopg

conninfo, port = sys.argv[1], int(sys.argv[2])

with psycopg.connect(conninfo, autocommit=True) as admin, psycopg.connect(conninfo) as a:
    code = admin.execute("SELECT c FROM codes.code_gen(1, NULL, NULL, batch => 'stale') AS c").fetchone()[0]
    a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    a.execute("SELECT 1")
    admin.execute("SELECT pg_catalog.citus_remove_node('localhost', %s)", (port,))
    seen = a.execute("SELECT codes.code_query(%s)", (code,)).fetchone()[0]
    if seen != "UNACTIVED":
        print("FAILED: before the revoke, code_query answered " + seen)
        sys.exit(1)
    a.commit()
    admin.execute("SELECT codes.batch_revoke('stale')")
    seen = a.execute("SELECT codes.code_query(%s), codes.code_use(%s)", (code, code)).fetchone()
    a.commit()
    if seen != ("TIMEINVALID", "FAILED"):
        print("FAILED: after the batch was revoked, the open session answered %s, %s" % seen)
        sys.exit(1)
print("stale ok")

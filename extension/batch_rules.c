/*-------------------------------------------------------------------------
 *
 * batch_rules.c
 *	  What a change of a batch's rules after creation (its max_uses, its
 *	  limits per redeemer: batch_set_max_uses and its siblings, in SQL)
 *	  needs from C: lock_batch_rules, which waits for the uses in progress
 *	  that the change could decide otherwise, and keeps new ones out until
 *	  the change commits, so that every use is decided under the rules in
 *	  force when it commits.
 *
 * Uses of a batch's multi-use codes share the batch's lock (locks.c),
 * which the change takes alone.  A use of a single-use code locks only
 * its code's row, never its batch, so that the common use stays cheap: a
 * change that concerns single-use codes (max_uses from 1, a limit per
 * redeemer across a batch of them) also takes codes.codes in SHARE ROW
 * EXCLUSIVE mode (as CREATE TRIGGER does), which conflicts with the ROW
 * EXCLUSIVE lock every use and undo takes before it reads its batch: it
 * waits for those in progress in the whole database and holds up new ones
 * until it commits; reads (code_query, code_check) go on.  The mode
 * conflicts with itself, so that two such changes, which both write
 * codes.codes, take turns rather than deadlock.  A use held up there,
 * or behind the batch's lock, reads the batch again (batch.c, store.c).
 *
 * Calls sqlversion.c (first) and locks.c; called by the batch_set_*
 * functions of the install script, which lock the batch's row first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"

#include "locks.h"
#include "sqlversion.h"

PG_FUNCTION_INFO_V1(lock_batch_rules);

/*
 * The uses of batch $1 as a snapshot sees them: its codes' rows (uses, and
 * single-use uses on the row), its history (uses, and those undone) and
 * its stripes.  Any use or undo changes one of them.
 */
static const char *const traces_sql =
"SELECT (SELECT pg_catalog.count(c.used_at) OPERATOR(pg_catalog.+) "
"               COALESCE(pg_catalog.sum(c.uses), 0) FROM codes.codes AS c "
"        WHERE c.batch OPERATOR(pg_catalog.=) $1), "
"       (SELECT pg_catalog.count(*) FROM codes.redemption_log AS l "
"        WHERE l.batch OPERATOR(pg_catalog.=) $1), "
"       (SELECT pg_catalog.count(l.undone_at) FROM codes.redemption_log AS l "
"        WHERE l.batch OPERATOR(pg_catalog.=) $1), "
"       (SELECT pg_catalog.count(*)::pg_catalog.int8 OPERATOR(pg_catalog.+) "
"               COALESCE(pg_catalog.sum(s.uses), 0) FROM codes.use_stripes AS s "
"        WHERE s.batch OPERATOR(pg_catalog.=) $1)";

/*
 * lock_batch_rules(batch_id integer, single_use boolean) returns void
 *
 * Before a change of the batch's rules: take codes.codes in SHARE ROW
 * EXCLUSIVE mode if the change concerns single-use codes (single_use),
 * then the batch's lock
 * alone, each until the transaction ends.  At REPEATABLE READ or
 * SERIALIZABLE, a use that committed after the transaction's snapshot
 * (one it waited for, say) left uses the change cannot see, nor so count:
 * as for an UPDATE of a row changed meanwhile, a serialization failure.
 */
Datum
lock_batch_rules(PG_FUNCTION_ARGS)
{
	int32		batch_id = PG_GETARG_INT32(0);
	bool		single_use = PG_GETARG_BOOL(1);

	codes_require_sql_version();
	if (single_use)
	{
		Oid			codes = get_relname_relid("codes",
											  get_namespace_oid("codes", false));

		if (!OidIsValid(codes))
			elog(ERROR, "table codes.codes is missing");
		LockRelationOid(codes, ShareRowExclusiveLock);
	}
	codes_lock_batch(batch_id, ExclusiveLock);

	if (IsolationUsesXactSnapshot())
		codes_fail_if_traces_changed(traces_sql, INT4OID, Int32GetDatum(batch_id));
	PG_RETURN_VOID();
}

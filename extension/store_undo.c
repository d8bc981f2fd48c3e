/*-------------------------------------------------------------------------
 *
 * store_undo.c
 *	  The codes table: giving a use back, and removing a code.  Undo the
 *	  latest use of a code (by a redeemer), undo the uses made with a
 *	  reference (a refund), confirm or release a hold, delete a code with
 *	  its history and stripes.
 *
 * Each takes its locks in the order a use takes them, so that none of
 * them deadlocks with a use: a single-use code's row first, then its
 * history; for a multi-use code its batch's and its own shared locks,
 * then the history entry, then a stripe (which it never waits for while
 * one is free, as it may pass by those others hold: stripes.c).  A delete
 * takes the code's lock alone first, then its row, history and stripes.
 * A use given back goes to the code's row (single-use) or to one of its
 * stripes (multi-use with a total cap).
 *
 * No message raised here contains a code.
 *
 * Calls store.c (to find, read and lock the code), store_direct.c,
 * stripes.c, history.c, holds.c, locks.c, statements.c and batch.c;
 * called by the SQL entry points (codes.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/snapmgr.h"

#include "batch.h"
#include "history.h"
#include "holds.h"
#include "locks.h"
#include "rows.h"
#include "searchpath.h"
#include "statements.h"
#include "store.h"
#include "store_direct.h"
#include "store_undo.h"
#include "stripes.h"

/*
 * Undo the standing use of a single-use code that its row holds (by $2,
 * if given): move it from the row into the history, marked undone.
 */
static const char *const undo_single_sql =
"WITH moved AS ("
" INSERT INTO codes.redemption_log (code, batch, redeemer, used_at, undone_at)"
" SELECT c.code, c.batch, c.used_by, c.used_at, pg_catalog.now()"
" FROM codes.codes AS c"
" WHERE " CODES_MATCH_SQL " AND c.uses" GT "0 AND c.used_at IS NOT NULL"
" AND ($2 IS NULL OR c.used_by" EQ "$2)"
" RETURNING 1) "
"UPDATE codes.codes AS c SET uses = 0, used_at = NULL, used_by = NULL "
"WHERE " CODES_MATCH_SQL " AND EXISTS (SELECT FROM moved)";

/*
 * The standing uses and the holds made with reference $6, of any code,
 * oldest first.
 */
static const char *const by_reference_sql =
"SELECT l.code, l.id FROM codes.redemption_log AS l "
"WHERE l.reference" EQ "$6 AND l.undone_at IS NULL "
"ORDER BY l.id";

/*
 * What is left of a deleted code, as the latest snapshot sees it: at
 * REPEATABLE READ, a use that committed after the delete's snapshot.
 */
static const char *const leftovers_sql =
"SELECT (SELECT pg_catalog.count(*) FROM codes.redemption_log AS l WHERE l.code" EQ "$1)"
PLUS "(SELECT pg_catalog.count(*) FROM codes.use_stripes AS s WHERE s.code" EQ "$1)";

/*
 * Delete the code, and then its history: a statement of its own, so that
 * at READ COMMITTED its snapshot, taken after the code's row was deleted
 * (and the code's lock taken), sees the history of a use that the delete
 * waited for.
 */
static const char *const del_sql =
"DELETE FROM codes.codes AS c WHERE " CODES_MATCH_SQL " RETURNING c.batch";
static const char *const del_history_sql =
"DELETE FROM codes.redemption_log AS l WHERE l.code" EQ "$1";

/*
 * Give one use of the code in found back, after its history entry was
 * undone, released or expired: to its row (a single-use code, whose row
 * the caller holds locked) or to one of its stripes (a multi-use code
 * with a total cap).
 */
static void
give_back(CodesStmtArgs *args, const CodesOutcome *found)
{
	if (!CODES_MULTI_USE(&found->batch))
		codes_store_uncount(args, 1);
	else if (!found->batch.max_uses_null)
		codes_stripes_give(args, &found->batch);
}

/*
 * Find the code of the operation and take the locks a change of its
 * history takes first: a single-use code's row, the locks a multi-use
 * code's uses share (codes_store_share_code, which reads the code again;
 * if its batch made it single-use meanwhile, its row is locked too).
 * False if there is no such code.
 */
static bool
open_history(CodesStmtArgs *args, CodesOutcome *found)
{
	memset(found, 0, sizeof(*found));
	if (!codes_store_look_up(args, found))
		return false;
	codes_store_set_batch(args, found);
	if (CODES_MULTI_USE(&found->batch))
	{
		if (!codes_store_share_code(args, found))
			return false;
		if (CODES_MULTI_USE(&found->batch))
			return true;
	}
	return codes_store_lock(args, found);
}

/*
 * Undo the latest standing use of the code (by the redeemer, if given);
 * true when there was one.  A single-use code's use is moved from the row
 * into the history, marked undone, or, if the history holds it, marked
 * undone there; a multi-use code's use is marked undone in the history
 * and given back to its stripes.
 */
bool
codes_store_undo(CodesOp *op)
{
	static SPIPlanPtr single_plan = NULL;
	CodesStmtArgs *args = &op->args;
	CodesOutcome found;

	if (!open_history(args, &found))
		return false;
	if (!CODES_MULTI_USE(&found.batch))
	{
		codes_run_stmt(&single_plan, undo_single_sql, args, false, SPI_OK_UPDATE);
		if (SPI_processed == 1)
			return true;
		if (found.uses == 0)
			return false;
	}
	if (!codes_history_undo(args))
		return false;
	give_back(args, &found);
	return true;
}

/*
 * Undo every standing use made with the reference given ($6), and release
 * every hold made with it: a refund, or the cancel, of an order.  Each is
 * undone as code_undo undoes a use, or released as hold_release releases
 * a hold, under the locks of its code; the number undone and released.
 */
int64
codes_store_undo_reference(Datum reference)
{
	static SPIPlanPtr plan = NULL;
	MemoryContext caller = CurrentMemoryContext;
	CodesStmtArgs find;
	CodesPin	pin;
	pg_uuid_t  *keys;
	int64	   *ids;
	uint64		n;
	uint64		i;
	int64		undone = 0;

	/* the uses to undo, in the caller's memory, which outlives SPI's */
	codes_pin_search_path(&pin);
	memset(find.nulls, 'n', sizeof(find.nulls));
	find.connected = false;
	find.values[CODES_ARG_REFERENCE] = reference;
	find.nulls[CODES_ARG_REFERENCE] = ' ';
	codes_run_stmt(&plan, by_reference_sql, &find, false, SPI_OK_SELECT);
	n = SPI_processed;
	keys = MemoryContextAlloc(caller, sizeof(pg_uuid_t) * Max(n, 1));
	ids = MemoryContextAlloc(caller, sizeof(int64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		keys[i] = *DatumGetUUIDP(SPI_getbinval(row, desc, 1, &isnull));
		ids[i] = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
	}
	SPI_finish();

	for (i = 0; i < n; i++)
	{
		CodesOp		op;
		CodesOutcome found;

		codes_store_open_key(&op, &keys[i]);
		codes_set_big(&op.args, ids[i]);
		op.args.values[CODES_ARG_REFERENCE] = reference;
		op.args.nulls[CODES_ARG_REFERENCE] = ' ';
		/* a hold confirmed meanwhile is a use: undone all the same */
		if (open_history(&op.args, &found) &&
			codes_history_undo_entry(&op.args) == 1)
		{
			give_back(&op.args, &found);
			undone++;
		}
		codes_store_close(&op);
	}
	codes_unpin_search_path(&pin);
	pfree(keys);
	pfree(ids);
	return undone;
}

/*
 * Confirm the hold ($5) of the code: it becomes a use, with the reference
 * and details in args (if given); out says CODES_OK or why not: the hold's
 * time has passed (CODES_HOLD_EXPIRED: it is expired now, and its use
 * given back), there is no such hold (CODES_NOT_FOUND), or the code cannot
 * be used now, as a use would be refused but for its uses (revoked,
 * deactivated, out of its period: the hold is released).
 */
void
codes_store_confirm(CodesOp *op, CodesOutcome *out)
{
	CodesStmtArgs *args = &op->args;

	if (!open_history(args, out))
	{
		out->reason = CODES_NOT_FOUND;
		return;
	}
	out->reason = codes_code_refusal(&out->batch, 0, out->deactivated, false);
	if (out->reason != CODES_OK)
	{
		if (codes_hold_release_entry(args))
			give_back(args, out);
		else
			out->reason = CODES_NOT_FOUND;
		return;
	}
	out->reason = codes_hold_confirm_entry(args);
	if (out->reason == CODES_HOLD_EXPIRED && codes_hold_release_entry(args))
		give_back(args, out);
}

/*
 * Release the hold ($5) of the code, live or expired: its use is free
 * again.  True if there was such a hold.
 */
bool
codes_store_release(CodesOp *op)
{
	CodesStmtArgs *args = &op->args;
	CodesOutcome found;

	if (!open_history(args, &found) || !codes_hold_release_entry(args))
		return false;
	give_back(args, &found);
	return true;
}

/*
 * Delete the code, its history and its stripes: code_del's operation.
 * First the code's lock alone (locks.c), which waits for the uses of a
 * multi-use code in progress, which do not lock its row, and keeps new
 * ones out until the delete ends; then directly (codes_delete_directly)
 * where it can, else with del_sql and del_history_sql.
 */
void
codes_store_delete(CodesOp *op)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr history_plan = NULL;
	static SPIPlanPtr leftovers_plan = NULL;
	CodesStmtArgs *args = &op->args;
	CodesBatchInfo batch;
	int32		batch_id = 0;

	codes_lock_code_uses(DatumGetUUIDP(args->values[0]), ExclusiveLock);
	if (!codes_delete_directly(args, &batch_id))
	{
		codes_run_stmt(&plan, del_sql, args, false, SPI_OK_DELETE_RETURNING);
		if (SPI_processed == 0)
			return;
		batch_id = DatumGetInt32(codes_result(1));
		codes_run_stmt(&history_plan, del_history_sql, args, false, SPI_OK_DELETE);
	}
	if (batch_id == 0 || !codes_batch_info(batch_id, &batch) ||
		!CODES_MULTI_USE(&batch))
		return;

	codes_stripes_delete(args);

	/*
	 * At REPEATABLE READ or SERIALIZABLE, a use that committed while the
	 * delete waited for the code's lock left history or stripes its
	 * snapshot cannot see, nor so delete: as for a DELETE of a row changed
	 * meanwhile, a serialization failure.
	 */
	if (IsolationUsesXactSnapshot())
	{
		codes_run_stmt_snapshot(&leftovers_plan, leftovers_sql, args,
								GetLatestSnapshot(), SPI_OK_SELECT);
		if (DatumGetInt64(codes_result(1)) > 0)
			codes_serialization_failure("update");
	}
}

/*-------------------------------------------------------------------------
 *
 * store.c
 *	  The codes table, and the one place that decides what happens to a
 *	  code: find it by its key, use it, check it, look it up, undo a use,
 *	  delete it.
 *
 * An operation on a code begins with codes_store_open, which pins
 * search_path and finds the key the code is stored under, and ends with
 * codes_store_close; it connects to SPI only if it runs a statement.
 *
 * A single-use code's use is its row: locked, checked and written, the
 * direct way (store_direct.c) when it can, else through SQL, side by side
 * here.  A multi-use code's row is never locked or written by a use, so
 * that its customers do not queue behind each other: a use takes one of
 * its uses left from its stripes (stripes.c) if its batch caps them, and
 * records itself in the history (history.c) under its batch's limits per
 * redeemer; the uses of a batch's multi-use codes share a lock of the
 * batch that deletes take alone (locks.c).  Every look-up is one index
 * probe or range, whatever the code's past uses.
 *
 * No message raised here contains a code: server logs are read by more
 * people than the codes table.
 *
 * Calls store_direct.c (the fast path), stripes.c, history.c, locks.c,
 * statements.c, tables.c, searchpath.c, lookup.c and batch.c; called by
 * the SQL entry points (codes.c).
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
#include "locks.h"
#include "lookup.h"
#include "searchpath.h"
#include "statements.h"
#include "store.h"
#include "store_direct.h"
#include "stripes.h"
#include "tables.h"

/*
 * The row c of the code whose key is $1: one probe of the unique index.
 * Every statement takes the parameters of CodesStmtArgs (operation.h).
 */
#define MATCH_SQL \
	"codes.key_fold(c.code)" EQ "codes.key_fold($1) AND c.code" EQ "$1"

/*
 * Lock the code's row and read its batch and uses.  At READ COMMITTED a
 * concurrent use is waited for and its result seen.
 */
static const char *const lock_sql =
"SELECT c.batch, c.uses, c.deactivated_at IS NOT NULL, c.bound_to, c.metadata "
"FROM codes.codes AS c WHERE " MATCH_SQL " FOR UPDATE";

/* A use of a single-use code whose row we hold locked and have checked. */
static const char *const apply_sql =
"UPDATE codes.codes AS c "
"SET uses = c.uses" PLUS "1, used_at = pg_catalog.now(), used_by = $2 "
"WHERE " MATCH_SQL;

/* The same, for a use that the history holds: the row only counts it. */
static const char *const count_use_sql =
"UPDATE codes.codes AS c SET uses = c.uses" PLUS "1 WHERE " MATCH_SQL;

/*
 * Undo the standing use of a single-use code that its row holds (by $2,
 * if given): move it from the row into the history, marked undone.
 */
static const char *const undo_single_sql =
"WITH moved AS ("
" INSERT INTO codes.redemption_log (code, batch, redeemer, used_at, undone_at)"
" SELECT c.code, c.batch, c.used_by, c.used_at, pg_catalog.now()"
" FROM codes.codes AS c"
" WHERE " MATCH_SQL " AND c.uses" GT "0 AND c.used_at IS NOT NULL"
" AND ($2 IS NULL OR c.used_by" EQ "$2)"
" RETURNING 1) "
"UPDATE codes.codes AS c SET uses = 0, used_at = NULL, used_by = NULL "
"WHERE " MATCH_SQL " AND EXISTS (SELECT FROM moved)";

/* A single-use code's use that the history held was undone there. */
static const char *const uncount_use_sql =
"UPDATE codes.codes AS c SET uses = 0 WHERE " MATCH_SQL;

/* Whether a code is stored under the key $1. */
static const char *const exists_sql =
"SELECT FROM codes.codes AS c WHERE " MATCH_SQL;

/* The code's batch, uses and state, as lock_sql reads them. */
static const char *const query_sql =
"SELECT c.batch, c.uses, c.deactivated_at IS NOT NULL, c.bound_to, c.metadata "
"FROM codes.codes AS c WHERE " MATCH_SQL;

/* The name and metadata of batch $3. */
static const char *const details_sql =
"SELECT b.name, b.metadata FROM codes.batch AS b WHERE b.id" EQ "$3";

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
 * (and the batch's lock taken), sees the history of a use that the delete
 * waited for.
 */
static const char *const del_sql =
"DELETE FROM codes.codes AS c WHERE " MATCH_SQL " RETURNING c.batch";
static const char *const del_history_sql =
"DELETE FROM codes.redemption_log AS l WHERE l.code" EQ "$1";

/*
 * Ready an operation for writes to the tables: lock them, refuse rules,
 * and pin search_path again as a SET clause does if a write may run a
 * user's code (see codes_pin_search_path).  Rules are refused: a plan that
 * a rule rewrote to nothing would stay so after the rule is dropped.
 */
static void
prepare_writes(CodesPin *pin)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);

	if (known->rules)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("rules on the tables of extension codes are not supported"),
				 errhint("Use a trigger instead.")));
	if (known->user_code)
		codes_repin_by_guc(pin);
}

/*
 * Start an operation on a code: pin the search path (codes_pin_search_path:
 * writes tells whether the operation writes to the tables), take in changes
 * to codes.batch, and read the code into the parameters of a statement,
 * its key as $1 and the redeemer (unless redeemer_null) as $2.  Returns
 * true when a code may be stored under that key; false means there is no
 * such code, which callers answer as "not found".  Text
 * of no batch's shape is found so without touching a table.  A code that
 * may be stored under more than one key (plain and hashed batches of one
 * shape) is looked up under each in turn.  A code of a hashed batch whose
 * key is not configured cannot be looked up: not found too (the server
 * log says so, once per key and backend), so plain codes of the same
 * shape work on, and a guess is counted as any guess.
 * Either way the caller ends with codes_store_close.  writes: the operation
 * writes to the tables; then, if the text may be a code, they are locked
 * first (prepare_writes).
 */
bool
codes_store_open(CodesOp *op, text *code, Datum redeemer, bool redeemer_null,
				 bool writes)
{
	static SPIPlanPtr exists_plan = NULL;
	CodesPin   *pin = &op->pin;
	pg_uuid_t  *key = &op->key;
	CodesStmtArgs *args = &op->args;
	pg_uuid_t  *keys;
	char		missing_key[CODES_KEY_ID_LEN + 1];
	int			nkeys;
	int			i;

	args->connected = false;
	codes_pin_search_path(pin);
	codes_refresh_batch_cache();
	nkeys = codes_lookup_keys(code, &keys, missing_key);
	if (writes && nkeys > 0)
		prepare_writes(pin);

	memset(args->nulls, 'n', sizeof(args->nulls));
	args->nulls[0] = ' ';
	if (!redeemer_null)
	{
		args->values[1] = redeemer;
		args->nulls[1] = ' ';
	}

	for (i = 0; i < nkeys; i++)
	{
		*key = keys[i];
		args->values[0] = UUIDPGetDatum(key);
		if (nkeys == 1 && missing_key[0] == '\0')
			return true;
		codes_run_stmt(&exists_plan, exists_sql, args, true, SPI_OK_SELECT);
		if (SPI_processed == 1)
			return true;
	}
	if (args->connected)
		SPI_finish();
	args->connected = false;

	if (missing_key[0] != '\0')
		codes_note_missing_key(missing_key);
	return false;
}

/*
 * End an operation begun by codes_store_open.
 */
void
codes_store_close(CodesOp *op)
{
	if (op->args.connected)
		SPI_finish();
	op->args.connected = false;
	codes_unpin_search_path(&op->pin);
}

/*
 * Set the statements' parameter $3 to the batch of out's code.
 */
static void
set_batch(CodesStmtArgs *args, const CodesOutcome *out)
{
	args->values[2] = Int32GetDatum(out->batch.id);
	args->nulls[2] = ' ';
}

/*
 * Read the code's row with a saved statement that returns its batch, uses
 * and state (lock_sql or query_sql) and fill out with them; false if there
 * is no such code or batch (a batch_del that committed after this
 * statement's snapshot was taken, whose code is then treated as gone
 * too).  A row found is no guess, even if its batch is gone.
 */
static bool
read_code(SPIPlanPtr *planp, const char *sql, bool read_only,
		  CodesStmtArgs *args, CodesOutcome *out)
{
	HeapTuple	row;
	TupleDesc	desc;
	Datum		bound;
	bool		isnull;

	codes_run_stmt(planp, sql, args, read_only, SPI_OK_SELECT);
	if (SPI_processed != 1)
		return false;
	out->guess = false;
	if (!codes_batch_info(DatumGetInt32(codes_result(1)), &out->batch))
		return false;
	out->base = DatumGetInt32(codes_result(2));
	out->uses = out->base;
	out->deactivated = DatumGetBool(codes_result(3));
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	bound = SPI_getbinval(row, desc, 4, &isnull);
	out->bound_elsewhere = !isnull &&
		(args->nulls[1] == 'n' || !codes_texts_equal(bound, args->values[1]));
	out->code_metadata = SPI_getbinval(row, desc, 5, &out->code_metadata_null);
	if (!out->code_metadata_null)
		out->code_metadata = SPI_datumTransfer(out->code_metadata, false, -1);
	return true;
}

/*
 * Why the code in out cannot be used now, or CODES_OK: its batch, its own
 * state and its uses (codes_code_refusal).
 */
static CodesReason
refusal(const CodesOutcome *out, int64 uses)
{
	return codes_code_refusal(&out->batch, uses, out->deactivated,
							  out->bound_elsewhere);
}

/*
 * Lock a single-use code's row (lock_sql) and fill out with its batch and
 * uses; false if there is no such code or batch.
 */
static bool
lock_code(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;

	return read_code(&plan, lock_sql, false, args, out);
}

/*
 * Read the code's row without locking it: directly (codes_read_directly)
 * where it can, else with query_sql.
 */
static bool
look_up_code(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;
	bool		found;

	if (codes_read_directly(args, out, &found))
		return found;
	return read_code(&plan, query_sql, true, args, out);
}

/*
 * Count a code's standing uses into out->uses, for a multi-use code with a
 * total cap: its row's and its stripes', as the statement's snapshot sees
 * them, or (fresh) with this operation's own changes.  A code without a
 * cap keeps its row's count there (its uses left are not counted); a
 * single-use code's row counts them all.
 */
static void
count_uses(CodesStmtArgs *args, CodesOutcome *out, bool fresh)
{
	out->uses = out->base;
	if (CODES_MULTI_USE(&out->batch) && !out->batch.max_uses_null)
		out->uses += codes_stripes_uses(args, fresh);
}

/*
 * Use a single-use code through SQL, its row locked first: at READ
 * COMMITTED a concurrent use or undo is waited for and its result seen.
 * A batch with a limit per redeemer across the batch records the use in
 * the history under it; the row then only counts the use.  The UPDATE
 * fires every trigger an UPDATE fires; if a BEFORE trigger skips it,
 * nothing was used (reported as used up).
 */
static void
use_single(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr apply_plan = NULL;
	static SPIPlanPtr count_plan = NULL;

	if (!lock_code(args, out))
	{
		out->reason = CODES_NOT_FOUND;
		return;
	}
	out->reason = refusal(out, out->uses);
	if (out->reason != CODES_OK)
		return;

	if (!out->batch.batch_limit_null)
	{
		out->reason = codes_history_record(args, &out->batch);
		if (out->reason != CODES_OK)
			return;
		codes_run_stmt(&count_plan, count_use_sql, args, false, SPI_OK_UPDATE);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
					 errmsg("a trigger on codes.codes skipped the use of a code"),
					 errdetail("The code's batch limits the uses of each redeemer across the batch, so its uses are recorded in codes.redemption_log; a BEFORE trigger on codes.codes must not skip them.")));
	}
	else
	{
		codes_run_stmt(&apply_plan, apply_sql, args, false, SPI_OK_UPDATE);
		if (SPI_processed != 1)
		{
			out->reason = CODES_USED_UP;
			return;
		}
	}
	out->uses++;
}

/*
 * Use a multi-use code: take one of its uses left from its stripes, if its
 * batch caps them, then record the use in the history under its batch's
 * limits per redeemer, giving the stripe's use back if they refuse.  A
 * refusal that an unlocked look can tell (the redeemer's share used, as
 * committed) writes nothing.  Its row is never locked.
 */
static void
use_multi(CodesStmtArgs *args, CodesOutcome *out)
{
	bool		capped = !out->batch.max_uses_null;
	int			stripe = -1;

	out->reason = refusal(out, out->base);
	if (out->reason != CODES_OK && out->reason != CODES_USED_UP)
		return;
	codes_lock_batch(out->batch.id, ShareLock);
	set_batch(args, out);

	out->reason = codes_history_precheck(args, &out->batch);
	if (out->reason == CODES_OK && capped)
	{
		stripe = codes_stripes_take(args, &out->batch, out->base);
		if (stripe < 0)
			out->reason = CODES_USED_UP;
	}
	if (out->reason == CODES_OK)
	{
		out->reason = codes_history_record(args, &out->batch);
		if (out->reason != CODES_OK && stripe >= 0)
			codes_stripes_put_back(args, stripe);
	}
	else if (capped)
	{
		/* used up comes before the redeemer's share, as for a query */
		count_uses(args, out, true);
		if (!codes_usable(&out->batch, out->uses))
			out->reason = CODES_USED_UP;
	}
}

/*
 * Use the code, if it can be used now, and say what happened in out:
 * code_use's operation.
 *
 * A single-use code is used directly (codes_use_directly) when it can,
 * else through SQL (use_single); a multi-use code by use_multi.
 */
void
codes_store_use(CodesOp *op, CodesOutcome *out)
{
	CodesStmtArgs *args = &op->args;

	switch (codes_use_directly(args, out))
	{
		case CODES_DIRECT_DECIDED:
			return;
		case CODES_DIRECT_FOUND:
			break;
		case CODES_DIRECT_NONE:
			if (!look_up_code(args, out))
			{
				out->reason = CODES_NOT_FOUND;
				return;
			}
			break;
	}
	codes_require_redeemer(&out->batch, args->nulls[1] == 'n');
	if (CODES_MULTI_USE(&out->batch))
		use_multi(args, out);
	else
	{
		/* a refusal by the batch's limit that an unlocked look tells */
		set_batch(args, out);
		out->reason = codes_history_precheck(args, &out->batch);
		if (out->reason == CODES_OK)
			use_single(args, out);
	}
}

/*
 * Add to out, for a code that was found, the name and metadata of its
 * batch, copied out of SPI's memory.
 */
static void
add_details(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	if (out->reason == CODES_NOT_FOUND)
		return;
	set_batch(args, out);
	/* a new snapshot, as the use had: it sees the batch the use saw */
	codes_run_stmt(&plan, details_sql, args, false, SPI_OK_SELECT);
	if (SPI_processed != 1)
	{
		/* the batch went since; a use made stands, with no details */
		if (out->reason != CODES_OK)
			out->reason = CODES_NOT_FOUND;
		return;
	}
	out->have_details = true;
	out->batch_name = SPI_datumTransfer(codes_result(1), false, -1);
	out->metadata = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  2, &isnull);
	out->metadata_null = isnull;
	if (!isnull)
		out->metadata = SPI_datumTransfer(out->metadata, false, -1);
}

/*
 * Use the code, and tell its batch and its uses left: code_redeem's
 * operation.
 */
void
codes_store_redeem(CodesOp *op, CodesOutcome *out)
{
	codes_store_use(op, out);
	if (out->reason != CODES_NOT_FOUND && out->reason != CODES_BRAKED &&
		CODES_MULTI_USE(&out->batch))
		count_uses(&op->args, out, true);
	add_details(&op->args, out);
}

/*
 * Whether the code could be used now, without using it or locking it, and
 * its batch: code_check's operation.  Its uses are those code_redeem would
 * answer with: after the use, when it could be used.
 */
void
codes_store_check(CodesOp *op, CodesOutcome *out)
{
	CodesStmtArgs *args = &op->args;

	if (!look_up_code(args, out))
		out->reason = CODES_NOT_FOUND;
	else
	{
		codes_require_redeemer(&out->batch, args->nulls[1] == 'n');
		count_uses(args, out, false);
		out->reason = refusal(out, out->uses);
		if (out->reason == CODES_OK)
		{
			set_batch(args, out);
			out->reason = codes_history_limits(args, &out->batch);
		}
		if (out->reason == CODES_OK)
			out->uses++;
	}
	add_details(args, out);
}

/*
 * The code's batch and uses, without a judgement of the redeemer:
 * code_query's operation.
 */
void
codes_store_query(CodesOp *op, CodesOutcome *out)
{
	if (look_up_code(&op->args, out))
	{
		count_uses(&op->args, out, false);
		out->reason = codes_code_refusal(&out->batch, out->uses,
										 out->deactivated, false);
	}
	else
		out->reason = CODES_NOT_FOUND;
}

/*
 * Undo the latest standing use of the code (by the redeemer, if given);
 * true when there was one.  A single-use code's row is locked first, so
 * an undo and a use of it take turns; its use is moved from the row into
 * the history, marked undone, or, if the history holds it, marked undone
 * there.  A multi-use code's use is marked undone in the history and, if
 * its batch caps its uses, given back to its stripes.
 */
bool
codes_store_undo(CodesOp *op)
{
	static SPIPlanPtr single_plan = NULL;
	static SPIPlanPtr uncount_plan = NULL;
	CodesStmtArgs *args = &op->args;
	CodesOutcome found;

	memset(&found, 0, sizeof(found));
	if (!look_up_code(args, &found))
		return false;
	set_batch(args, &found);

	if (CODES_MULTI_USE(&found.batch))
	{
		codes_lock_batch(found.batch.id, ShareLock);
		if (!codes_history_undo(args))
			return false;
		if (!found.batch.max_uses_null)
			codes_stripes_give(args, &found.batch);
		return true;
	}

	if (!lock_code(args, &found))
		return false;
	codes_run_stmt(&single_plan, undo_single_sql, args, false, SPI_OK_UPDATE);
	if (SPI_processed == 1)
		return true;
	if (found.uses == 0 || !codes_history_undo(args))
		return false;
	codes_run_stmt(&uncount_plan, uncount_use_sql, args, false, SPI_OK_UPDATE);
	return true;
}

/*
 * Delete the code, its history and its stripes: code_del's operation.
 * Directly (codes_delete_directly) where it can, else with del_sql and
 * del_history_sql.  A multi-use code's batch lock is taken alone between
 * its row and its history (see codes_delete_directly).
 */
void
codes_store_delete(CodesOp *op)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr history_plan = NULL;
	CodesStmtArgs *args = &op->args;
	CodesBatchInfo batch;
	int32		batch_id = 0;

	if (!codes_delete_directly(args, &batch_id))
	{
		codes_run_stmt(&plan, del_sql, args, false, SPI_OK_DELETE_RETURNING);
		if (SPI_processed == 0)
			return;
		batch_id = DatumGetInt32(codes_result(1));
		if (codes_batch_info(batch_id, &batch) && CODES_MULTI_USE(&batch))
			codes_lock_batch(batch_id, ExclusiveLock);
		codes_run_stmt(&history_plan, del_history_sql, args, false, SPI_OK_DELETE);
	}
	if (batch_id != 0 && codes_batch_info(batch_id, &batch) &&
		CODES_MULTI_USE(&batch))
	{
		static SPIPlanPtr leftovers_plan = NULL;

		codes_stripes_delete(args);
		/*
		 * At REPEATABLE READ or SERIALIZABLE, a use that committed while
		 * the delete waited for the batch's lock left history or stripes
		 * its snapshot cannot see, nor so delete: as for a DELETE of a row
		 * changed meanwhile, a serialization failure.
		 */
		if (IsolationUsesXactSnapshot())
		{
			codes_run_stmt_snapshot(&leftovers_plan, leftovers_sql, args,
									GetLatestSnapshot(), SPI_OK_SELECT);
			if (DatumGetInt64(codes_result(1)) > 0)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
		}
	}
}

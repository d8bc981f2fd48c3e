/*-------------------------------------------------------------------------
 *
 * store.c
 *	  The codes table, and the one place that decides a use of a code:
 *	  read a code by its key, use it (or hold a use of it), count its
 *	  uses.  Giving uses back and deleting are
 *	  store_undo.c's.
 *
 * An operation on a code begins with codes_store_open and ends with
 * codes_store_close (store_open.c); reads that use nothing, code_check's
 * and code_query's, and what code_redeem answers besides the use, are
 * store_read.c's.
 *
 * A single-use code's use is its row: locked, checked and written, the
 * direct way (store_direct.c) when it can, else through SQL, here.  Its
 * use is recorded in the history instead (the row then counts it, with
 * used_at NULL) when its batch limits uses per redeemer across the batch
 * or the use carries a reference, details or is a hold.  A multi-use
 * code's row is never locked or written by a use, so that its customers
 * do not queue behind each other: a use takes one of its uses left from
 * its stripes (stripes.c) if its batch caps them, and records itself in
 * the history (history.c) under its batch's limits per redeemer; the uses
 * of a batch's multi-use codes share a lock of the batch that deletes take
 * alone (locks.c).  A hold (holds.c) is a use recorded with held_until:
 * once that has passed, the next use that finds no use left gives its use
 * back.  Every look-up is one index probe or range, whatever the code's
 * past uses.
 *
 * No message raised here contains a code: server logs are read by more
 * people than the codes table.
 *
 * Calls store_direct.c (the fast path), stripes.c, history.c, holds.c,
 * locks.c, statements.c, batch.c, store_open.c and store_read.c;
 * called by the SQL entry points (codes.c) and store_undo.c.
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
#include "statements.h"
#include "store.h"
#include "store_direct.h"
#include "stripes.h"

/*
 * Lock the code's row and read its batch, uses and state.  At READ
 * COMMITTED a concurrent use is waited for and its result seen.
 */
static const char *const lock_sql =
"SELECT c.batch, c.uses, c.deactivated_at IS NOT NULL, c.bound_to, c.metadata, "
"c.used_at IS NULL FROM codes.codes AS c WHERE " CODES_MATCH_SQL " FOR UPDATE";

/* The code's batch, uses and state, as lock_sql reads them. */
static const char *const query_sql =
"SELECT c.batch, c.uses, c.deactivated_at IS NOT NULL, c.bound_to, c.metadata, "
"c.used_at IS NULL FROM codes.codes AS c WHERE " CODES_MATCH_SQL;

/* A use of a single-use code whose row we hold locked and have checked. */
static const char *const apply_sql =
"UPDATE codes.codes AS c "
"SET uses = c.uses" PLUS "1, used_at = pg_catalog.now(), used_by = $2 "
"WHERE " CODES_MATCH_SQL;

/*
 * The same, for a use (or hold) that the history records: the row only
 * counts it; and its undo, or expiry, by $5 uses.
 */
static const char *const count_use_sql =
"UPDATE codes.codes AS c SET uses = c.uses" PLUS "1 WHERE " CODES_MATCH_SQL;
static const char *const uncount_uses_sql =
"UPDATE codes.codes AS c SET uses = c.uses" MINUS "$5 WHERE " CODES_MATCH_SQL;

/*
 * Fill out with the code's row, as the statement just run (lock_sql or
 * query_sql) returned its batch, uses and state; false if there is no
 * such code or batch (a batch_del that committed after this
 * statement's snapshot was taken, whose code is then treated as gone
 * too).  A row found is no guess, even if its batch is gone.
 */
static bool
fill_code(CodesStmtArgs *args, CodesOutcome *out)
{
	HeapTuple	row;
	TupleDesc	desc;
	Datum		bound;
	bool		isnull;

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
	out->logged = !CODES_MULTI_USE(&out->batch) && out->base > 0 &&
		DatumGetBool(codes_result(6));
	return true;
}

/*
 * Read the code's row with a saved statement that returns its batch, uses
 * and state (lock_sql or query_sql) and fill out with them (fill_code).
 */
static bool
read_code(SPIPlanPtr *planp, const char *sql, bool read_only,
		  CodesStmtArgs *args, CodesOutcome *out)
{
	codes_run_stmt(planp, sql, args, read_only, SPI_OK_SELECT);
	return fill_code(args, out);
}

/*
 * Why the code in out cannot be used now with this many uses, or CODES_OK:
 * its batch, its own state and its uses (codes_code_refusal).
 */
static CodesReason
refusal(const CodesOutcome *out, int64 uses)
{
	return codes_code_refusal(&out->batch, uses, out->deactivated,
							  out->bound_elsewhere);
}

/*
 * Lock a single-use code's row (lock_sql) and fill out with its batch,
 * uses and state; false if there is no such code or batch.
 */
bool
codes_store_lock(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;

	return read_code(&plan, lock_sql, false, args, out);
}

/*
 * Read the code's row without locking it: directly (codes_read_directly)
 * where it can, else with query_sql.
 */
bool
codes_store_look_up(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;
	bool		found;

	if (codes_read_directly(args, out, &found))
		return found;
	return read_code(&plan, query_sql, true, args, out);
}

/*
 * Change a single-use code's count of uses by -n ($5): uses the history
 * held, undone or expired.
 */
void
codes_store_uncount(CodesStmtArgs *args, int64 n)
{
	static SPIPlanPtr plan = NULL;

	codes_set_big(args, n);
	codes_run_stmt(&plan, uncount_uses_sql, args, false, SPI_OK_UPDATE);
}

/*
 * Count a code's standing uses into out->uses, as the statement's snapshot
 * sees them, or (fresh) with this operation's own changes: a single-use
 * code's row counts them; a multi-use code with a total cap has its row's
 * and its stripes'; one without a cap keeps its row's count there (its
 * uses left are not counted).  A hold whose time has passed, not yet
 * expired by a use, is no use; *live (if not NULL) is set to the code's
 * live holds.
 */
void
codes_store_count_uses(CodesStmtArgs *args, CodesOutcome *out, bool fresh,
					   int64 *live)
{
	bool		capped = CODES_MULTI_USE(&out->batch) && !out->batch.max_uses_null;
	int64		live_holds = 0;
	int64		expired = 0;

	out->uses = out->base;
	if (capped)
		out->uses += codes_stripes_uses(args, fresh);
	if (capped || out->logged)
	{
		codes_holds_count(args, fresh, &live_holds, &expired);
		out->uses -= expired;
	}
	if (live)
		*live = live_holds;
}

/*
 * Give back the uses of the code's holds whose time has passed (expiring
 * them); true if there were any, as a new statement sees them: then the
 * use looks for a use left again, even if another transaction expired
 * them first (its expiry, waited for, may have left uses it did not
 * take).  Before a use finds none left.
 */
static bool
expire_holds(CodesStmtArgs *args, CodesOutcome *out)
{
	int64		live;
	int64		lapsed;
	int64		expired;
	int64		i;

	codes_holds_count(args, true, &live, &lapsed);
	if (lapsed == 0)
		return false;
	expired = codes_holds_expire(args);
	if (expired == 0)
		return true;
	if (!CODES_MULTI_USE(&out->batch))
	{
		codes_store_uncount(args, expired);
		out->base -= expired;
		out->uses = out->base;
		out->logged = out->base > 0;
	}
	else
		for (i = 0; i < expired; i++)
			codes_stripes_give(args, &out->batch);
	return true;
}

/*
 * Take the locks that every change of a multi-use code's uses shares (a
 * use, an undo, a confirm or a release of a hold): its batch's, which
 * batch_del and a change of the batch's rules (batch_set_max_uses, ...)
 * take alone, then the code's own, which code_del takes alone (locks.c).
 * The code was found before they were taken, so what out says of it may
 * no longer hold: a delete, or a change of its batch's rules (which folds
 * its stripes into its row, and commits before it lets go of the lock),
 * may have committed meanwhile.  At READ COMMITTED the code and its batch
 * are read again, with the latest snapshot: false if the code is gone
 * (the caller answers as for a code not found); the caller looks again
 * whether it is still multi-use.  At REPEATABLE READ or SERIALIZABLE a
 * delete, or a change of the batch's rules, committed after the snapshot
 * is a serialization failure, as for an UPDATE of a row changed
 * meanwhile.
 */
bool
codes_store_share_code(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;
	int32		batch_id = out->batch.id;

	codes_lock_batch(batch_id, ShareLock);
	codes_lock_code_uses(DatumGetUUIDP(args->values[0]), ShareLock);
	codes_refresh_batch_cache();
	if (!IsolationUsesXactSnapshot())
	{
		codes_run_stmt_snapshot(&plan, query_sql, args, GetLatestSnapshot(),
								SPI_OK_SELECT);
		return fill_code(args, out);
	}
	if (!codes_store_exists(args, GetLatestSnapshot()) ||
		!codes_batch_info(batch_id, &out->batch))
		codes_serialization_failure("delete");
	if (codes_batch_rules_changed(batch_id))
		codes_serialization_failure("update");
	return true;
}

/*
 * Used up: or held, if holds of others take some of the code's uses.
 */
static CodesReason
used_up(CodesStmtArgs *args, CodesOutcome *out)
{
	int64		live;

	codes_store_count_uses(args, out, true, &live);
	return live > 0 ? CODES_HELD : CODES_USED_UP;
}

/*
 * For a used single-use code whose use the history holds and whose row no
 * transaction is changing: if none of its holds has run out of time, the
 * use is refused as used up (or held) without a row lock.  True if so.
 */
static bool
settled_refusal(CodesStmtArgs *args, CodesOutcome *out)
{
	int64		live;
	int64		expired;

	codes_holds_count(args, true, &live, &expired);
	if (expired > 0)
		return false;
	out->reason = live > 0 ? CODES_HELD : CODES_USED_UP;
	return true;
}

/*
 * Does the use in args carry more than a redeemer: a reference, details,
 * or the end of a hold?
 */
static bool
use_extras(CodesStmtArgs *args)
{
	return args->nulls[CODES_ARG_REFERENCE] != 'n' ||
		args->nulls[CODES_ARG_DETAILS] != 'n' ||
		args->nulls[CODES_ARG_HELD_UNTIL] != 'n';
}

/*
 * Does the use in args have to be recorded in the history, for a
 * single-use code: a limit per redeemer across its batch, or more than a
 * redeemer to record?
 */
static bool
logged_use(CodesStmtArgs *args, const CodesOutcome *out)
{
	return !out->batch.batch_limit_null || use_extras(args);
}

/*
 * Use a single-use code through SQL, its row locked first: at READ
 * COMMITTED a concurrent use or undo is waited for and its result seen.
 * A use that the history records (logged_use) is recorded under the
 * batch's limits per redeemer; the row then only counts it.  A code whose
 * use the history holds as a hold whose time has passed gets it back
 * first.  The UPDATE fires every trigger an UPDATE fires; if a BEFORE
 * trigger skips it, nothing was used (reported as used up).
 */
static void
use_single(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr apply_plan = NULL;
	static SPIPlanPtr count_plan = NULL;

	if (!codes_store_lock(args, out))
	{
		out->reason = CODES_NOT_FOUND;
		return;
	}
	out->reason = refusal(out, out->uses);
	if (out->reason == CODES_USED_UP && out->logged &&
		expire_holds(args, out))
		out->reason = refusal(out, out->uses);
	if (out->reason == CODES_USED_UP && out->logged)
		out->reason = used_up(args, out);
	if (out->reason != CODES_OK)
		return;
	if (IsolationUsesXactSnapshot() && codes_batch_rules_changed(out->batch.id))
		codes_serialization_failure("update");

	if (logged_use(args, out))
	{
		out->reason = codes_history_record(args, &out->batch, &out->entry);
		if (out->reason != CODES_OK)
			return;
		codes_run_stmt(&count_plan, count_use_sql, args, false, SPI_OK_UPDATE);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
					 errmsg("a trigger on codes.codes skipped the use of a code"),
					 errdetail("The use is recorded in codes.redemption_log, and the code's row must count it; a BEFORE trigger on codes.codes must not skip that.")));
		out->logged = true;
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
	out->base++;
	out->uses++;
}

/*
 * Use a multi-use code: take one of its uses left from its stripes, if its
 * batch caps them (if none is left, holds whose time has passed give
 * theirs back first), then record the use in the history under its
 * batch's limits per redeemer, giving the stripe's use back if they
 * refuse.  A refusal that an unlocked look can tell (the redeemer's share
 * used, as committed) writes nothing.  Its row is never locked.  A code
 * that its batch made single-use while the use waited for its lock is
 * used as one.
 */
static void
use_multi(CodesStmtArgs *args, CodesOutcome *out)
{
	bool		capped = !out->batch.max_uses_null;
	int			stripe = -1;

	out->reason = refusal(out, out->base);
	if (out->reason != CODES_OK && out->reason != CODES_USED_UP)
		return;
	codes_store_set_batch(args, out);
	if (!codes_store_share_code(args, out))
	{
		out->reason = CODES_NOT_FOUND;
		return;
	}
	/* as it is now: single-use meanwhile (batch_set_max_uses), say */
	codes_require_redeemer(&out->batch, args->nulls[1] == 'n');
	if (!CODES_MULTI_USE(&out->batch))
	{
		use_single(args, out);
		return;
	}
	out->reason = refusal(out, out->base);
	if (out->reason != CODES_OK && out->reason != CODES_USED_UP)
		return;
	capped = !out->batch.max_uses_null;

	out->reason = codes_history_precheck(args, &out->batch);
	if (out->reason == CODES_OK && capped)
	{
		stripe = codes_stripes_take(args, &out->batch, out->base);
		if (stripe < 0 && expire_holds(args, out))
			stripe = codes_stripes_take(args, &out->batch, out->base);
		if (stripe < 0)
			out->reason = used_up(args, out);
	}
	if (out->reason == CODES_OK)
	{
		out->reason = codes_history_record(args, &out->batch, &out->entry);
		if (out->reason != CODES_OK && stripe >= 0)
			codes_stripes_put_back(args, stripe);
	}
	else if (out->reason != CODES_USED_UP && out->reason != CODES_HELD && capped)
	{
		int64		live;

		/*
		 * Used up (or held) comes before the redeemer's share, as for
		 * code_check.
		 */
		codes_store_count_uses(args, out, true, &live);
		if (!codes_usable(&out->batch, out->uses))
			out->reason = live > 0 ? CODES_HELD : CODES_USED_UP;
	}
}

/*
 * Use the code, if it can be used now, and say what happened in out:
 * code_use's operation (with a reference, details or a hold in args:
 * code_redeem's and code_hold's).
 *
 * A single-use code is used directly (codes_use_directly) when it can,
 * else through SQL (use_single); a multi-use code by use_multi.
 */
void
codes_store_use(CodesOp *op, CodesOutcome *out)
{
	CodesStmtArgs *args = &op->args;

	switch (codes_use_directly(args, !use_extras(args), out))
	{
		case CODES_DIRECT_DECIDED:
			return;
		case CODES_DIRECT_FOUND:
			break;
		case CODES_DIRECT_NONE:
			if (!codes_store_look_up(args, out))
			{
				out->reason = CODES_NOT_FOUND;
				return;
			}
			break;
	}
	codes_require_redeemer(&out->batch, args->nulls[1] == 'n');
	codes_history_require_exact(&out->batch);
	if (CODES_MULTI_USE(&out->batch))
		use_multi(args, out);
	else
	{
		/*
		 * A refusal that an unlocked look tells: the batch's limit for an
		 * unused code, the code's use for a used one (unless it may be a
		 * hold whose time has passed).
		 */
		codes_store_set_batch(args, out);
		if (refusal(out, out->uses) == CODES_OK)
			out->reason = codes_history_precheck(args, &out->batch);
		else if (out->settled && settled_refusal(args, out))
			return;
		else
			out->reason = CODES_OK;
		if (out->reason == CODES_OK)
			use_single(args, out);
	}
}

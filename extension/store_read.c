/*-------------------------------------------------------------------------
 *
 * store_read.c
 *	  What a code's answers tell besides its use: code_redeem's and
 *	  code_hold's uses left and batch (after store.c used it), and the
 *	  reads that use nothing, code_check's and code_query's.
 *
 * Calls store.c (the look-up and the count of uses), history.c, batch.c
 * and statements.c; called by the SQL entry points (codes.c, checkout.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"

#include "batch.h"
#include "history.h"
#include "statements.h"
#include "store.h"
#include "store_read.h"

/* The name and metadata of batch $3. */
static const char *const details_sql =
"SELECT b.name, b.metadata FROM codes.batch AS b WHERE b.id" EQ "$3";

/*
 * Add to out, for a code that was found, the name and metadata of its
 * batch, copied out of SPI's memory: what code_redeem, code_hold and
 * code_check answer with.
 */
static void
add_details(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	if (out->reason == CODES_NOT_FOUND)
		return;
	codes_store_set_batch(args, out);
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
 * Whether the code could be used now, without using it or locking it, and
 * its batch: code_check's operation.  Its uses are those code_redeem would
 * answer with: after the use, when it could be used.
 */
void
codes_store_check(CodesOp *op, CodesOutcome *out)
{
	CodesStmtArgs *args = &op->args;
	int64		live;

	if (!codes_store_look_up(args, out))
		out->reason = CODES_NOT_FOUND;
	else
	{
		codes_require_redeemer(&out->batch, args->nulls[1] == 'n');
		codes_store_count_uses(args, out, false, &live);
		out->reason = codes_code_refusal(&out->batch, out->uses,
										 out->deactivated, out->bound_elsewhere);
		if (out->reason == CODES_USED_UP && live > 0)
			out->reason = CODES_HELD;
		if (out->reason == CODES_OK)
		{
			codes_store_set_batch(args, out);
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
	if (codes_store_look_up(&op->args, out))
	{
		codes_store_count_uses(&op->args, out, false, NULL);
		out->reason = codes_code_refusal(&out->batch, out->uses,
										 out->deactivated, false);
	}
	else
		out->reason = CODES_NOT_FOUND;
}

/*
 * Use the code (or hold a use of it, with held_until in args), and tell
 * its batch and its uses left: code_redeem's and code_hold's operation.
 */
void
codes_store_redeem(CodesOp *op, CodesOutcome *out)
{
	codes_store_use(op, out);
	if (out->reason != CODES_NOT_FOUND && out->reason != CODES_BRAKED &&
		(CODES_MULTI_USE(&out->batch) || out->logged))
		codes_store_count_uses(&op->args, out, true, NULL);
	add_details(&op->args, out);
}

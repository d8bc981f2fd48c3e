/*-------------------------------------------------------------------------
 *
 * entry.c
 *	  What every SQL entry point on a code does: keep the statement out of
 *	  the server log, check the code and the redeemer, open the operation,
 *	  brake and count guesses, and put an outcome into a result row.
 *
 * No message raised here contains a code: server logs are read by more
 * people than the codes table.
 *
 * Calls store.c, brake.c and batch.c; called by the entry points
 * (codes.c, code_control.c, checkout.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "batch.h"
#include "brake.h"
#include "compat.h"				/* varatt.h from 16 on */
#include "entry.h"

/* codes.require_redeemer: a call that can guess a code must name its user */
static bool require_redeemer = false;

/*
 * Define this file's setting; called from _PG_init.
 */
void
codes_init_entry(void)
{
	DefineCustomBoolVariable("codes.require_redeemer",
							 "Refuses code_use, code_redeem, code_check, code_query and code_hold without a redeemer.",
							 "So that the brake counts every guess: calls without a redeemer are neither braked nor counted.",
							 &require_redeemer, false, PGC_SUSET, 0,
							 NULL, NULL, NULL);
}

/*
 * Error context callback of every function that takes a code: keep the
 * statement out of the server log for any error raised while it runs, its
 * own and PostgreSQL's (a serialization failure, a lock timeout), since
 * the statement may well hold the code as a literal.
 */
static void
hide_statement(void *arg)
{
	errhidestmt(true);
}

/*
 * Install hide_statement for the rest of a call; codes_end_hiding removes
 * it.
 */
void
codes_begin_hiding(ErrorContextCallback *callback)
{
	callback->callback = hide_statement;
	callback->arg = NULL;
	callback->previous = error_context_stack;
	error_context_stack = callback;
}

/*
 * Remove the callback installed by codes_begin_hiding.
 */
void
codes_end_hiding(ErrorContextCallback *callback)
{
	error_context_stack = callback->previous;
}

/*
 * Raise an error if the code argument (argument 0) is NULL.
 */
void
codes_require_code(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("code must not be null")));
}

/*
 * The redeemer argument (1), or NULL if the function has none or it is
 * NULL.  One longer than CODES_MAX_REDEEMER bytes is an error: the history
 * indexes its redeemers.
 */
text *
codes_redeemer_arg(FunctionCallInfo fcinfo)
{
	text	   *redeemer;

	if (PG_NARGS() < 2 || PG_ARGISNULL(1))
		return NULL;
	redeemer = PG_GETARG_TEXT_PP(1);
	if (VARSIZE_ANY_EXHDR(redeemer) > CODES_MAX_REDEEMER)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("redeemer is too long"),
				 errdetail("A redeemer has at most %d bytes; this one has %d.",
						   CODES_MAX_REDEEMER, (int) VARSIZE_ANY_EXHDR(redeemer)),
				 errhint("Pass the end user's identity, such as an account id.")));
	return redeemer;
}

/*
 * The reference (argument refarg) and details (argument refarg + 1) of a
 * use into extras, each NULL if the function has no such argument or it
 * is NULL.  A reference longer than CODES_MAX_REDEEMER bytes is an error,
 * as a redeemer's: the history indexes its references.
 */
void
codes_extras_args(FunctionCallInfo fcinfo, int refarg, CodesExtras *extras)
{
	text	   *reference;

	memset(extras, 0, sizeof(*extras));
	extras->reference_null = PG_NARGS() <= refarg || PG_ARGISNULL(refarg);
	extras->details_null = PG_NARGS() <= refarg + 1 || PG_ARGISNULL(refarg + 1);
	extras->held_until_null = true;
	if (!extras->reference_null)
	{
		reference = PG_GETARG_TEXT_PP(refarg);
		if (VARSIZE_ANY_EXHDR(reference) > CODES_MAX_REDEEMER)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("reference is too long"),
					 errdetail("A reference has at most %d bytes; this one has %d.",
							   CODES_MAX_REDEEMER, (int) VARSIZE_ANY_EXHDR(reference)),
					 errhint("Pass the application's own id of what the use was for, such as an order id.")));
		extras->reference = PointerGetDatum(reference);
	}
	if (!extras->details_null)
		extras->details = PG_GETARG_DATUM(refarg + 1);
}

/*
 * Open an operation on the code argument (argument 0) for the redeemer
 * argument (1, where the function has one): codes_store_open.
 */
bool
codes_open_code(FunctionCallInfo fcinfo, bool writes, CodesOp *op)
{
	text	   *redeemer = codes_redeemer_arg(fcinfo);

	return codes_store_open(op, PG_GETARG_TEXT_PP(0),
							PointerGetDatum(redeemer), redeemer == NULL, writes);
}

/*
 * Run an action on the code argument (0) for the redeemer argument (1,
 * which may be NULL or missing, unless codes.require_redeemer is on),
 * with the extras of a use (NULL: none),
 * under the brake: a braked redeemer gets CODES_BRAKED without a look-up,
 * and a redeemer's guess, a code of which no row is found, is counted
 * (brake.c).  A code that exists but cannot be used now (used up, out of
 * its period, a lost race, even with a delete of its batch) is no guess.
 * writes: the action writes (see codes_pin_search_path).
 */
void
codes_run_braked(FunctionCallInfo fcinfo, bool writes, CodesAction action,
				 const CodesExtras *extras, CodesOutcome *out)
{
	text	   *redeemer;
	CodesOp		op;

	codes_require_code(fcinfo);
	redeemer = codes_redeemer_arg(fcinfo);
	if (redeemer == NULL && require_redeemer)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("redeemer must not be null"),
				 errdetail("codes.require_redeemer is on: a call that may guess a code must name its end user, so that the brake counts its guesses."),
				 errhint("Pass the end user's identity, such as an account id, as the redeemer.")));
	memset(out, 0, sizeof(*out));
	out->reason = CODES_NOT_FOUND;
	out->guess = true;
	if (redeemer != NULL && codes_braked(redeemer))
	{
		out->reason = CODES_BRAKED;
		return;
	}

	if (codes_open_code(fcinfo, writes, &op))
	{
		if (extras)
		{
			CodesStmtArgs *args = &op.args;

			args->values[CODES_ARG_REFERENCE] = extras->reference;
			args->nulls[CODES_ARG_REFERENCE] = extras->reference_null ? 'n' : ' ';
			args->values[CODES_ARG_DETAILS] = extras->details;
			args->nulls[CODES_ARG_DETAILS] = extras->details_null ? 'n' : ' ';
			args->values[CODES_ARG_HELD_UNTIL] = extras->held_until;
			args->nulls[CODES_ARG_HELD_UNTIL] = extras->held_until_null ? 'n' : ' ';
		}
		action(&op, out);
	}
	codes_store_close(&op);

	if (out->guess && redeemer != NULL)
		codes_count_failure(redeemer);
}

/*
 * The columns of the row that code_redeem, code_check and code_hold
 * answer with, into values and nulls (7 each): (ok, reason, batch,
 * metadata, uses_left, valid_until, code_metadata).  For a code not found,
 * and for a braked redeemer, only ok and reason: a guesser learns nothing
 * more.
 */
void
codes_outcome_values(const CodesOutcome *out, Datum *values, bool *nulls)
{
	const char *reason = codes_reason_name(out->reason);
	int			i;

	for (i = 2; i < 7; i++)
		nulls[i] = true;
	values[0] = BoolGetDatum(out->reason == CODES_OK);
	nulls[0] = false;
	values[1] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[1] = (reason == NULL);
	if (out->reason == CODES_NOT_FOUND || out->reason == CODES_BRAKED)
		return;
	values[2] = out->batch_name;
	nulls[2] = !out->have_details;
	values[3] = out->metadata;
	nulls[3] = !out->have_details || out->metadata_null;
	values[4] = Int32GetDatum((int32) Max(out->batch.max_uses - out->uses, 0));
	nulls[4] = out->batch.max_uses_null;
	values[5] = TimestampTzGetDatum(out->batch.valid_until);
	nulls[5] = out->batch.until_null;
	values[6] = out->code_metadata;
	nulls[6] = out->code_metadata_null;
}

/*-------------------------------------------------------------------------
 *
 * checkout.c
 *	  The SQL entry points of a checkout that is not one transaction:
 *	  code_hold (hold a use of a code for a customer while they pay),
 *	  hold_confirm (the hold becomes a use, in the order's transaction),
 *	  hold_release (the payment failed: the use is free again), and
 *	  undo_reference (a refund or a cancel: undo the uses, and release
 *	  the holds, made for an order).
 *
 * A hold counts against the code's limits as a use does, until it is
 * confirmed, released, or its time passes (then the next look at the
 * code gives its use back: no job runs).  See holds.c.
 *
 * The functions are SECURITY DEFINER, granted to codes_app.  No message
 * raised here contains a code, and the statement of an error is kept out
 * of the server log, as for the other calls on a code.
 *
 * The top layer, beside codes.c: calls sqlversion.c (first), entry.c,
 * store.c and store_undo.c; nothing calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "entry.h"
#include "sqlversion.h"
#include "statements.h"
#include "store_read.h"
#include "store_undo.h"

PG_FUNCTION_INFO_V1(code_hold);
PG_FUNCTION_INFO_V1(hold_confirm);
PG_FUNCTION_INFO_V1(hold_release);
PG_FUNCTION_INFO_V1(undo_reference);

/* The longest hold: a checkout, not a reservation. */
#define CODES_MAX_HOLD_USECS	(USECS_PER_DAY)

/*
 * The end of a hold of hold_for from the start of the statement that makes
 * it (not the transaction's: a hold made late in a long transaction lasts
 * as long), after checking hold_for: more than nothing, at most a day.
 */
static TimestampTz
hold_end(Interval *hold_for)
{
	TimestampTz start = GetCurrentStatementStartTimestamp();
	TimestampTz end;

	end = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												  TimestampTzGetDatum(start),
												  IntervalPGetDatum(hold_for)));
	if (end <= start || end - start > CODES_MAX_HOLD_USECS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hold_for must be more than zero and at most one day"),
				 errhint("To keep a use longer, use the code and undo the use if the order fails.")));
	return end;
}

/*
 * code_hold(code, redeemer, hold_for, reference, details) returns (ok,
 * reason, hold, held_until, batch, metadata, uses_left, valid_until,
 * code_metadata)
 *
 * Hold a use of the code for the redeemer, until hold_for from now: as
 * code_redeem, but the use is a hold, to confirm (hold_confirm) or release
 * (hold_release); hold is its id.  A redeemer is required: the hold is a
 * customer's.
 */
Datum
code_hold(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	CodesExtras extras;
	CodesOutcome out;
	TupleDesc	desc;
	Datum		values[9];
	bool		nulls[9];
	TimestampTz end;
	Datum		row;

	codes_require_sql_version();
	codes_begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_hold()");
	codes_require_code(fcinfo);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("redeemer must not be null for a hold")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hold_for must not be null")));
	end = hold_end(PG_GETARG_INTERVAL_P(2));

	codes_extras_args(fcinfo, 3, &extras);
	extras.held_until = TimestampTzGetDatum(end);
	extras.held_until_null = false;
	codes_run_braked(fcinfo, true, codes_store_redeem, &extras, &out);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
		desc->natts != lengthof(values))
		elog(ERROR, "return type must be a row type of %d columns",
			 (int) lengthof(values));
	/* (ok, reason, hold, held_until, then as code_redeem's row) */
	codes_outcome_values(&out, values + 2, nulls + 2);
	values[0] = values[2];
	nulls[0] = nulls[2];
	values[1] = values[3];
	nulls[1] = nulls[3];
	values[2] = Int64GetDatum(out.entry);
	nulls[2] = (out.reason != CODES_OK);
	values[3] = TimestampTzGetDatum(end);
	nulls[3] = (out.reason != CODES_OK);
	row = HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
	codes_end_hiding(&hiding);
	return row;
}

/*
 * The hold argument (1), which must not be NULL.
 */
static int64
hold_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hold must not be null")));
	return PG_GETARG_INT64(1);
}

/*
 * hold_confirm(code, hold, reference, details) returns (ok, reason)
 *
 * Make a live hold of the code a use, from now on (in the order's
 * transaction), with the reference and details given, or the hold's.  Not
 * ok: hold_expired (its time has passed, by the clock, not the
 * transaction's start: its use is given back now, if a use that needed it
 * has not taken it back already), not_found (no such hold of the code:
 * confirmed, released or undone, or never one), or why the code cannot be
 * used now (revoked, deactivated, expired, not_yet_valid: its hold is
 * released).
 */
Datum
hold_confirm(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	CodesExtras extras;
	CodesOutcome out;
	CodesOp		op;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	const char *reason;
	Datum		row;
	int64		hold;

	codes_require_sql_version();
	codes_begin_hiding(&hiding);
	PreventCommandIfReadOnly("hold_confirm()");
	codes_require_code(fcinfo);
	hold = hold_arg(fcinfo);
	codes_extras_args(fcinfo, 2, &extras);
	memset(&out, 0, sizeof(out));
	out.reason = CODES_NOT_FOUND;
	if (codes_store_open(&op, PG_GETARG_TEXT_PP(0), (Datum) 0, true, true))
	{
		codes_set_big(&op.args, hold);
		op.args.values[CODES_ARG_REFERENCE] = extras.reference;
		op.args.nulls[CODES_ARG_REFERENCE] = extras.reference_null ? 'n' : ' ';
		op.args.values[CODES_ARG_DETAILS] = extras.details;
		op.args.nulls[CODES_ARG_DETAILS] = extras.details_null ? 'n' : ' ';
		codes_store_confirm(&op, &out);
	}
	codes_store_close(&op);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	reason = codes_reason_name(out.reason);
	values[0] = BoolGetDatum(out.reason == CODES_OK);
	values[1] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[1] = (reason == NULL);
	row = HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
	codes_end_hiding(&hiding);
	return row;
}

/*
 * hold_release(code, hold) returns boolean
 *
 * Give up a hold of the code, live or expired (the payment failed, the
 * customer left): its use is free again.  True if there was such a hold.
 */
Datum
hold_release(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	CodesOp		op;
	bool		released = false;
	int64		hold;

	codes_require_sql_version();
	codes_begin_hiding(&hiding);
	PreventCommandIfReadOnly("hold_release()");
	codes_require_code(fcinfo);
	hold = hold_arg(fcinfo);
	if (codes_store_open(&op, PG_GETARG_TEXT_PP(0), (Datum) 0, true, true))
	{
		codes_set_big(&op.args, hold);
		released = codes_store_release(&op);
	}
	codes_store_close(&op);
	codes_end_hiding(&hiding);
	PG_RETURN_BOOL(released);
}

/*
 * undo_reference(reference) returns integer
 *
 * Undo every standing use made with this reference (code_redeem's, or a
 * hold confirmed), and release every hold made with it (code_hold's), of
 * any code: a refund, or the cancel, of an order.  The number undone and
 * released.
 */
Datum
undo_reference(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	int64		undone;

	codes_require_sql_version();
	codes_begin_hiding(&hiding);
	PreventCommandIfReadOnly("undo_reference()");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reference must not be null")));
	undone = codes_store_undo_reference(PG_GETARG_DATUM(0));
	codes_end_hiding(&hiding);
	PG_RETURN_INT32((int32) undone);
}

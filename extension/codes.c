/*-------------------------------------------------------------------------
 *
 * codes.c
 *	  The module's initialization, and the SQL entry points on one code:
 *	  code_use, code_redeem, code_check, code_undo, code_query, code_del,
 *	  code_normalize, code_valid, code_status and key_fold.  Each that
 *	  touches a table first checks that the database's SQL objects are the
 *	  library's version; each checks its arguments, keeps the statement
 *	  out of the log, brakes and counts
 *	  guesses where it takes a redeemer, and calls the layers below for the
 *	  rest; code_gen is code_gen.c's.
 *
 * The functions are SECURITY DEFINER, and every operation pins search_path
 * while it runs (searchpath.c).  No message raised here contains a code:
 * server logs are read by more people than the codes table.
 *
 * The top layer: calls code_gen.c (its settings), store.c, searchpath.c,
 * tables.c, batch.c, brake.c, progress.c, serverlog.c, sqlversion.c,
 * keys.c and text.c; nothing calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "batch.h"
#include "brake.h"
#include "code_gen.h"
#include "input.h"
#include "keys.h"
#include "progress.h"
#include "searchpath.h"
#include "serverlog.h"
#include "sqlversion.h"
#include "store.h"
#include "tables.h"
#include "text.h"

PG_MODULE_MAGIC;

/* Results, as the seed service spelled them. */
#define CODES_SUCCEED			"SUCCEED"
#define CODES_FAILED			"FAILED"
#define CODES_NO_EXISTED		"NO EXISTED"

void		_PG_init(void);

PG_FUNCTION_INFO_V1(code_use);
PG_FUNCTION_INFO_V1(code_redeem);
PG_FUNCTION_INFO_V1(code_check);
PG_FUNCTION_INFO_V1(code_normalize);
PG_FUNCTION_INFO_V1(code_undo);
PG_FUNCTION_INFO_V1(code_query);
PG_FUNCTION_INFO_V1(code_del);
PG_FUNCTION_INFO_V1(code_valid);
PG_FUNCTION_INFO_V1(key_fold);
PG_FUNCTION_INFO_V1(code_status);

/* An operation on a code opened by codes_store_open (run_braked). */
typedef void (*CodeAction) (CodesOp *op, CodesOutcome *out);

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
 * Install hide_statement for the rest of a call; end_hiding removes it.
 */
static void
begin_hiding(ErrorContextCallback *callback)
{
	callback->callback = hide_statement;
	callback->arg = NULL;
	callback->previous = error_context_stack;
	error_context_stack = callback;
}

/*
 * Remove the callback installed by begin_hiding.
 */
static void
end_hiding(ErrorContextCallback *callback)
{
	error_context_stack = callback->previous;
}

/*
 * Module load: the settings, the invalidation of what a backend remembers
 * of the tables and batches, the shared memory of the brake and of
 * progress reporting, and the hook that keeps statements out of deadlock
 * reports.
 */
void
_PG_init(void)
{
	codes_init_code_gen();
	codes_init_tables();
	codes_init_batch_cache();
	codes_init_brake();
	codes_init_progress();
	codes_init_keys();
	codes_init_serverlog();
	codes_init_sql_version();

	/* after every codes.* setting is defined, or theirs would be dropped */
	MarkGUCPrefixReserved("codes");
}

/*
 * Raise an error if the code argument (argument 0) is NULL.
 */
static void
require_code(FunctionCallInfo fcinfo)
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
static text *
redeemer_arg(FunctionCallInfo fcinfo)
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
 * Open an operation on the code argument (argument 0) for the redeemer
 * argument (1, where the function has one): codes_store_open.
 */
static bool
open_code(FunctionCallInfo fcinfo, bool writes, CodesOp *op)
{
	bool		redeemer_null = redeemer_arg(fcinfo) == NULL;

	return codes_store_open(op, PG_GETARG_TEXT_PP(0),
							redeemer_null ? (Datum) 0 : PG_GETARG_DATUM(1),
							redeemer_null, writes);
}

/*
 * Run an action on the code argument (0) for the redeemer argument (1,
 * which may be NULL or missing), under the brake: a braked redeemer gets
 * CODES_BRAKED without a look-up, and a redeemer's guess, a code of which
 * no row is found, is counted (brake.c).  A code that exists but cannot be
 * used now (used up, out of its period, a lost race, even with a delete of
 * its batch) is no guess.  writes: the action writes (see
 * codes_pin_search_path).
 */
static void
run_braked(FunctionCallInfo fcinfo, bool writes, CodeAction action,
		   CodesOutcome *out)
{
	text	   *redeemer;
	CodesOp		op;

	require_code(fcinfo);
	redeemer = redeemer_arg(fcinfo);
	memset(out, 0, sizeof(*out));
	out->reason = CODES_NOT_FOUND;
	out->guess = true;
	if (redeemer != NULL && codes_braked(redeemer))
	{
		out->reason = CODES_BRAKED;
		return;
	}

	if (open_code(fcinfo, writes, &op))
		action(&op, out);
	codes_store_close(&op);

	if (out->guess && redeemer != NULL)
		codes_count_failure(redeemer);
}

/*
 * code_use(code, redeemer)
 *
 * SUCCEED when the code exists, has uses left (for this redeemer too, if
 * its batch limits that) and the transaction's time is inside its period;
 * the use, its time and the redeemer are recorded with it.  FAILED in
 * every other case, and for a redeemer braked for too many guesses,
 * without a look-up (run_braked).
 */
Datum
code_use(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	CodesOutcome out;

	codes_require_sql_version();
	begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_use()");
	run_braked(fcinfo, true, codes_store_use, &out);
	end_hiding(&hiding);

	PG_RETURN_TEXT_P(cstring_to_text(out.reason == CODES_OK ?
									 CODES_SUCCEED : CODES_FAILED));
}

/*
 * The row that code_redeem and code_check return: (ok, reason, batch,
 * metadata, uses_left, valid_until, code_metadata).  For a code not found,
 * and for a braked redeemer, only ok and reason: a guesser learns nothing
 * more.
 */
static Datum
outcome_row(FunctionCallInfo fcinfo, const CodesOutcome *out)
{
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7] = {false, false, true, true, true, true, true};
	const char *reason = codes_reason_name(out->reason);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
		desc->natts != lengthof(values))
		elog(ERROR, "return type must be a row type of %d columns",
			 (int) lengthof(values));
	desc = BlessTupleDesc(desc);

	values[0] = BoolGetDatum(out->reason == CODES_OK);
	values[1] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[1] = (reason == NULL);
	if (out->reason != CODES_NOT_FOUND && out->reason != CODES_BRAKED)
	{
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
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/*
 * Run a braked action (run_braked) for code_redeem or code_check, and
 * return its outcome as their row.  writer: the function's name if the
 * action writes, which a read-only transaction refuses; else NULL.
 */
static Datum
outcome_call(FunctionCallInfo fcinfo, const char *writer, CodeAction action)
{
	ErrorContextCallback hiding;
	CodesOutcome out;
	Datum		row;

	codes_require_sql_version();
	begin_hiding(&hiding);
	if (writer)
		PreventCommandIfReadOnly(writer);
	run_braked(fcinfo, writer != NULL, action, &out);
	row = outcome_row(fcinfo, &out);
	end_hiding(&hiding);
	return row;
}

/*
 * code_redeem(code, redeemer) returns (ok, reason, batch, metadata,
 * uses_left, valid_until)
 *
 * Use the code exactly as code_use does, and tell in the same call why it
 * failed, or which batch it belonged to and what that batch grants.
 */
Datum
code_redeem(PG_FUNCTION_ARGS)
{
	return outcome_call(fcinfo, "code_redeem()", codes_store_redeem);
}

/*
 * code_check(code, redeemer) returns (ok, reason, batch, metadata,
 * uses_left, valid_until)
 *
 * code_redeem's answer without using the code: for a "check my code"
 * button.  Braked and counted as code_use is.  Read-only.
 */
Datum
code_check(PG_FUNCTION_ARGS)
{
	return outcome_call(fcinfo, NULL, codes_store_check);
}

/*
 * code_undo(code, redeemer)
 *
 * Undo the latest standing use of the code (by that redeemer, if given):
 * the use counts again, and the history keeps it, marked undone.  SUCCEED,
 * or FAILED when there was no such use.
 */
Datum
code_undo(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	CodesOp		op;
	bool		undone = false;

	codes_require_sql_version();
	begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_undo()");
	require_code(fcinfo);
	if (open_code(fcinfo, true, &op))
		undone = codes_store_undo(&op);
	codes_store_close(&op);
	end_hiding(&hiding);

	PG_RETURN_TEXT_P(cstring_to_text(undone ? CODES_SUCCEED : CODES_FAILED));
}

/*
 * code_query(code, redeemer)
 *
 * The code's status now.  With a redeemer, braked and counted as code_use
 * is: a braked redeemer gets NO EXISTED without a look-up.  Read-only, so
 * it runs on a hot standby (where the brake counts per server).
 */
Datum
code_query(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	CodesOutcome out;
	const char *status = CODES_NO_EXISTED;

	codes_require_sql_version();
	begin_hiding(&hiding);
	run_braked(fcinfo, false, codes_store_query, &out);
	if (out.reason != CODES_NOT_FOUND && out.reason != CODES_BRAKED)
		status = codes_code_status(&out.batch, out.uses, out.deactivated);
	end_hiding(&hiding);

	PG_RETURN_TEXT_P(cstring_to_text(status));
}

/*
 * code_normalize(code) returns text
 *
 * The code as it is handed out, for text as a person may have typed it;
 * NULL when the text has the shape of no batch's codes.  Whether such a
 * code exists is not looked up: the answer tells no more than code_valid.
 */
Datum
code_normalize(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	CodesPin	pin;
	const CodesShape *shapes;
	int			nshapes;
	char	   *normal;

	codes_require_sql_version();
	begin_hiding(&hiding);
	codes_pin_search_path(&pin);
	codes_refresh_batch_cache();
	shapes = codes_known_shapes(&nshapes);
	normal = codes_normal_form(PG_GETARG_TEXT_PP(0), shapes, nshapes);
	codes_unpin_search_path(&pin);
	end_hiding(&hiding);

	if (normal == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(normal));
}

/*
 * code_del(code)
 *
 * Delete the code and its history.  SUCCEED whether or not it existed:
 * afterwards it does not.  A concurrent use holding the row makes the
 * delete wait for it.
 */
Datum
code_del(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	CodesOp		op;

	codes_require_sql_version();
	begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_del()");
	require_code(fcinfo);
	if (open_code(fcinfo, true, &op))
		codes_store_delete(&op);
	codes_store_close(&op);
	end_hiding(&hiding);

	PG_RETURN_TEXT_P(cstring_to_text(CODES_SUCCEED));
}

/*
 * code_valid(code text, pattern text) returns boolean
 *
 * True when the code, read as input is, has the pattern's shape and, if
 * the pattern has one, a correct check symbol.  Touches no table, so a web
 * form may call it before a code is ever looked up.
 */
Datum
code_valid(PG_FUNCTION_ARGS)
{
	char		canon[CODES_MAX_PATTERN + 1];
	int			len = codes_canonical_form(PG_GETARG_TEXT_PP(0), canon);
	CodesPattern pat;

	codes_parse_pattern(text_to_cstring(PG_GETARG_TEXT_PP(1)), &pat);
	PG_RETURN_BOOL(len >= 0 && codes_pattern_matches(&pat, canon, len));
}

/*
 * key_fold(uuid) returns bigint
 *
 * codes_key_fold, for the index expression.
 */
Datum
key_fold(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(codes_key_fold(PG_GETARG_UUID_P(0)));
}

/*
 * code_status(batch integer, uses integer) returns text
 *
 * The status of a code of that batch with that many uses, as code_query
 * reports it; for batch_codes.  Reads codes.batch with the latest snapshot,
 * so it is VOLATILE and PARALLEL UNSAFE.
 */
Datum
code_status(PG_FUNCTION_ARGS)
{
	CodesBatchInfo batch;

	codes_require_sql_version();
	if (!codes_batch_info(PG_GETARG_INT32(0), &batch))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(codes_status(&batch, PG_GETARG_INT32(1))));
}

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
 * The top layer: calls entry.c, code_gen.c (its settings), store.c,
 * store_undo.c, searchpath.c, tables.c, batch.c, brake.c, progress.c,
 * serverlog.c, sqlversion.c,
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
#include "entry.h"
#include "input.h"
#include "keys.h"
#include "progress.h"
#include "searchpath.h"
#include "serverlog.h"
#include "sqlversion.h"
#include "store.h"
#include "store_read.h"
#include "store_undo.h"
#include "stripes_own.h"
#include "tables.h"
#include "text.h"

PG_MODULE_MAGIC;

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
	codes_init_entry();
	codes_init_stripes();

	/* after every codes.* setting is defined, or theirs would be dropped */
	MarkGUCPrefixReserved("codes");
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
	codes_begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_use()");
	codes_run_braked(fcinfo, true, codes_store_use, NULL, &out);
	codes_end_hiding(&hiding);

	PG_RETURN_TEXT_P(cstring_to_text(out.reason == CODES_OK ?
									 CODES_SUCCEED : CODES_FAILED));
}

/*
 * Run a braked action (codes_run_braked) for code_redeem or code_check,
 * with the extras of a use from argument refarg on (none if refarg is
 * negative: codes_extras_args), and return its outcome as their row.
 * writer: the function's name if the action writes, which a read-only
 * transaction refuses; else NULL.
 */
static Datum
outcome_call(FunctionCallInfo fcinfo, const char *writer, CodesAction action,
			 int refarg)
{
	ErrorContextCallback hiding;
	CodesExtras extras;
	CodesOutcome out;
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7];
	Datum		row;

	codes_require_sql_version();
	codes_begin_hiding(&hiding);
	if (writer)
		PreventCommandIfReadOnly(writer);
	if (refarg >= 0)
		codes_extras_args(fcinfo, refarg, &extras);
	codes_run_braked(fcinfo, writer != NULL, action,
					 refarg >= 0 ? &extras : NULL, &out);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
		desc->natts != lengthof(values))
		elog(ERROR, "return type must be a row type of %d columns",
			 (int) lengthof(values));
	codes_outcome_values(&out, values, nulls);
	row = HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
	codes_end_hiding(&hiding);
	return row;
}

/*
 * code_redeem(code, redeemer, reference, details) returns (ok, reason,
 * batch, metadata, uses_left, valid_until, code_metadata)
 *
 * Use the code exactly as code_use does, for a reference (an order) with
 * details of the use, recorded in the history, and tell in the same call
 * why it failed, or which batch it belonged to and what that batch and the
 * code grant.
 */
Datum
code_redeem(PG_FUNCTION_ARGS)
{
	return outcome_call(fcinfo, "code_redeem()", codes_store_redeem, 2);
}

/*
 * code_check(code, redeemer) returns (ok, reason, batch, metadata,
 * uses_left, valid_until, code_metadata)
 *
 * code_redeem's answer without using the code: for a "check my code"
 * button.  Braked and counted as code_use is.  Read-only.
 */
Datum
code_check(PG_FUNCTION_ARGS)
{
	return outcome_call(fcinfo, NULL, codes_store_check, -1);
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
	codes_begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_undo()");
	codes_require_code(fcinfo);
	if (codes_open_code(fcinfo, true, &op))
		undone = codes_store_undo(&op);
	codes_store_close(&op);
	codes_end_hiding(&hiding);

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
	codes_begin_hiding(&hiding);
	codes_run_braked(fcinfo, false, codes_store_query, NULL, &out);
	if (out.reason != CODES_NOT_FOUND && out.reason != CODES_BRAKED)
		status = codes_code_status(&out.batch, out.uses, out.deactivated);
	codes_end_hiding(&hiding);

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
	codes_begin_hiding(&hiding);
	codes_pin_search_path(&pin);
	codes_refresh_batch_cache();
	shapes = codes_known_shapes(&nshapes);
	normal = codes_normal_form(PG_GETARG_TEXT_PP(0), shapes, nshapes);
	codes_unpin_search_path(&pin);
	codes_end_hiding(&hiding);

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
	codes_begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_del()");
	codes_require_code(fcinfo);
	if (codes_open_code(fcinfo, true, &op))
		codes_store_delete(&op);
	codes_store_close(&op);
	codes_end_hiding(&hiding);

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

/*-------------------------------------------------------------------------
 *
 * code_control.c
 *	  The SQL entry points that control one code at a time, for an admin:
 *	  code_deactivate and code_reactivate (a leaked code stops, and keeps
 *	  its history), code_bind (only one redeemer may use it) and
 *	  code_set_metadata (what the code grants beside its batch).  Each is
 *	  one UPDATE of the code's row, which every session sees at its next
 *	  use: a use reads the row anyway.
 *
 * The functions are SECURITY DEFINER, granted to codes_admin.  No message
 * raised here contains a code, and the statement of an error is kept out
 * of the server log, as for the other calls on a code (codes.c).
 *
 * The top layer, beside codes.c: calls sqlversion.c (first), store.c (to
 * find the code), statements.c (its UPDATE) and searchpath.c; nothing
 * calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "sqlversion.h"
#include "statements.h"
#include "store.h"

PG_FUNCTION_INFO_V1(code_deactivate);
PG_FUNCTION_INFO_V1(code_reactivate);
PG_FUNCTION_INFO_V1(code_bind);
PG_FUNCTION_INFO_V1(code_set_metadata);

/* The row c of the code whose key is $1: one probe of the unique index. */
#define MATCH_SQL \
	"codes.key_fold(c.code)" EQ "codes.key_fold($1) AND c.code" EQ "$1"

/*
 * One statement per control.  $2 carries the new value, as text: the
 * redeemer to bind, or the metadata.  Deactivating keeps the time of the
 * first deactivation.
 */
static const char *const deactivate_sql =
"UPDATE codes.codes AS c SET deactivated_at = pg_catalog.now() "
"WHERE " MATCH_SQL " AND c.deactivated_at IS NULL";
static const char *const reactivate_sql =
"UPDATE codes.codes AS c SET deactivated_at = NULL WHERE " MATCH_SQL;
static const char *const bind_sql =
"UPDATE codes.codes AS c SET bound_to = $2 WHERE " MATCH_SQL;
static const char *const metadata_sql =
"UPDATE codes.codes AS c SET metadata = CAST($2 AS pg_catalog.jsonb) WHERE " MATCH_SQL;

/* Whether the code exists (when its UPDATE changed nothing). */
static const char *const exists_sql =
"SELECT FROM codes.codes AS c WHERE " MATCH_SQL;

/*
 * Error context callback of each call: keep the statement, which may hold
 * the code as a literal, out of the server log.
 */
static void
hide_statement(void *arg)
{
	errhidestmt(true);
}

/*
 * Control the code argument (0): run sql on its row, with $2 the given
 * value (NULL if value_null).  True if there is such a code (whether or
 * not the statement changed its row: deactivating a deactivated code
 * keeps its first time); false if there is none.
 */
static bool
control(FunctionCallInfo fcinfo, SPIPlanPtr *planp, const char *sql,
		Datum value, bool value_null)
{
	ErrorContextCallback hiding;
	CodesOp		op;
	bool		found = false;

	codes_require_sql_version();
	hiding.callback = hide_statement;
	hiding.arg = NULL;
	hiding.previous = error_context_stack;
	error_context_stack = &hiding;

	PreventCommandIfReadOnly("a change to a code");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("code must not be null")));
	if (codes_store_open(&op, PG_GETARG_TEXT_PP(0), value, value_null, true))
	{
		static SPIPlanPtr exists_plan = NULL;

		codes_run_stmt(planp, sql, &op.args, false, SPI_OK_UPDATE);
		found = SPI_processed == 1;
		if (!found)
		{
			codes_run_stmt(&exists_plan, exists_sql, &op.args, false, SPI_OK_SELECT);
			found = SPI_processed == 1;
		}
	}
	codes_store_close(&op);

	error_context_stack = hiding.previous;
	return found;
}

/*
 * code_deactivate(code) returns boolean
 *
 * Stop the code: every use of it is refused (reason deactivated), its
 * status is TIMEINVALID, and its history stays.  True if there is such a
 * code.
 */
Datum
code_deactivate(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;

	PG_RETURN_BOOL(control(fcinfo, &plan, deactivate_sql, (Datum) 0, true));
}

/*
 * code_reactivate(code) returns boolean
 *
 * Lift code_deactivate.  True if there is such a code.
 */
Datum
code_reactivate(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;

	PG_RETURN_BOOL(control(fcinfo, &plan, reactivate_sql, (Datum) 0, true));
}

/*
 * code_bind(code, redeemer) returns boolean
 *
 * Only this redeemer may use the code; any other is refused (reason
 * bound_to_other).  A NULL redeemer unbinds it.  True if there is such a
 * code.
 */
Datum
code_bind(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;

	PG_RETURN_BOOL(control(fcinfo, &plan, bind_sql,
						   PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
						   PG_ARGISNULL(1)));
}

/*
 * code_set_metadata(code, metadata jsonb) returns boolean
 *
 * Set what the code grants beside its batch's metadata, as code_redeem
 * and code_check return it in code_metadata (NULL: nothing).  True if
 * there is such a code.
 */
Datum
code_set_metadata(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Datum		value = (Datum) 0;

	if (!PG_ARGISNULL(1))
		value = CStringGetTextDatum(JsonbToCString(NULL,
												   &PG_GETARG_JSONB_P(1)->root,
												   VARSIZE(PG_GETARG_JSONB_P(1))));
	PG_RETURN_BOOL(control(fcinfo, &plan, metadata_sql, value, PG_ARGISNULL(1)));
}

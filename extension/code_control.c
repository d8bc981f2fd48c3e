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
 * The top layer, beside codes.c: calls sqlversion.c (first), entry.c,
 * store.c (to find the code) and statements.c (its UPDATE); nothing
 * calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "entry.h"
#include "sqlversion.h"
#include "statements.h"
#include "store_open.h"

PG_FUNCTION_INFO_V1(code_deactivate);
PG_FUNCTION_INFO_V1(code_reactivate);
PG_FUNCTION_INFO_V1(code_bind);
PG_FUNCTION_INFO_V1(code_set_metadata);

/*
 * One statement per control.  $2 carries the new value, as text: the
 * redeemer to bind, or the metadata.  Deactivating keeps the time of the
 * first deactivation.
 */
static const char *const deactivate_sql =
"UPDATE codes.codes AS c SET deactivated_at = pg_catalog.now() "
"WHERE " CODES_MATCH_SQL " AND c.deactivated_at IS NULL";
static const char *const reactivate_sql =
"UPDATE codes.codes AS c SET deactivated_at = NULL WHERE " CODES_MATCH_SQL;
static const char *const bind_sql =
"UPDATE codes.codes AS c SET bound_to = $2 WHERE " CODES_MATCH_SQL;
static const char *const metadata_sql =
"UPDATE codes.codes AS c SET metadata = CAST($2 AS pg_catalog.jsonb) WHERE " CODES_MATCH_SQL;

/* Whether the code exists (when its UPDATE changed nothing). */
static const char *const exists_sql =
"SELECT FROM codes.codes AS c WHERE " CODES_MATCH_SQL;

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
	codes_begin_hiding(&hiding);
	PreventCommandIfReadOnly("a change to a code");
	codes_require_code(fcinfo);
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

	codes_end_hiding(&hiding);
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

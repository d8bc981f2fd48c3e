/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  Saved SPI plans: each statement of the extension is parsed and planned
 *	  once per backend, and its plan kept.
 *
 * Calls no other file of the extension; called by every file that runs a
 * statement through a saved plan (batch.c, store.c, gen.c, gen_insert.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "plans.h"

/*
 * Prepare a statement and keep its plan for the life of the backend.
 * Callers hold the result in a static variable, so each statement is
 * parsed and planned once per session rather than once per call.
 */
SPIPlanPtr
codes_prepare(const char *sql, int nargs, Oid *argtypes)
{
	return codes_prepare_opts(sql, nargs, argtypes, 0);
}

/*
 * The same, with cursor options: CURSOR_OPT_GENERIC_PLAN for a statement
 * whose parameters are large arrays, which a custom plan would copy into
 * the plan as constants, and gain nothing by.
 */
SPIPlanPtr
codes_prepare_opts(const char *sql, int nargs, Oid *argtypes, int options)
{
	SPIPlanPtr	plan;

	plan = SPI_prepare_cursor(sql, nargs, argtypes, options);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

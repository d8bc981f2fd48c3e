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
	SPIPlanPtr	plan;

	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

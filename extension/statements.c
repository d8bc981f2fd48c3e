/*-------------------------------------------------------------------------
 *
 * statements.c
 *	  The SQL statements of the operations on one code: each is prepared
 *	  once per backend and saved (plans.c), and run with the operation's
 *	  parameters (CodesStmtArgs, operation.h), connecting to SPI on the
 *	  operation's first statement.
 *
 * Calls plans.c; called by the table (store.c, stripes.c, history.c),
 * whose statements these are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/snapmgr.h"

#include "plans.h"
#include "statements.h"

/*
 * Connect to SPI for the operation's statements, unless it is connected
 * (codes_store_close finishes), and prepare the statement on first use:
 * every statement takes the parameters of CodesStmtArgs.
 */
static void
ready(SPIPlanPtr *planp, const char *sql, CodesStmtArgs *args)
{
	int			ret;

	if (!args->connected)
	{
		if ((ret = SPI_connect()) != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
		args->connected = true;
	}
	if (*planp == NULL)
	{
		Oid			argtypes[CODES_STMT_NARGS] = {UUIDOID, TEXTOID, INT4OID,
		INT4OID, INT8OID, TEXTOID, JSONBOID, TIMESTAMPTZOID};

		*planp = codes_prepare(sql, CODES_STMT_NARGS, argtypes);
	}
}

/*
 * Run a saved statement, preparing it on first use, and check that SPI
 * reports the expected kind of statement.  Results are left in
 * SPI_processed and SPI_tuptable.  The direct paths need no SPI, so the
 * common use, query and delete run none.
 */
void
codes_run_stmt(SPIPlanPtr *planp, const char *sql, CodesStmtArgs *args,
			   bool read_only, int expected)
{
	int			ret;

	ready(planp, sql, args);
	ret = SPI_execute_plan(*planp, args->values, args->nulls, read_only, 0);
	if (ret != expected)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
}

/*
 * The same for a read with a snapshot of the caller's (the latest, say,
 * to see what committed after the transaction's snapshot was taken), or,
 * with snapshot NULL, a read-only statement's own.
 */
void
codes_run_stmt_snapshot(SPIPlanPtr *planp, const char *sql,
						CodesStmtArgs *args, Snapshot snapshot, int expected)
{
	int			ret;

	if (snapshot == NULL)
	{
		codes_run_stmt(planp, sql, args, true, expected);
		return;
	}
	ready(planp, sql, args);
	ret = SPI_execute_snapshot(*planp, args->values, args->nulls, snapshot,
							   InvalidSnapshot, true, false, 0);
	if (ret != expected)
		elog(ERROR, "SPI_execute_snapshot failed: %s", SPI_result_code_string(ret));
}

/*
 * Set the statements' parameter $4, a number (a stripe, say).
 */
void
codes_set_number(CodesStmtArgs *args, int32 number)
{
	args->values[3] = Int32GetDatum(number);
	args->nulls[3] = ' ';
}

/*
 * Set the statements' parameter $5, a bigint (a row's id, a change of uses).
 */
void
codes_set_big(CodesStmtArgs *args, int64 big)
{
	args->values[4] = Int64GetDatum(big);
	args->nulls[4] = ' ';
}

/*
 * Column col of the first result row, which must not be NULL.
 */
Datum
codes_result(int col)
{
	bool		isnull;
	Datum		value;

	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
						  col, &isnull);
	if (isnull)
		elog(ERROR, "unexpected null in column %d", col);
	return value;
}

/*
 * Whether column col of the first result row is NULL.
 */
bool
codes_result_null(int col)
{
	bool		isnull;

	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
						 col, &isnull);
	return isnull;
}

/*-------------------------------------------------------------------------
 *
 * codes.c
 *	  The four SQL-callable operations of the codes extension: code_gen,
 *	  code_use, code_query and code_del.
 *
 * Each works through SPI with plans prepared once per backend and saved.
 * The SQL names every object in full; the functions also run with a pinned
 * search_path (see codes--1.0.sql), as they are SECURITY DEFINER.
 *
 * No message raised here contains a code: server logs are read by more
 * people than the codes table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "codes.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(code_gen);
PG_FUNCTION_INFO_V1(code_use);
PG_FUNCTION_INFO_V1(code_query);
PG_FUNCTION_INFO_V1(code_del);

/* Results, as the seed service spelled them. */
#define RESULT_SUCCEED		"SUCCEED"
#define RESULT_FAILED		"FAILED"
#define STATUS_NO_EXISTED	"NO EXISTED"
#define STATUS_TIMEINVALID	"TIMEINVALID"
#define STATUS_UNACTIVED	"UNACTIVED"
#define STATUS_ACTIVED		"ACTIVED"

/*
 * True when the transaction's time lies inside batch b's validity period,
 * both ends inclusive, NULL meaning open.  code_use and code_query share it
 * so that they can never disagree about a code's period.
 */
#define IN_PERIOD_SQL \
	"((b.valid_from IS NULL OR b.valid_from OPERATOR(pg_catalog.<=) pg_catalog.now()) " \
	"AND (b.valid_until IS NULL OR b.valid_until OPERATOR(pg_catalog.>=) pg_catalog.now()))"

/*
 * A use is this one conditional update.  When two transactions use the same
 * code, the second waits for the first's row lock; at READ COMMITTED it then
 * rechecks the condition against the new row version (and so finds no uses
 * left), at REPEATABLE READ or SERIALIZABLE it raises a serialization
 * failure.  The batch row is read, not locked: uses of different codes of
 * one batch never wait for each other.
 */
static const char *const use_sql =
"UPDATE codes.codes AS c "
"SET uses = c.uses OPERATOR(pg_catalog.+) 1, used_at = pg_catalog.now(), used_by = $2 "
"FROM codes.batch AS b "
"WHERE codes.key_fold(c.code) OPERATOR(pg_catalog.=) codes.key_fold($1) "
"AND c.code OPERATOR(pg_catalog.=) $1 "
"AND b.id OPERATOR(pg_catalog.=) c.batch "
"AND c.uses OPERATOR(pg_catalog.<) b.max_uses "
"AND " IN_PERIOD_SQL;

/* A code's period and whether it has uses left; no row if it does not exist. */
static const char *const query_sql =
"SELECT " IN_PERIOD_SQL ", c.uses OPERATOR(pg_catalog.<) b.max_uses "
"FROM codes.codes AS c JOIN codes.batch AS b "
"ON b.id OPERATOR(pg_catalog.=) c.batch "
"WHERE codes.key_fold(c.code) OPERATOR(pg_catalog.=) codes.key_fold($1) "
"AND c.code OPERATOR(pg_catalog.=) $1";

static const char *const del_sql =
"DELETE FROM codes.codes "
"WHERE codes.key_fold(code) OPERATOR(pg_catalog.=) codes.key_fold($1) "
"AND code OPERATOR(pg_catalog.=) $1";

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

/*
 * Return the code argument (argument 0) as a key.  A NULL code is an error;
 * false means the text cannot be any code, which callers answer as "not
 * found" without touching a table.
 */
static bool
code_arg(FunctionCallInfo fcinfo, pg_uuid_t *key)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("code must not be null")));
	return codes_key_from_text(PG_GETARG_TEXT_PP(0), key);
}

/*
 * Connect to SPI and run a saved statement that takes the key as $1 (and
 * optionally more arguments), checking that SPI reports the expected kind
 * of statement.  The caller reads SPI_processed and SPI_tuptable, then
 * calls SPI_finish.
 */
static void
exec_keyed(SPIPlanPtr *planp, const char *sql, int nargs, Oid *argtypes,
		   Datum *values, const char *nulls, bool read_only, int expected)
{
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	if (*planp == NULL)
		*planp = codes_prepare(sql, nargs, argtypes);

	ret = SPI_execute_plan(*planp, values, nulls, read_only, 0);
	if (ret != expected)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
}

/*
 * code_gen(num, valid_from, valid_until, pattern, max_uses, batch)
 *
 * Check the arguments, then create the batch and return its codes.  Every
 * check comes before anything is written, so a refused call changes nothing.
 */
Datum
code_gen(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CodesBatchSpec spec;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("num must not be null")));
	spec.num = PG_GETARG_INT32(0);
	if (spec.num < 1 || spec.num > CODES_MAX_PER_CALL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num must be between 1 and %d", CODES_MAX_PER_CALL),
				 errdetail("num was %d.", spec.num)));

	spec.from_null = PG_ARGISNULL(1);
	spec.valid_from = spec.from_null ? 0 : PG_GETARG_TIMESTAMPTZ(1);
	spec.until_null = PG_ARGISNULL(2);
	spec.valid_until = spec.until_null ? 0 : PG_GETARG_TIMESTAMPTZ(2);
	if (!spec.from_null && !spec.until_null &&
		spec.valid_until < spec.valid_from)
	{
		/* timestamptz_to_str returns a static buffer: copy the first */
		char	   *from = pstrdup(timestamptz_to_str(spec.valid_from));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must not be before valid_from"),
				 errdetail("valid_from is %s, valid_until is %s.",
						   from, timestamptz_to_str(spec.valid_until))));
	}

	if (!PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("patterns are not supported yet"),
				 errhint("Leave pattern NULL to get UUID codes.")));

	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_uses must not be null")));
	spec.max_uses = PG_GETARG_INT32(4);
	if (spec.max_uses < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_uses must be at least 1"),
				 errdetail("max_uses was %d.", spec.max_uses)));
	if (spec.max_uses > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("codes that can be used more than once are not supported yet"),
				 errdetail("max_uses was %d.", spec.max_uses)));

	spec.name = NULL;
	if (!PG_ARGISNULL(5))
	{
		text	   *name = PG_GETARG_TEXT_PP(5);
		int			len = VARSIZE_ANY_EXHDR(name);

		if (len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("batch name must not be empty"),
					 errhint("Leave batch NULL to get a generated name.")));
		if (len > CODES_MAX_BATCH_NAME)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("batch name is too long"),
					 errdetail("A batch name has at most %d bytes; this one has %d.",
							   CODES_MAX_BATCH_NAME, len)));
		spec.name = text_to_cstring(name);
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	codes_generate(&spec, rsinfo->setResult, rsinfo->setDesc);

	return (Datum) 0;
}

/*
 * code_use(code, redeemer)
 *
 * SUCCEED when the code exists, has uses left and the transaction's time is
 * inside its period; the use, its time and the redeemer are recorded in the
 * same statement.  FAILED in every other case.
 */
Datum
code_use(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {UUIDOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	pg_uuid_t	key;
	bool		used;

	if (!code_arg(fcinfo, &key))
		PG_RETURN_TEXT_P(cstring_to_text(RESULT_FAILED));

	values[0] = UUIDPGetDatum(&key);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
		values[1] = PG_GETARG_DATUM(1);

	exec_keyed(&plan, use_sql, 2, argtypes, values, nulls, false, SPI_OK_UPDATE);
	used = (SPI_processed == 1);
	SPI_finish();

	PG_RETURN_TEXT_P(cstring_to_text(used ? RESULT_SUCCEED : RESULT_FAILED));
}

/*
 * code_query(code)
 *
 * The code's status now.  Read-only, so it runs on a hot standby.
 */
Datum
code_query(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {UUIDOID};
	Datum		values[1];
	pg_uuid_t	key;
	const char *status = STATUS_NO_EXISTED;

	if (!code_arg(fcinfo, &key))
		PG_RETURN_TEXT_P(cstring_to_text(status));

	values[0] = UUIDPGetDatum(&key);

	exec_keyed(&plan, query_sql, 1, argtypes, values, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		in_period;
		bool		uses_left;

		in_period = DatumGetBool(SPI_getbinval(row, desc, 1, &isnull));
		uses_left = DatumGetBool(SPI_getbinval(row, desc, 2, &isnull));
		if (!in_period)
			status = STATUS_TIMEINVALID;
		else if (uses_left)
			status = STATUS_UNACTIVED;
		else
			status = STATUS_ACTIVED;
	}
	SPI_finish();

	PG_RETURN_TEXT_P(cstring_to_text(status));
}

/*
 * code_del(code)
 *
 * Delete the code.  SUCCEED whether or not it existed: afterwards it does
 * not.  A concurrent use holding the row makes the delete wait for it.
 */
Datum
code_del(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {UUIDOID};
	Datum		values[1];
	pg_uuid_t	key;

	if (code_arg(fcinfo, &key))
	{
		values[0] = UUIDPGetDatum(&key);

		exec_keyed(&plan, del_sql, 1, argtypes, values, NULL, false, SPI_OK_DELETE);
		SPI_finish();
	}

	PG_RETURN_TEXT_P(cstring_to_text(RESULT_SUCCEED));
}

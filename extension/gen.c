/*-------------------------------------------------------------------------
 *
 * gen.c
 *	  Batch generation: the batch row, the random codes, and inserting them
 *	  in chunks through saved SPI plans.
 *
 * Everything happens in the caller's transaction, so a batch is created
 * whole or not at all, and commits or rolls back with the caller's work.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "codes.h"

/* Codes inserted per INSERT statement. */
#define GEN_CHUNK		10000

/*
 * Insert the batch row under a name, taking the next batch id.  With a NULL
 * name the batch is called "batch-<id>".  ON CONFLICT makes a taken name
 * show as "no row" rather than an error, after waiting for any concurrent
 * transaction that inserted the same name.
 */
static const char *const batch_insert_sql =
"INSERT INTO codes.batch "
"(id, name, valid_from, valid_until, max_uses, max_uses_per_redeemer) "
"SELECT n, COALESCE($1, pg_catalog.concat('batch-', n)), $2, $3, $4, $5 "
"FROM pg_catalog.nextval('codes.batch_id_seq'::pg_catalog.regclass) AS n "
"ON CONFLICT (name) DO NOTHING "
"RETURNING id";

/* Insert one chunk of codes, given as a uuid[], into a batch. */
static const char *const insert_sql =
"INSERT INTO codes.codes (batch, code) "
"SELECT $1, k FROM pg_catalog.unnest($2) AS k";

/*
 * The same, for a chunk known to hold a code that collides with an existing
 * one (or with another in the chunk): the colliding codes are skipped and
 * the codes inserted are returned.  About half as fast, so used only then.
 */
static const char *const insert_skipping_sql =
"INSERT INTO codes.codes (batch, code) "
"SELECT $1, k FROM pg_catalog.unnest($2) AS k "
"ON CONFLICT DO NOTHING "
"RETURNING code";

/*
 * Create the batch row and return its id.  A name already taken is an
 * error; a generated name that some batch already took by hand is skipped.
 */
static int32
insert_batch(const CodesBatchSpec *spec)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[5];
	char		nulls[5];

	if (plan == NULL)
	{
		Oid			argtypes[5] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		INT4OID, INT4OID};

		plan = codes_prepare(batch_insert_sql, 5, argtypes);
	}

	values[0] = spec->name ? CStringGetTextDatum(spec->name) : (Datum) 0;
	nulls[0] = spec->name ? ' ' : 'n';
	values[1] = TimestampTzGetDatum(spec->valid_from);
	nulls[1] = spec->from_null ? 'n' : ' ';
	values[2] = TimestampTzGetDatum(spec->valid_until);
	nulls[2] = spec->until_null ? 'n' : ' ';
	values[3] = Int32GetDatum(spec->max_uses);
	nulls[3] = ' ';
	values[4] = Int32GetDatum(spec->max_uses_per_redeemer);
	nulls[4] = spec->per_redeemer_null ? 'n' : ' ';

	for (;;)
	{
		bool		isnull;
		int			ret;

		ret = SPI_execute_plan(plan, values, nulls, false, 0);
		if (ret != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "SPI_execute_plan failed inserting a batch: %s",
				 SPI_result_code_string(ret));

		if (SPI_processed == 1)
			return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc,
											   1, &isnull));

		if (spec->name != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("batch \"%s\" already exists", spec->name),
					 errhint("Choose another batch name.")));
	}
}

/*
 * Fill keys with n random version 4 (RFC 4122) UUIDs: one call to
 * PostgreSQL's cryptographically strong source for the whole chunk, then
 * the version and variant bits.  (libuuid's uuid_generate_random makes
 * about six system calls per UUID; see README.md, Performance.)
 */
static void
random_keys(pg_uuid_t *keys, int n)
{
	int			i;

	if (!pg_strong_random(keys, sizeof(pg_uuid_t) * n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	for (i = 0; i < n; i++)
	{
		keys[i].data[6] = (keys[i].data[6] & 0x0f) | 0x40;	/* version 4 */
		keys[i].data[8] = (keys[i].data[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	}
}

/*
 * Run the fast chunk insert in a subtransaction.  Returns false, with
 * nothing inserted, if some code collided with an existing one; any other
 * error propagates.  The unique violation is swallowed here, so its detail,
 * which would show the colliding key, never reaches the client or the log.
 */
static bool
insert_chunk(SPIPlanPtr plan, Datum *values, int n)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool inserted = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		int			ret;

		ret = SPI_execute_plan(plan, values, NULL, false, 0);
		if (ret != SPI_OK_INSERT || SPI_processed != (uint64) n)
			elog(ERROR, "SPI_execute_plan failed inserting codes: %s",
				 SPI_result_code_string(ret));

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();

		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(edata);
		FreeErrorData(edata);
		inserted = false;
	}
	PG_END_TRY();

	return inserted;
}

/*
 * Put the text form of a code into the result.
 */
static void
put_code(Tuplestorestate *out, TupleDesc outdesc, const pg_uuid_t *key)
{
	char		buf[CODES_TEXT_LEN + 1];
	Datum		value;
	bool		isnull = false;

	codes_key_to_cstring(key, buf);
	value = PointerGetDatum(cstring_to_text_with_len(buf, CODES_TEXT_LEN));
	tuplestore_putvalues(out, outdesc, &value, &isnull);
}

/*
 * Insert a chunk without the codes that collide, put the codes inserted
 * into the result, and return how many there were.
 */
static int
insert_chunk_skipping(SPIPlanPtr plan, Datum *values,
					  Tuplestorestate *out, TupleDesc outdesc)
{
	uint64		i;
	int			ret;
	int			inserted;

	ret = SPI_execute_plan(plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "SPI_execute_plan failed inserting codes: %s",
			 SPI_result_code_string(ret));

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		key = SPI_getbinval(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 1, &isnull);

		put_code(out, outdesc, DatumGetUUIDP(key));
	}
	inserted = (int) SPI_processed;
	SPI_freetuptable(SPI_tuptable);
	return inserted;
}

/*
 * Create the batch described by spec and put the text of each new code into
 * out, one row each.  Codes are inserted GEN_CHUNK at a time as a uuid[]
 * through a saved plan.  A chunk in which a code collides with an existing
 * one is inserted again without the colliders, and the missing codes are
 * made in the next round: the batch always comes back complete.  (For
 * random UUIDs, whose keys collide when their 64-bit folds do, that takes
 * about four billion codes per collision.)
 */
void
codes_generate(const CodesBatchSpec *spec, Tuplestorestate *out,
			   TupleDesc outdesc)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr skipping_plan = NULL;
	MemoryContext chunkcxt;
	pg_uuid_t  *keys;
	Datum	   *elems;
	int32		batch_id;
	int32		done = 0;
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));

	if (plan == NULL)
	{
		Oid			argtypes[2] = {INT4OID, UUIDARRAYOID};

		plan = codes_prepare(insert_sql, 2, argtypes);
		skipping_plan = codes_prepare(insert_skipping_sql, 2, argtypes);
	}

	batch_id = insert_batch(spec);

	keys = palloc(sizeof(pg_uuid_t) * Min(spec->num, GEN_CHUNK));
	elems = palloc(sizeof(Datum) * Min(spec->num, GEN_CHUNK));
	chunkcxt = AllocSetContextCreate(CurrentMemoryContext,
									 "codes_generate chunk",
									 ALLOCSET_DEFAULT_SIZES);

	while (done < spec->num)
	{
		int			n = Min(spec->num - done, GEN_CHUNK);
		MemoryContext oldcxt;
		Datum		values[2];
		int			i;

		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(chunkcxt);

		random_keys(keys, n);
		for (i = 0; i < n; i++)
			elems[i] = UUIDPGetDatum(&keys[i]);
		values[0] = Int32GetDatum(batch_id);
		values[1] = PointerGetDatum(construct_array(elems, n, UUIDOID,
													UUID_LEN, false,
													TYPALIGN_CHAR));

		if (insert_chunk(plan, values, n))
		{
			for (i = 0; i < n; i++)
				put_code(out, outdesc, &keys[i]);
			done += n;
		}
		else
			done += insert_chunk_skipping(skipping_plan, values, out, outdesc);

		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(chunkcxt);
	}

	SPI_finish();
}

/*-------------------------------------------------------------------------
 *
 * gen_insert.c
 *	  Writing new codes into codes.codes: a chunk at a time, as arrays
 *	  through saved plans, the fast way or skipping codes that collide, or
 *	  given codes with their uses (code_add); and what codes.codes holds
 *	  already (keys taken, codes of a pattern or of a batch, an upper bound
 *	  of its rows).
 *
 * Each SPI call here leaves SPI's memory context current; the functions
 * return to their caller's, so that what they allocate afterwards goes
 * with the chunk (else a batch would keep each code's text to its end).
 *
 * Calls gen_chunk.c, citus.c (where the rows of codes.codes are) and
 * plans.c; called by gen.c and import.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "citus.h"
#include "gen_chunk.h"
#include "gen_insert.h"
#include "plans.h"

/*
 * The fewest bytes a row of codes.codes takes in its page: tuple header, a
 * batch, uses and key, and a line pointer.  The table's size over this is
 * more than its rows.
 */
#define GEN_MIN_ROW_BYTES	(MAXALIGN(SizeofHeapTupleHeader) + 24 + sizeof(ItemIdData))

/*
 * Insert one chunk of codes into a batch: their keys as a uuid[], and for
 * plain patterned codes their text as handed out as a text[] (NULL for
 * UUID codes, whose key is their text, and for hashed codes, which keep no
 * text).
 */
static const char *const insert_sql =
"INSERT INTO codes.codes (batch, code, shown) "
"SELECT $1, k, s FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(k, s)";

/*
 * The same, for a chunk known to hold a code that collides with an existing
 * one (or with another in the chunk): the colliding codes are skipped and
 * the codes inserted are returned.  About half as fast, so used only then.
 */
static const char *const insert_skipping_sql =
"INSERT INTO codes.codes (batch, code, shown) "
"SELECT $1, k, s FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(k, s) "
"ON CONFLICT DO NOTHING "
"RETURNING code";

/*
 * Which of the keys $1 are taken: the index, into $2, of each key whose
 * fold some code already has.  Run with the latest snapshot.  LATERAL with
 * LIMIT keeps it one index probe per key, whatever the planner estimates.
 */
static const char *const taken_sql =
"SELECT u.i FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS u(k, i), "
"LATERAL (SELECT FROM codes.codes AS c "
"WHERE codes.key_fold(c.code) OPERATOR(pg_catalog.=) codes.key_fold(u.k) LIMIT 1) AS t";

/*
 * The same where Citus keeps codes.codes in shards: Citus runs no LIMIT in
 * a LATERAL subquery over a table function, but a join it sends to every
 * shard (a key may be listed twice on a fold collision; that is harmless).
 */
static const char *const taken_distributed_sql =
"SELECT u.i FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS u(k, i) "
"JOIN codes.codes AS c "
"ON codes.key_fold(c.code) OPERATOR(pg_catalog.=) codes.key_fold(u.k)";

/*
 * The number of codes in batches of one canonical pattern ($1): pattern
 * upper case, without spaces and hyphens.  Reads all of codes.codes, so it
 * runs only for keyspaces small enough to be used up.
 */
static const char *const pattern_count_sql =
"SELECT pg_catalog.count(*) FROM codes.codes AS c "
"WHERE c.batch OPERATOR(pg_catalog.=) ANY (ARRAY("
"SELECT b.id FROM codes.batch AS b "
"WHERE pg_catalog.upper(pg_catalog.translate(b.pattern, ' -', '') COLLATE pg_catalog.\"C\") "
"OPERATOR(pg_catalog.=) $1))";

/*
 * Insert given codes into a batch (code_add): their keys, their text as
 * handed out (NULL for codes that read as UUIDs and for hashed codes; the
 * whole array NULL when none has one) and their uses so far (the array
 * NULL when all are 0).  The arrays are unnested in the select list, in
 * lockstep as ROWS FROM would, but a row at a time: ROWS FROM would first
 * copy every row into a tuplestore, which spills to disk past work_mem.
 */
static const char *const insert_given_sql =
"INSERT INTO codes.codes (batch, code, shown, uses) "
"SELECT $1, u.k, u.s, COALESCE(u.n, 0) "
"FROM (SELECT pg_catalog.unnest($2) AS k, pg_catalog.unnest($3) AS s, "
"pg_catalog.unnest($4) AS n) AS u";

/* The number of codes of batch $1.  Reads all of codes.codes. */
static const char *const batch_count_sql =
"SELECT pg_catalog.count(*) FROM codes.codes AS c WHERE c.batch OPERATOR(pg_catalog.=) $1";

/*
 * The saved plans of insert_sql and insert_skipping_sql: [0] where
 * codes.codes is a plain table, generic plans (a custom plan would copy
 * the arrays into the plan as constants, and gain nothing by it); [1]
 * where Citus keeps it in shards, which cannot plan the INSERT
 * generically ("could not create distributed plan").  inserts_distributed
 * says which the generation under way uses (codes_prepare_code_inserts).
 */
static SPIPlanPtr insert_plans[2] = {NULL, NULL};
static SPIPlanPtr insert_skipping_plans[2] = {NULL, NULL};
static bool inserts_distributed = false;

/*
 * codes.codes, opened and locked in mode until the end of the transaction;
 * the caller closes it.
 */
static Relation
open_codes_table(LOCKMODE mode)
{
	Oid			relid = get_relname_relid("codes",
										  get_namespace_oid("codes", false));

	if (!OidIsValid(relid))
		elog(ERROR, "table codes.codes is missing");
	return table_open(relid, mode);
}

/*
 * Does Citus keep the rows of codes.codes in shards?
 */
static bool
codes_table_distributed(void)
{
	Relation	rel = open_codes_table(AccessShareLock);
	bool		distributed;

	distributed = codes_placement(RelationGetRelid(rel)) != CODES_PLAIN_TABLE;
	table_close(rel, NoLock);
	return distributed;
}

/*
 * Does codes.codes have a BEFORE INSERT row trigger, which may skip rows?
 * (The extension puts none there.)
 */
static bool
codes_table_has_insert_trigger(void)
{
	Relation	rel = open_codes_table(AccessShareLock);
	bool		found;

	found = rel->trigdesc != NULL && rel->trigdesc->trig_insert_before_row;
	table_close(rel, NoLock);
	return found;
}

/*
 * A trigger skipped n of the codes just inserted: an error, so that no
 * code is handed out that is not stored.
 */
static void
codes_skipped_error(int skipped, int n)
{
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("a trigger on codes.codes skipped new codes"),
			 errdetail("%d of %d new codes were not inserted.", skipped, n),
			 errhint("Change the BEFORE INSERT trigger on codes.codes so that it returns the new row.")));
}

/*
 * Mark in taken[owners[j]] each of the n keys whose fold some existing code
 * has, as the latest snapshot sees it: a concurrent code_gen of another
 * store that has committed since this statement began is seen too.
 */
void
codes_mark_taken(const pg_uuid_t *keys, const int *owners, int n, bool *taken)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			argtypes[2] = {UUIDARRAYOID, INT4ARRAYOID};
	MemoryContext cxt = CurrentMemoryContext;
	bool		distributed;
	Datum	   *elems;
	Datum		values[2];
	uint64		r;
	int			j;
	int			ret;

	if (n == 0)
		return;
	distributed = codes_table_distributed();
	/* Citus plans the distributed join itself: it keeps the default */
	if (plans[distributed] == NULL)
		plans[distributed] = distributed ?
			codes_prepare(taken_distributed_sql, 2, argtypes) :
			codes_prepare_opts(taken_sql, 2, argtypes, CURSOR_OPT_GENERIC_PLAN);

	elems = palloc(sizeof(Datum) * n);
	for (j = 0; j < n; j++)
		elems[j] = UUIDPGetDatum(&keys[j]);
	values[0] = PointerGetDatum(construct_array(elems, n, UUIDOID, UUID_LEN,
												false, TYPALIGN_CHAR));
	for (j = 0; j < n; j++)
		elems[j] = Int32GetDatum(owners[j]);
	values[1] = PointerGetDatum(construct_array(elems, n, INT4OID, sizeof(int32),
												true, TYPALIGN_INT));

	ret = SPI_execute_snapshot(plans[distributed], values, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 0);
	MemoryContextSwitchTo(cxt);	/* SPI returns to its own */
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %s", SPI_result_code_string(ret));
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;

		taken[DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
										  SPI_tuptable->tupdesc, 1,
										  &isnull))] = true;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Insert a chunk without the codes that collide, put the codes inserted
 * into the result, and return how many there were.  The statement returns
 * the keys inserted; each is found in the chunk to put out its text.  A
 * code that is neither inserted nor taken by another was skipped by a
 * trigger: an error.
 */
static int
insert_chunk_skipping(SPIPlanPtr plan, Datum *values, const char *nulls,
					  const CodesChunk *chunk, Tuplestorestate *out,
					  TupleDesc outdesc)
{
	MemoryContext cxt = CurrentMemoryContext;
	int		   *order = palloc(sizeof(int) * chunk->n);
	bool	   *inserted_here = palloc0(sizeof(bool) * chunk->n);
	uint64		i;
	int			j;
	int			ret;
	int			inserted;

	for (j = 0; j < chunk->n; j++)
		order[j] = j;
	qsort_arg(order, chunk->n, sizeof(int), codes_chunk_key_cmp, (void *) chunk);

	ret = SPI_execute_plan(plan, values, nulls, false, 0);
	MemoryContextSwitchTo(cxt);	/* SPI returns to its own */
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "SPI_execute_plan failed inserting codes: %s",
			 SPI_result_code_string(ret));

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		pg_uuid_t  *key = DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[i],
												   SPI_tuptable->tupdesc,
												   1, &isnull));
		int		   *found;
		int			probe;

		/* bsearch compares keys of indexes: put the key in the slot past n */
		chunk->keys[chunk->n] = *key;
		probe = chunk->n;
		found = bsearch_arg(&probe, order, chunk->n, sizeof(int),
							codes_chunk_key_cmp, (void *) chunk);
		if (found == NULL)
			elog(ERROR, "inserted code not found in its chunk");
		inserted_here[*found] = true;
	}
	inserted = (int) SPI_processed;
	SPI_freetuptable(SPI_tuptable);

	/* codes not inserted should collide with existing ones, unless skipped */
	if (inserted < chunk->n && codes_table_has_insert_trigger())
	{
		pg_uuid_t  *keys = palloc(sizeof(pg_uuid_t) * chunk->n);
		int		   *owners = palloc(sizeof(int) * chunk->n);
		bool	   *taken = palloc0(sizeof(bool) * chunk->n);
		int			n = 0;
		int			skipped = 0;

		for (j = 0; j < chunk->n; j++)
		{
			if (inserted_here[j])
				continue;
			keys[n] = chunk->keys[j];
			owners[n++] = j;
		}
		codes_mark_taken(keys, owners, n, taken);
		for (j = 0; j < n; j++)
			if (!taken[owners[j]])
				skipped++;
		if (skipped > 0)
			codes_skipped_error(skipped, chunk->n);
	}

	for (j = 0; j < chunk->n; j++)
		if (inserted_here[j])
			codes_chunk_put_code(out, outdesc, chunk, j);
	return inserted;
}

/*
 * Ready the statements that insert chunks of codes for where codes.codes
 * keeps its rows now, preparing them if this backend has not yet.
 */
void
codes_prepare_code_inserts(void)
{
	bool		distributed = codes_table_distributed();

	inserts_distributed = distributed;
	if (insert_plans[distributed] == NULL)
	{
		Oid			argtypes[3] = {INT4OID, UUIDARRAYOID, TEXTARRAYOID};
		int			options = distributed ? 0 : CURSOR_OPT_GENERIC_PLAN;

		insert_plans[distributed] =
			codes_prepare_opts(insert_sql, 3, argtypes, options);
		insert_skipping_plans[distributed] =
			codes_prepare_opts(insert_skipping_sql, 3, argtypes, options);
	}
}

/*
 * Insert the chunk's codes into the batch, put the codes inserted into the
 * result, and return how many there were.  With skipping, codes that
 * collide with existing ones are left out (insert_chunk_skipping);
 * without, a collision is a unique violation, and every code must be
 * inserted.  The statements are ready (codes_prepare_code_inserts).
 */
int
codes_insert_chunk(int32 batch_id, CodesChunk *chunk, bool skipping,
				   Tuplestorestate *out, TupleDesc outdesc)
{
	MemoryContext cxt = CurrentMemoryContext;
	Datum	   *elems = chunk->elems;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', 'n'};
	int			i;
	int			ret;

	values[0] = Int32GetDatum(batch_id);
	for (i = 0; i < chunk->n; i++)
		elems[i] = UUIDPGetDatum(&chunk->keys[i]);
	values[1] = PointerGetDatum(construct_array(elems, chunk->n, UUIDOID,
												UUID_LEN, false,
												TYPALIGN_CHAR));
	if (chunk->store_display)
	{
		for (i = 0; i < chunk->n; i++)
			elems[i] = CStringGetTextDatum(chunk->display[i]);
		values[2] = PointerGetDatum(construct_array(elems, chunk->n, TEXTOID,
													-1, false,
													TYPALIGN_INT));
		nulls[2] = ' ';
	}

	if (skipping)
		return insert_chunk_skipping(insert_skipping_plans[inserts_distributed],
									 values, nulls, chunk, out, outdesc);

	ret = SPI_execute_plan(insert_plans[inserts_distributed], values, nulls,
						   false, 0);
	MemoryContextSwitchTo(cxt);	/* SPI returns to its own */
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan failed inserting codes: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed != (uint64) chunk->n)
		codes_skipped_error(chunk->n - (int) SPI_processed, chunk->n);
	for (i = 0; i < chunk->n; i++)
		codes_chunk_put_code(out, outdesc, chunk, i);
	return chunk->n;
}

/*
 * Insert n given codes into a batch (code_add, import.c): keys a uuid[],
 * shown a text[] or NULL, uses an integer[] or NULL (see
 * insert_given_sql).  A trigger that skips any is an error; a collision
 * is a unique violation.
 */
void
codes_insert_given(int32 batch_id, int n, Datum keys, Datum shown,
				   bool shown_null, Datum uses, bool uses_null)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	MemoryContext cxt = CurrentMemoryContext;
	bool		distributed = codes_table_distributed();
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	int			ret;

	if (plans[distributed] == NULL)
	{
		Oid			argtypes[4] = {INT4OID, UUIDARRAYOID, TEXTARRAYOID, INT4ARRAYOID};

		plans[distributed] = codes_prepare_opts(insert_given_sql, 4, argtypes,
												distributed ? 0 : CURSOR_OPT_GENERIC_PLAN);
	}
	values[0] = Int32GetDatum(batch_id);
	values[1] = keys;
	values[2] = shown;
	nulls[2] = shown_null ? 'n' : ' ';
	values[3] = uses;
	nulls[3] = uses_null ? 'n' : ' ';

	ret = SPI_execute_plan(plans[distributed], values, nulls, false, 0);
	MemoryContextSwitchTo(cxt);	/* SPI returns to its own */
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan failed inserting codes: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed != (uint64) n)
		codes_skipped_error(n - (int) SPI_processed, n);
}

/*
 * The number of codes of a batch, as the transaction's snapshot sees them.
 */
int64
codes_count_batch_codes(int32 batch_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		value = Int32GetDatum(batch_id);
	bool		isnull;
	int			ret;
	int64		count;

	if (plan == NULL)
	{
		Oid			argtype = INT4OID;

		plan = codes_prepare(batch_count_sql, 1, &argtype);
	}
	ret = SPI_execute_plan(plan, &value, NULL, true, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return count;
}

/*
 * The number of codes in batches of the pattern, under any store.
 */
int64
codes_count_pattern_codes(const CodesPattern *pat)
{
	static SPIPlanPtr plan = NULL;
	Datum		value = CStringGetTextDatum(pat->canon);
	bool		isnull;
	int			ret;
	int64		count;

	if (plan == NULL)
	{
		Oid			argtype = TEXTOID;

		plan = codes_prepare(pattern_count_sql, 1, &argtype);
	}
	ret = SPI_execute_snapshot(plan, &value, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "SPI_execute_snapshot failed: %s", SPI_result_code_string(ret));
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return count;
}

/*
 * An upper bound of the rows of codes.codes, from its size.
 */
double
codes_table_rows_bound(void)
{
	Relation	rel = open_codes_table(AccessShareLock);
	double		rows_bound;

	rows_bound = (double) RelationGetNumberOfBlocks(rel) *
		(BLCKSZ / GEN_MIN_ROW_BYTES);
	table_close(rel, NoLock);
	return rows_bound;
}

/*
 * Run insert(arg), which inserts codes, in one subtransaction: NULL, or
 * the error when a code collided with an existing one (a unique
 * violation, caught so that its detail, which shows a key's fold, never
 * reaches the client or the log; the caller says what it must).  Any
 * other error propagates.  One subtransaction for the whole insert, not
 * one per chunk, so that a large one takes one subtransaction id, not
 * hundreds (past 64 every snapshot in the cluster would have to consult
 * pg_subtrans).
 */
ErrorData *
codes_insert_or_collision(void (*insert) (void *arg), void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile collision = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		insert(arg);

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
		collision = edata;
	}
	PG_END_TRY();

	return collision;
}

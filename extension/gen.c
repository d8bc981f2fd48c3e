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
"(id, name, valid_from, valid_until, max_uses, max_uses_per_redeemer, pattern, key_id) "
"SELECT n, COALESCE($1, pg_catalog.concat('batch-', n)), $2, $3, $4, $5, $6, $7 "
"FROM pg_catalog.nextval('codes.batch_id_seq'::pg_catalog.regclass) AS n "
"ON CONFLICT (name) DO NOTHING "
"RETURNING id";

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
 * One chunk of new codes: the keys they are stored under, and their text
 * as handed out unless that is their key written out (plain UUID codes).
 */
typedef struct Chunk
{
	int			n;
	pg_uuid_t  *keys;
	char	  **display;		/* NULL for plain UUID codes */
	bool		store_display;	/* kept in codes.shown (plain patterns) */
} Chunk;

/*
 * Strong random bytes, taken from pg_strong_random a buffer at a time.
 */
typedef struct RandomBytes
{
	unsigned char buf[4096];
	int			used;
} RandomBytes;

/*
 * Create the batch row and return its id.  A name already taken is an
 * error; a generated name that some batch already took by hand is skipped.
 */
static int32
insert_batch(const CodesBatchSpec *spec)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[7];
	char		nulls[7];

	if (plan == NULL)
	{
		Oid			argtypes[7] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		INT4OID, INT4OID, TEXTOID, TEXTOID};

		plan = codes_prepare(batch_insert_sql, 7, argtypes);
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
	values[5] = spec->pattern ? CStringGetTextDatum(spec->pattern) : (Datum) 0;
	nulls[5] = spec->pattern ? ' ' : 'n';
	values[6] = spec->hmac_key ? CStringGetTextDatum(spec->hmac_key->id) : (Datum) 0;
	nulls[6] = spec->hmac_key ? ' ' : 'n';

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
 * Fill the chunk with random version 4 (RFC 4122) UUIDs: one call to
 * PostgreSQL's cryptographically strong source for the whole chunk, then
 * the version and variant bits.  (libuuid's uuid_generate_random makes
 * about six system calls per UUID; see README.md, Performance.)  Hashed
 * codes are stored under the HMAC of their canonical form instead.
 */
static void
random_uuids(Chunk *chunk, const CodesKey *hmac_key)
{
	int			i;

	if (!pg_strong_random(chunk->keys, sizeof(pg_uuid_t) * chunk->n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	for (i = 0; i < chunk->n; i++)
	{
		pg_uuid_t  *key = &chunk->keys[i];

		key->data[6] = (key->data[6] & 0x0f) | 0x40;	/* version 4 */
		key->data[8] = (key->data[8] & 0x3f) | 0x80;	/* variant */
		if (hmac_key)
		{
			char		canon[2 * UUID_LEN + 1];

			chunk->display[i] = palloc(CODES_TEXT_LEN + 1);
			codes_key_to_cstring(key, chunk->display[i]);
			codes_uuid_canonical(key, canon);
			codes_hmac_key(hmac_key, canon, 2 * UUID_LEN, key);
		}
	}
}

/*
 * A uniformly random symbol value, 0 to 30.  Bytes of 248 and above are
 * drawn again, so that every value has the same chance (248 = 8 * 31).
 */
static int
random_symbol(RandomBytes *rnd)
{
	for (;;)
	{
		unsigned char b;

		if (rnd->used == sizeof(rnd->buf))
		{
			if (!pg_strong_random(rnd->buf, sizeof(rnd->buf)))
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("could not generate random values")));
			rnd->used = 0;
		}
		b = rnd->buf[rnd->used++];
		if (b < 8 * CODES_ALPHABET_SIZE)
			return b % CODES_ALPHABET_SIZE;
	}
}

/*
 * Fill the chunk with random codes of a pattern: the random symbols, the
 * check symbol if the pattern has one, the text as handed out, and the key
 * (its digest, or for hashed codes its HMAC).  A code whose canonical form
 * would read as a UUID is drawn again.
 */
static void
random_pattern_codes(Chunk *chunk, const CodesPattern *pat,
					 const CodesKey *hmac_key, RandomBytes *rnd)
{
	int			i;

	for (i = 0; i < chunk->n; i++)
	{
		int			values[CODES_MAX_PATTERN];
		char		symbols[CODES_MAX_PATTERN + 1];
		char		canon[CODES_MAX_PATTERN + 1];
		int			j;

		chunk->display[i] = palloc(pat->layout_len + 1);
		do
		{
			for (j = 0; j < pat->nrandom; j++)
			{
				values[j] = random_symbol(rnd);
				symbols[j] = codes_symbol(values[j]);
			}
			if (pat->has_check)
				symbols[j++] = codes_symbol(codes_check_value(values, pat->nrandom));
			symbols[j] = '\0';
			codes_pattern_write(pat, symbols, chunk->display[i], canon);
		} while (codes_canonical_is_uuid(canon, pat->canon_len));

		if (hmac_key)
			codes_hmac_key(hmac_key, canon, pat->canon_len, &chunk->keys[i]);
		else
			codes_pattern_key(canon, pat->canon_len, &chunk->keys[i]);
	}
}

/*
 * Put the text of the chunk's code i, as handed out, into the result.
 */
static void
put_code(Tuplestorestate *out, TupleDesc outdesc, const Chunk *chunk, int i)
{
	char		buf[CODES_TEXT_LEN + 1];
	const char *display = chunk->display ? chunk->display[i] : NULL;
	Datum		value;
	bool		isnull = false;

	if (display == NULL)
	{
		codes_key_to_cstring(&chunk->keys[i], buf);
		display = buf;
	}
	value = CStringGetTextDatum(display);
	tuplestore_putvalues(out, outdesc, &value, &isnull);
}

/*
 * qsort_arg and bsearch_arg comparator of indexes into a chunk, by key.
 */
static int
key_index_cmp(const void *a, const void *b, void *arg)
{
	const Chunk *chunk = (const Chunk *) arg;

	return memcmp(chunk->keys[*(const int *) a].data,
				  chunk->keys[*(const int *) b].data, UUID_LEN);
}

/*
 * Insert a chunk without the codes that collide, put the codes inserted
 * into the result, and return how many there were.  The statement returns
 * the keys inserted; each is found in the chunk to put out its text.
 */
static int
insert_chunk_skipping(SPIPlanPtr plan, Datum *values, const char *nulls,
					  const Chunk *chunk, Tuplestorestate *out,
					  TupleDesc outdesc)
{
	int		   *order = palloc(sizeof(int) * chunk->n);
	uint64		i;
	int			j;
	int			ret;
	int			inserted;

	for (j = 0; j < chunk->n; j++)
		order[j] = j;
	qsort_arg(order, chunk->n, sizeof(int), key_index_cmp, (void *) chunk);

	ret = SPI_execute_plan(plan, values, nulls, false, 0);
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
							key_index_cmp, (void *) chunk);
		if (found == NULL)
			elog(ERROR, "inserted code not found in its chunk");
		put_code(out, outdesc, chunk, *found);
	}
	inserted = (int) SPI_processed;
	SPI_freetuptable(SPI_tuptable);
	return inserted;
}

/*
 * Make the batch's codes and put the text of each into out: GEN_CHUNK at a
 * time, generated and inserted as arrays through a saved plan.  With
 * skipping, codes that collide with existing ones are left out and made
 * again in the next round; without, a collision is a unique violation.
 */
static void
fill_batch(const CodesBatchSpec *spec, int32 batch_id, bool skipping,
		   Tuplestorestate *out, TupleDesc outdesc)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr skipping_plan = NULL;
	MemoryContext chunkcxt;
	RandomBytes *rnd = NULL;
	Chunk		chunk;
	Datum	   *elems;
	int			size = Min(spec->num, GEN_CHUNK);
	int32		done = 0;

	if (plan == NULL)
	{
		Oid			argtypes[3] = {INT4OID, UUIDARRAYOID, TEXTARRAYOID};

		plan = codes_prepare(insert_sql, 3, argtypes);
		skipping_plan = codes_prepare(insert_skipping_sql, 3, argtypes);
	}

	if (spec->pattern)
	{
		rnd = palloc(sizeof(RandomBytes));
		rnd->used = sizeof(rnd->buf);
	}

	/* one key more than codes, for insert_chunk_skipping's look-ups */
	chunk.keys = palloc(sizeof(pg_uuid_t) * (size + 1));
	chunk.display = (spec->pattern || spec->hmac_key) ?
		palloc(sizeof(char *) * size) : NULL;
	chunk.store_display = spec->pattern && !spec->hmac_key;
	elems = palloc(sizeof(Datum) * size);
	chunkcxt = AllocSetContextCreate(CurrentMemoryContext,
									 "codes_generate chunk",
									 ALLOCSET_DEFAULT_SIZES);

	while (done < spec->num)
	{
		MemoryContext oldcxt;
		Datum		values[3];
		char		nulls[3] = {' ', ' ', 'n'};
		int			i;
		int			ret;

		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(chunkcxt);

		chunk.n = Min(spec->num - done, GEN_CHUNK);
		if (spec->pattern)
			random_pattern_codes(&chunk, &spec->parsed, spec->hmac_key, rnd);
		else
			random_uuids(&chunk, spec->hmac_key);

		values[0] = Int32GetDatum(batch_id);
		for (i = 0; i < chunk.n; i++)
			elems[i] = UUIDPGetDatum(&chunk.keys[i]);
		values[1] = PointerGetDatum(construct_array(elems, chunk.n, UUIDOID,
													UUID_LEN, false,
													TYPALIGN_CHAR));
		if (chunk.store_display)
		{
			for (i = 0; i < chunk.n; i++)
				elems[i] = CStringGetTextDatum(chunk.display[i]);
			values[2] = PointerGetDatum(construct_array(elems, chunk.n, TEXTOID,
														-1, false,
														TYPALIGN_INT));
			nulls[2] = ' ';
		}

		if (skipping)
			done += insert_chunk_skipping(skipping_plan, values, nulls,
										  &chunk, out, outdesc);
		else
		{
			ret = SPI_execute_plan(plan, values, nulls, false, 0);
			if (ret != SPI_OK_INSERT || SPI_processed != (uint64) chunk.n)
				elog(ERROR, "SPI_execute_plan failed inserting codes: %s",
					 SPI_result_code_string(ret));
			for (i = 0; i < chunk.n; i++)
				put_code(out, outdesc, &chunk, i);
			done += chunk.n;
		}

		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(chunkcxt);
	}
	MemoryContextDelete(chunkcxt);
}

/*
 * Fill the batch the fast way, in one subtransaction; false, with nothing
 * inserted and nothing put out, if a code collided with an existing one.
 * Any other error propagates.  The unique violation is swallowed here, so
 * its detail, which would show the colliding key, never reaches the client
 * or the log.  One subtransaction for the whole batch, not one per chunk,
 * so that a large batch takes one subtransaction id, not hundreds (past 64
 * every snapshot in the cluster would have to consult pg_subtrans).
 */
static bool
fill_batch_fast(const CodesBatchSpec *spec, int32 batch_id,
				Tuplestorestate *out, TupleDesc outdesc)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool filled = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		fill_batch(spec, batch_id, false, out, outdesc);

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
		tuplestore_clear(out);
		filled = false;
	}
	PG_END_TRY();

	return filled;
}

/*
 * Create the batch described by spec and put the text of each new code into
 * out, one row each.  The codes are first inserted the fast way; if one
 * collides with an existing code, that attempt is rolled back and the
 * codes are made again, leaving out and redrawing any that collide, so the
 * batch always comes back complete.  (Random UUIDs, whose keys collide
 * when their 64-bit folds do, take about four billion codes per collision;
 * patterned codes collide when their keyspace is small for their number.)
 */
void
codes_generate(const CodesBatchSpec *spec, Tuplestorestate *out,
			   TupleDesc outdesc)
{
	int32		batch_id;
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));

	batch_id = insert_batch(spec);
	if (!fill_batch_fast(spec, batch_id, out, outdesc))
		fill_batch(spec, batch_id, true, out, outdesc);

	SPI_finish();
}

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

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "batch.h"
#include "citus.h"
#include "gen.h"
#include "keys.h"
#include "lookup.h"
#include "plans.h"
#include "progress.h"
#include "text.h"

/* Codes inserted per INSERT statement. */
#define GEN_CHUNK		10000

/*
 * After a round that added no code, each round draws GEN_CHUNK codes,
 * however few are missing, and keeps those that are free.  When
 * GEN_MAX_STALLS such rounds in a row find no free code, the keyspace is
 * taken to be used up: with two free codes of 961 left, a round finds none
 * with a chance of one in a billion.  Free codes that still collide (with
 * codes of a concurrent batch, or on a unique index of the user's) are
 * drawn again, up to GEN_MAX_FRUITLESS rounds in a row.
 */
#define GEN_MAX_STALLS		4
#define GEN_MAX_FRUITLESS	1000

/*
 * The advisory lock that code_gen takes, until the end of the transaction,
 * on the class of codes it makes (documented in README.md): classid is the
 * bytes of "code", objid 0 for UUID codes, else the canonical length of the
 * pattern (codes of different lengths never have the same text).  Plain
 * batches take it shared, hashed ones exclusive: a plain and a hashed batch
 * of one class store the same text under different keys, which the unique
 * index cannot see, so they must not be made concurrently.
 */
#define GEN_LOCK_CLASSID	0x636F6465

/*
 * The fewest bytes a row of codes.codes takes in its page: tuple header, a
 * batch, uses and key, and a line pointer.  The table's size over this is
 * more than its rows.
 */
#define GEN_MIN_ROW_BYTES	(MAXALIGN(SizeofHeapTupleHeader) + 24 + sizeof(ItemIdData))

/*
 * Insert the batch row under a name, taking the next batch id.  With a NULL
 * name the batch is called "batch-<id>".  ON CONFLICT makes a taken name
 * show as "no row" rather than an error, after waiting for any concurrent
 * transaction that inserted the same name.
 */
static const char *const batch_insert_sql =
"INSERT INTO codes.batch "
"(id, name, valid_from, valid_until, max_uses, max_uses_per_redeemer, pattern, key_id, metadata) "
"SELECT n, COALESCE($1, pg_catalog.concat('batch-', n)), $2, $3, $4, $5, $6, $7, $8 "
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
 * One chunk of new codes: the keys they are stored under, and their text
 * as handed out unless that is their key written out (plain UUID codes).
 */
typedef struct Chunk
{
	int			n;
	int			size;			/* codes there is room for */
	pg_uuid_t  *keys;			/* size + 1 */
	char	  **display;		/* NULL for plain UUID codes */
	char	  **canon;			/* canonical text, if needed; else NULL */
	bool		store_display;	/* kept in codes.shown (plain patterns) */
} Chunk;

/*
 * What generation needs beside the chunk: the batch, its shape, and the
 * shapes of codes stored another way under whose keys its new codes must
 * not exist already.
 */
typedef struct GenState
{
	const CodesBatchSpec *spec;
	int32		batch_id;
	CodesShape	own;			/* the batch's shape and key */
	CodesShape *shapes;			/* every known shape, copied */
	int			nshapes;
	bool		other_stores;	/* codes_other_stores said so */
	double		capacity;		/* codes the pattern makes */
} GenState;

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
	Datum		values[8];
	char		nulls[8];

	if (plan == NULL)
	{
		Oid			argtypes[8] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		INT4OID, INT4OID, TEXTOID, TEXTOID, JSONBOID};

		plan = codes_prepare(batch_insert_sql, 8, argtypes);
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
	values[7] = spec->metadata;
	nulls[7] = spec->metadata_null ? 'n' : ' ';

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
 * codes are stored under the HMAC of their canonical form instead.  The
 * canonical form is kept if the chunk has room for it.
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
		if (chunk->canon)
		{
			chunk->canon[i] = palloc(2 * UUID_LEN + 1);
			codes_uuid_canonical(key, chunk->canon[i]);
		}
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
 * would read as a UUID is drawn again.  The canonical form is kept if the
 * chunk has room for it.
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
		if (chunk->canon)
			chunk->canon[i] = pstrdup(canon);
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
static void
mark_taken(const pg_uuid_t *keys, const int *owners, int n, bool *taken)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			argtypes[2] = {UUIDARRAYOID, INT4ARRAYOID};
	Relation	rel;
	bool		distributed;
	Datum	   *elems;
	Datum		values[2];
	uint64		r;
	int			j;
	int			ret;

	if (n == 0)
		return;
	rel = open_codes_table(AccessShareLock);
	distributed = codes_placement(RelationGetRelid(rel)) != CODES_PLAIN_TABLE;
	table_close(rel, NoLock);
	if (plans[distributed] == NULL)
		plans[distributed] = codes_prepare(distributed ? taken_distributed_sql : taken_sql,
										   2, argtypes);

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
 * Keep the chunk's codes that are not dropped, in order.
 */
static void
chunk_keep(Chunk *chunk, const bool *drop)
{
	int			i;
	int			j = 0;

	for (i = 0; i < chunk->n; i++)
	{
		if (drop[i])
			continue;
		chunk->keys[j] = chunk->keys[i];
		if (chunk->display)
			chunk->display[j] = chunk->display[i];
		if (chunk->canon)
			chunk->canon[j] = chunk->canon[i];
		j++;
	}
	chunk->n = j;
}

/*
 * The error for a hashed batch whose key is not configured and whose codes
 * new codes could be mistaken for: their uniqueness cannot be checked.
 */
static void
codes_missing_key_error(const char *key_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("key %s of hashed codes is not configured", key_id),
			 errdetail("New codes could have the text of codes of a batch stored with that key, which cannot be checked without it."),
			 errhint("Name the key's file in codes.key_file or codes.old_key_files; the server log tells of key files that could not be used.")));
}

/*
 * Leave out of the chunk the codes that are taken: those some code is
 * stored under already, if own_keys, and those that would be looked up
 * under a key, other than their own, that some code of another store has
 * (plain and hashed batches, or hashed batches under different keys, of
 * shapes that share text).  The keys a code would be looked up under come
 * from codes_canonical_keys, as for a look-up.
 */
static void
drop_taken(const GenState *st, Chunk *chunk, bool own_keys)
{
	int			per_code = (own_keys ? 1 : 0) +
		(st->other_stores ? Max(st->nshapes, 1) : 0);
	pg_uuid_t  *keys = palloc(sizeof(pg_uuid_t) * chunk->n * per_code);
	int		   *owners = palloc(sizeof(int) * chunk->n * per_code);
	pg_uuid_t  *found = palloc(sizeof(pg_uuid_t) * Max(st->nshapes, 1));
	bool	   *taken = palloc0(sizeof(bool) * chunk->n);
	int			n = 0;
	int			i;

	for (i = 0; i < chunk->n; i++)
	{
		if (own_keys)
		{
			keys[n] = chunk->keys[i];
			owners[n++] = i;
		}
		if (st->other_stores)
		{
			char		missing_key[CODES_KEY_ID_LEN + 1];
			int			nfound;
			int			k;

			nfound = codes_canonical_keys(chunk->canon[i],
										  strlen(chunk->canon[i]),
										  st->shapes, st->nshapes,
										  found, missing_key);
			if (missing_key[0] != '\0')
				codes_missing_key_error(missing_key);
			for (k = 0; k < nfound; k++)
			{
				if (memcmp(found[k].data, chunk->keys[i].data, UUID_LEN) == 0)
					continue;
				keys[n] = found[k];
				owners[n++] = i;
			}
		}
	}

	mark_taken(keys, owners, n, taken);
	chunk_keep(chunk, taken);
}

/*
 * Keep at most want of the chunk's codes, each key once.
 */
static void
keep_distinct(Chunk *chunk, int want)
{
	int		   *order = palloc(sizeof(int) * chunk->n);
	bool	   *drop = palloc0(sizeof(bool) * chunk->n);
	int			kept = 0;
	int			i;

	for (i = 0; i < chunk->n; i++)
		order[i] = i;
	qsort_arg(order, chunk->n, sizeof(int), key_index_cmp, (void *) chunk);
	for (i = 1; i < chunk->n; i++)
		if (key_index_cmp(&order[i - 1], &order[i], (void *) chunk) == 0)
			drop[order[i]] = true;
	for (i = 0; i < chunk->n; i++)
	{
		if (drop[i])
			continue;
		if (kept == want)
			drop[i] = true;
		else
			kept++;
	}
	chunk_keep(chunk, drop);
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
					  const Chunk *chunk, Tuplestorestate *out,
					  TupleDesc outdesc)
{
	int		   *order = palloc(sizeof(int) * chunk->n);
	bool	   *inserted_here = palloc0(sizeof(bool) * chunk->n);
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
		mark_taken(keys, owners, n, taken);
		for (j = 0; j < n; j++)
			if (!taken[owners[j]])
				skipped++;
		if (skipped > 0)
			codes_skipped_error(skipped, chunk->n);
	}

	for (j = 0; j < chunk->n; j++)
		if (inserted_here[j])
			put_code(out, outdesc, chunk, j);
	return inserted;
}

/*
 * Make room in the chunk for size codes.
 */
static void
chunk_alloc(Chunk *chunk, int size, bool with_display, bool with_canon)
{
	/* one key more than codes, for insert_chunk_skipping's look-ups */
	chunk->keys = palloc(sizeof(pg_uuid_t) * (size + 1));
	chunk->display = with_display ? palloc(sizeof(char *) * size) : NULL;
	chunk->canon = with_canon ? palloc(sizeof(char *) * size) : NULL;
	chunk->size = size;
}

/*
 * The number of codes in batches of the pattern, under any store.
 */
static int64
count_pattern_codes(const CodesPattern *pat)
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
 * The pattern has no room for more new codes: an error naming how many
 * codes it makes and how many exist.  stalled says that rounds of draws
 * found no free code, though the count left room (codes of other patterns
 * may share its text, or concurrent batches not yet committed hold it).
 */
static void
codes_used_up_error(const GenState *st, int32 more, int64 existing,
					bool stalled)
{
	const CodesBatchSpec *spec = st->spec;

	if (spec->pattern == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no free UUID code was found for %d more", more),
				 errdetail("Many rounds of draws in a row found no code that does not collide with an existing one.")));

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("pattern \"%s\" has too few codes left for %d more",
					spec->pattern, more),
			 stalled ?
			 errdetail("The pattern makes %.0f different codes, and %lld of them exist already; rounds of draws found no free one, as codes of patterns that share its text or of batches not yet committed may hold the rest.",
					   st->capacity, (long long) existing) :
			 errdetail("The pattern makes %.0f different codes, and %lld of them exist already.",
					   st->capacity, (long long) existing),
			 errhint("Add random symbols (#) to the pattern, or delete codes of it that are no longer needed.")));
}

/*
 * Refuse a patterned batch at once when its pattern has fewer codes left
 * than asked for.  Codes of the pattern are counted only when the keyspace
 * is small enough for that to be possible: when it is below num plus an
 * upper bound of the rows of codes.codes, from its size.
 */
static void
check_capacity(GenState *st)
{
	const CodesBatchSpec *spec = st->spec;
	Relation	rel;
	double		rows_bound;
	int64		existing;

	if (spec->pattern == NULL)
		return;
	rel = open_codes_table(AccessShareLock);
	rows_bound = (double) RelationGetNumberOfBlocks(rel) *
		(BLCKSZ / GEN_MIN_ROW_BYTES);
	table_close(rel, NoLock);
	if (st->capacity >= spec->num + rows_bound)
		return;

	existing = count_pattern_codes(&spec->parsed);
	if (existing + spec->num > st->capacity)
		codes_used_up_error(st, spec->num, existing, false);
}

/*
 * Make the batch's codes and put the text of each into out: GEN_CHUNK at a
 * time, generated and inserted as arrays through a saved plan.  With
 * skipping, codes that collide with existing ones are left out and made
 * again in the next round; without, a collision is a unique violation.
 * Codes that would be looked up under the key of a code of another store
 * are left out and made again either way.  After a round that added no
 * code, a round draws GEN_CHUNK codes and keeps those that are free (see
 * GEN_MAX_STALLS for when the keyspace is taken to be used up).
 */
static void
fill_batch(const GenState *st, bool skipping, Tuplestorestate *out,
		   TupleDesc outdesc)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr skipping_plan = NULL;
	const CodesBatchSpec *spec = st->spec;
	MemoryContext chunkcxt;
	RandomBytes *rnd = NULL;
	Chunk		chunk;
	Datum	   *elems;
	bool		with_display = spec->pattern || spec->hmac_key;
	int32		done = 0;
	int			stalls = 0;		/* rounds in a row that added no code */
	int			empty = 0;		/* of these, drawn ones that found none free */

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

	chunk_alloc(&chunk, Min(spec->num, GEN_CHUNK), with_display,
				st->other_stores);
	chunk.store_display = spec->pattern && !spec->hmac_key;
	elems = palloc(sizeof(Datum) * chunk.size);
	chunkcxt = AllocSetContextCreate(CurrentMemoryContext,
									 "codes_generate chunk",
									 ALLOCSET_DEFAULT_SIZES);

	while (done < spec->num)
	{
		MemoryContext oldcxt;
		Datum		values[3];
		char		nulls[3] = {' ', ' ', 'n'};
		int32		want = spec->num - done;
		int			inserted;
		int			i;
		int			ret;

		CHECK_FOR_INTERRUPTS();

		if (stalls > 0 && chunk.size < GEN_CHUNK)
		{
			chunk_alloc(&chunk, GEN_CHUNK, with_display, st->other_stores);
			elems = palloc(sizeof(Datum) * chunk.size);
		}

		oldcxt = MemoryContextSwitchTo(chunkcxt);

		chunk.n = stalls > 0 ? GEN_CHUNK : Min(want, GEN_CHUNK);
		if (spec->pattern)
			random_pattern_codes(&chunk, &spec->parsed, spec->hmac_key, rnd);
		else
			random_uuids(&chunk, spec->hmac_key);
		if (st->other_stores || stalls > 0)
			drop_taken(st, &chunk, stalls > 0);
		if (stalls > 0)
		{
			keep_distinct(&chunk, want);
			empty = chunk.n == 0 ? empty + 1 : 0;
		}

		values[0] = Int32GetDatum(st->batch_id);
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

		if (chunk.n == 0)
			inserted = 0;
		else if (skipping)
			inserted = insert_chunk_skipping(skipping_plan, values, nulls,
											 &chunk, out, outdesc);
		else
		{
			ret = SPI_execute_plan(plan, values, nulls, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "SPI_execute_plan failed inserting codes: %s",
					 SPI_result_code_string(ret));
			if (SPI_processed != (uint64) chunk.n)
				codes_skipped_error(chunk.n - (int) SPI_processed, chunk.n);
			for (i = 0; i < chunk.n; i++)
				put_code(out, outdesc, &chunk, i);
			inserted = chunk.n;
		}
		done += inserted;
		codes_progress_update(done);

		if (inserted > 0)
			stalls = empty = 0;
		else if (++stalls > GEN_MAX_FRUITLESS || empty >= GEN_MAX_STALLS)
			codes_used_up_error(st, spec->num - done,
								spec->pattern ? count_pattern_codes(&spec->parsed) : 0,
								true);

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
fill_batch_fast(const GenState *st, Tuplestorestate *out, TupleDesc outdesc)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool filled = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		fill_batch(st, false, out, outdesc);

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
 * Take the advisory lock on the class of codes the batch makes (see
 * GEN_LOCK_CLASSID), shared for a plain batch and exclusive for a hashed
 * one, until the end of the transaction; then take in the batches that
 * committed while it was waited for.
 */
static void
lock_shape_class(const CodesBatchSpec *spec)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, GEN_LOCK_CLASSID,
						 spec->pattern ? spec->parsed.canon_len : 0, 2);
	(void) LockAcquire(&tag, spec->hmac_key ? ExclusiveLock : ShareLock,
					   false, false);
	codes_refresh_batch_cache();
}

/*
 * Learn the batch's shape and the shapes of all batches, and whether any of
 * them is stored another way with text in common; such a batch whose key is
 * not configured is an error.
 */
static void
gen_state_init(GenState *st, const CodesBatchSpec *spec)
{
	const CodesShape *known;
	char		missing_key[CODES_KEY_ID_LEN + 1];

	memset(st, 0, sizeof(*st));
	st->spec = spec;
	st->own.is_uuid = (spec->pattern == NULL);
	if (spec->pattern)
		st->own.pat = spec->parsed;
	if (spec->hmac_key)
		strlcpy(st->own.key_id, spec->hmac_key->id, sizeof(st->own.key_id));
	st->capacity = spec->pattern ?
		pow(CODES_ALPHABET_SIZE, spec->parsed.nrandom) : 0;

	/* a copy: what batch.c remembers may be read again meanwhile */
	known = codes_known_shapes(&st->nshapes);
	st->shapes = palloc(sizeof(CodesShape) * Max(st->nshapes, 1));
	memcpy(st->shapes, known, sizeof(CodesShape) * st->nshapes);

	st->other_stores = codes_other_stores(&st->own, st->shapes, st->nshapes,
										  missing_key);
	if (missing_key[0] != '\0')
		codes_missing_key_error(missing_key);
}

/*
 * Create the batch described by spec and put the text of each new code into
 * out, one row each.  The codes are first inserted the fast way; if one
 * collides with an existing code, that attempt is rolled back and the
 * codes are made again, leaving out and redrawing any that collide, so the
 * batch always comes back complete.  (Random UUIDs, whose keys collide
 * when their 64-bit folds do, take about four billion codes per collision;
 * patterned codes collide when their keyspace is small for their number.)
 *
 * Codes are unique across all batches, whatever their stores: when batches
 * stored another way share text with the new codes, each new code is
 * checked not to be taken under the other keys it would be looked up
 * under, with the latest snapshot, under the advisory lock that keeps
 * batches of other stores of its class from being made meanwhile.
 */
void
codes_generate(const CodesBatchSpec *spec, Tuplestorestate *out,
			   TupleDesc outdesc)
{
	GenState	st;
	int			ret;

	PreventCommandIfReadOnly("code_gen()");
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));

	lock_shape_class(spec);
	gen_state_init(&st, spec);
	check_capacity(&st);

	st.batch_id = insert_batch(spec);
	codes_progress_begin(st.batch_id, spec->name, spec->num);
	if (!fill_batch_fast(&st, out, outdesc))
		fill_batch(&st, true, out, outdesc);
	codes_progress_end();

	SPI_finish();
}

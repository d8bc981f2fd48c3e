/*-------------------------------------------------------------------------
 *
 * gen.c
 *	  Batch generation: the advisory lock on the class of codes made, the
 *	  checks of room in a pattern, the batch row, and the rounds of chunks
 *	  of random codes (gen_chunk.c) inserted into codes.codes
 *	  (gen_insert.c) until the batch is complete; into a new batch, or
 *	  into an existing one (batch_generate).
 *
 * Everything happens in the caller's transaction, so a batch is created
 * whole or not at all, and commits or rolls back with the caller's work.
 *
 * Calls gen_chunk.c, gen_insert.c, lookup.c, batch.c, progress.c and
 * plans.c; called by code_gen.c, code_add.c (batch_create,
 * batch_generate) and import.c (the locks of classes of codes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "batch.h"
#include "gen.h"
#include "gen_chunk.h"
#include "gen_insert.h"
#include "keys.h"
#include "lookup.h"
#include "plans.h"
#include "progress.h"
#include "text.h"

/*
 * Codes inserted per INSERT statement: as many as maintenance_work_mem
 * holds at GEN_CODE_BYTES each (a code's key, text, canonical text and
 * their copies in the statement's arrays), and GEN_KEY_BYTES for each key
 * of another store it is checked under (drop_taken), from GEN_CHUNK_MIN
 * to GEN_CHUNK_MAX; 349,525 at the default 64MB.  Each chunk is inserted
 * in the order of the key index (codes_chunk_sort), so the larger the
 * chunk, the fewer times each leaf page of a large index is read and
 * written.
 */
#define GEN_CODE_BYTES	192
#define GEN_KEY_BYTES	64
#define GEN_CHUNK_MIN	10000
#define GEN_CHUNK_MAX	1000000

/*
 * After a round that added no code, each round draws GEN_STALL_DRAWS
 * codes, however few are missing, and keeps those that are free.  When
 * GEN_MAX_STALLS such rounds in a row find no free code, the keyspace is
 * taken to be used up: with two free codes of 961 left, a round finds none
 * with a chance of one in a billion.  Free codes that still collide (with
 * codes of a concurrent batch, or on a unique index of the user's) are
 * drawn again, up to GEN_MAX_FRUITLESS rounds in a row.
 */
#define GEN_STALL_DRAWS		GEN_CHUNK_MIN
#define GEN_MAX_STALLS		4
#define GEN_MAX_FRUITLESS	1000

/*
 * The lock that code_gen takes, until the end of the transaction, on the
 * class of codes it makes (documented in README.md): an advisory lock tag
 * whose classid is the bytes of "code", objid 0 for UUID codes, else the
 * canonical length of the pattern (codes of different lengths never have
 * the same text).  Plain batches take it shared, hashed ones exclusive: a
 * plain and a hashed batch of one class store the same text under
 * different keys, which the unique index cannot see, so they must not be
 * made concurrently.  Its fourth field is GEN_LOCK_FIELD4, which no SQL
 * function sets (pg_advisory_lock and its kin set 1 for a bigint key, 2
 * for a pair of integers), so that no role can stall generation by taking
 * the lock first.
 */
#define GEN_LOCK_CLASSID	0x636F6465
#define GEN_LOCK_FIELD4		0x636F

/*
 * Insert the batch row under a name, taking the next batch id.  With a NULL
 * name the batch is called "batch-<id>".  ON CONFLICT makes a taken name
 * show as "no row" rather than an error, after waiting for any concurrent
 * transaction that inserted the same name.
 */
/*
 * The new batch's row, unless its name is taken (then no row).  The INSERT
 * runs in a WITH, whose rows the SELECT returns: Citus miscounts the rows
 * of an INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING that
 * inserts none, which SPI then refuses ("consistency check on SPI tuple
 * count failed"), where a name already taken is to be reported.
 */
static const char *const batch_insert_sql =
"WITH made AS ("
"INSERT INTO codes.batch "
"(id, name, valid_from, valid_until, max_uses, max_uses_per_redeemer, pattern, key_id, metadata, "
"max_batch_uses_per_redeemer) "
"SELECT n, COALESCE($1, pg_catalog.concat('batch-', n)), $2, $3, $4, $5, $6, $7, $8, $9 "
"FROM pg_catalog.nextval('codes.batch_id_seq'::pg_catalog.regclass) AS n "
"ON CONFLICT (name) DO NOTHING "
"RETURNING id) "
"SELECT made.id FROM made";

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
 * Create the batch row and return its id.  A name already taken is an
 * error; a generated name that some batch already took by hand is skipped.
 */
static int32
insert_batch(const CodesBatchSpec *spec)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[9];
	char		nulls[9];

	if (plan == NULL)
	{
		Oid			argtypes[9] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		INT4OID, INT4OID, TEXTOID, TEXTOID, JSONBOID, INT4OID};

		plan = codes_prepare(batch_insert_sql, 9, argtypes);
	}

	values[0] = spec->name ? CStringGetTextDatum(spec->name) : (Datum) 0;
	nulls[0] = spec->name ? ' ' : 'n';
	values[1] = TimestampTzGetDatum(spec->valid_from);
	nulls[1] = spec->from_null ? 'n' : ' ';
	values[2] = TimestampTzGetDatum(spec->valid_until);
	nulls[2] = spec->until_null ? 'n' : ' ';
	values[3] = Int32GetDatum(spec->max_uses);
	nulls[3] = spec->max_uses_null ? 'n' : ' ';
	values[4] = Int32GetDatum(spec->max_uses_per_redeemer);
	nulls[4] = spec->per_redeemer_null ? 'n' : ' ';
	values[5] = spec->pattern ? CStringGetTextDatum(spec->pattern) : (Datum) 0;
	nulls[5] = spec->pattern ? ' ' : 'n';
	values[6] = spec->hmac_key ? CStringGetTextDatum(spec->hmac_key->id) : (Datum) 0;
	nulls[6] = spec->hmac_key ? ' ' : 'n';
	values[7] = spec->metadata;
	nulls[7] = spec->metadata_null ? 'n' : ' ';
	values[8] = Int32GetDatum(spec->max_batch_uses_per_redeemer);
	nulls[8] = spec->batch_limit_null ? 'n' : ' ';

	for (;;)
	{
		bool		isnull;
		int			ret;

		ret = SPI_execute_plan(plan, values, nulls, false, 0);
		if (ret != SPI_OK_SELECT)
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
 * A hashed batch whose key is not configured has codes that new codes
 * could be mistaken for: they cannot be checked against them.  Its codes
 * cannot be looked up either (a look-up answers them as not found), so
 * generation (and code_add, import.c) goes on, and says so.
 */
void
codes_warn_missing_key(const char *key_id)
{
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("key %s of hashed codes is not configured", key_id),
			 errdetail("New codes are not checked against the codes of batches hashed under that key, which cannot be looked up without it."),
			 errhint("Name the key's file in codes.key_file or codes.old_key_files, or retire or delete those batches.")));
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
drop_taken(const GenState *st, CodesChunk *chunk, bool own_keys)
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
		CHECK_FOR_INTERRUPTS();
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

			/* a key not configured was warned of: gen_state_init */
			nfound = codes_canonical_keys(chunk->canon[i],
										  strlen(chunk->canon[i]),
										  st->shapes, st->nshapes,
										  found, missing_key);
			for (k = 0; k < nfound; k++)
			{
				if (memcmp(found[k].data, chunk->keys[i].data, UUID_LEN) == 0)
					continue;
				keys[n] = found[k];
				owners[n++] = i;
			}
		}
	}

	codes_mark_taken(keys, owners, n, taken);
	codes_chunk_keep(chunk, taken);
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
			 errdetail("The pattern makes %.0f different codes, and %lld of them exist already; rounds of draws found no free one, as codes of patterns that share its text, chosen codes (code_add) or codes of batches not yet committed may hold the rest.",
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
	int64		existing;

	if (spec->pattern == NULL)
		return;
	if (st->capacity >= spec->num + codes_table_rows_bound())
		return;

	existing = codes_count_pattern_codes(&spec->parsed);
	if (existing + spec->num > st->capacity)
		codes_used_up_error(st, spec->num, existing, false);
}

/*
 * Refuse new codes of an existing patterned batch (batch_generate) when
 * the batch's codes, those it has and the new ones, would be too easy to
 * guess: code_gen's guard (code_gen.c) for a batch of that many.  The
 * batch's codes are counted only when the limit could be reached: when
 * it is below num plus an upper bound of the rows of codes.codes.
 */
static void
check_batch_guard(const GenState *st)
{
	const CodesBatchSpec *spec = st->spec;
	double		most = st->capacity * spec->guess_chance;
	int64		existing;
	double		chance;

	if (spec->pattern == NULL || most >= spec->num + codes_table_rows_bound())
		return;
	existing = codes_count_batch_codes(spec->batch_id);
	chance = (existing + spec->num) / st->capacity;
	if (chance <= spec->guess_chance)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("pattern keyspace of %.4g codes is too small for a batch of %lld",
					st->capacity, (long long) (existing + spec->num)),
			 errdetail("Batch \"%s\" has %lld codes; with %d more, one guess would match one of them with a chance of %.2g, above the limit codes.max_guess_chance = %.2g.",
					   spec->name, (long long) existing, spec->num, chance,
					   spec->guess_chance),
			 errhint("Make the new codes in a new batch of a pattern with more random symbols, or make fewer.")));
}

/*
 * The number of codes per chunk (see GEN_CODE_BYTES).
 */
static int
chunk_size(const GenState *st)
{
	int			other_keys = st->other_stores ? Max(st->nshapes, 1) : 0;
	double		fit = (double) maintenance_work_mem * 1024.0 /
		(GEN_CODE_BYTES + other_keys * GEN_KEY_BYTES);

	return (int) Max(GEN_CHUNK_MIN, Min(fit, GEN_CHUNK_MAX));
}

/*
 * Make the batch's codes and put the text of each into out: a chunk at a
 * time (chunk_size), in the order of the key index, generated and
 * inserted as arrays through a saved plan.  With
 * skipping, codes that collide with existing ones are left out and made
 * again in the next round; without, a collision is a unique violation.
 * Codes that would be looked up under the key of a code of another store
 * are left out and made again either way.  After a round that added no
 * code, a round draws GEN_STALL_DRAWS codes and keeps those that are free
 * (see GEN_MAX_STALLS for when the keyspace is taken to be used up).
 */
static void
fill_batch(const GenState *st, bool skipping, Tuplestorestate *out,
		   TupleDesc outdesc)
{
	const CodesBatchSpec *spec = st->spec;
	MemoryContext chunkcxt;
	RandomBytes *rnd = NULL;
	CodesChunk	chunk;
	bool		with_display = spec->pattern || spec->hmac_key;
	int			max_chunk = chunk_size(st);
	int32		done = 0;
	int			stalls = 0;		/* rounds in a row that added no code */
	int			empty = 0;		/* of these, drawn ones that found none free */

	codes_prepare_code_inserts();
	if (spec->pattern)
		rnd = codes_random_bytes();

	codes_chunk_alloc(&chunk, Min(spec->num, max_chunk), with_display,
					  st->other_stores);
	chunk.store_display = spec->pattern && !spec->hmac_key;
	chunkcxt = AllocSetContextCreate(CurrentMemoryContext,
									 "codes_generate chunk",
									 ALLOCSET_DEFAULT_SIZES);

	while (done < spec->num)
	{
		MemoryContext oldcxt;
		int32		want = spec->num - done;
		int			inserted;

		CHECK_FOR_INTERRUPTS();

		if (stalls > 0 && chunk.size < GEN_STALL_DRAWS)
			codes_chunk_alloc(&chunk, GEN_STALL_DRAWS, with_display,
							  st->other_stores);

		oldcxt = MemoryContextSwitchTo(chunkcxt);

		chunk.n = stalls > 0 ? GEN_STALL_DRAWS : Min(want, max_chunk);
		if (spec->pattern)
			codes_random_pattern_codes(&chunk, &spec->parsed, spec->hmac_key, rnd);
		else
			codes_random_uuids(&chunk, spec->hmac_key);
		if (st->other_stores || stalls > 0)
			drop_taken(st, &chunk, stalls > 0);
		if (stalls > 0)
		{
			codes_chunk_keep_distinct(&chunk, want);
			empty = chunk.n == 0 ? empty + 1 : 0;
		}

		if (chunk.n == 0)
			inserted = 0;
		else
		{
			codes_chunk_sort(&chunk);
			inserted = codes_insert_chunk(st->batch_id, &chunk, skipping,
										  out, outdesc);
		}
		done += inserted;
		codes_progress_update(done);

		if (inserted > 0)
			stalls = empty = 0;
		else if (++stalls > GEN_MAX_FRUITLESS || empty >= GEN_MAX_STALLS)
			codes_used_up_error(st, spec->num - done,
								spec->pattern ? codes_count_pattern_codes(&spec->parsed) : 0,
								true);

		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(chunkcxt);
	}
	MemoryContextDelete(chunkcxt);
}

/* What fill_fast fills, and where its codes go. */
typedef struct FastFill
{
	const GenState *st;
	Tuplestorestate *out;
	TupleDesc	outdesc;
} FastFill;

/*
 * Fill the batch the fast way (codes_insert_or_collision's insert).
 */
static void
fill_fast(void *arg)
{
	const FastFill *f = arg;

	fill_batch(f->st, false, f->out, f->outdesc);
}

/*
 * Fill the batch the fast way, in one subtransaction
 * (codes_insert_or_collision); false, with nothing inserted and nothing
 * put out, if a code collided with an existing one.  Any other error
 * propagates; the unique violation's detail, which would show the
 * colliding key, never reaches the client or the log.
 */
static bool
fill_batch_fast(const GenState *st, Tuplestorestate *out, TupleDesc outdesc)
{
	FastFill	f;
	ErrorData  *collision;

	f.st = st;
	f.out = out;
	f.outdesc = outdesc;
	collision = codes_insert_or_collision(fill_fast, &f);
	if (collision == NULL)
		return true;
	FreeErrorData(collision);
	tuplestore_clear(out);
	return false;
}

/*
 * Take the advisory lock on a class of codes (see GEN_LOCK_CLASSID: 0 for
 * UUIDs, else the length of their canonical text; its fourth field is
 * GEN_LOCK_FIELD4, which no SQL function sets), shared for codes stored
 * plain and exclusive for hashed ones, until the end of the transaction.
 * The caller then takes in the batches that committed while it was waited
 * for (codes_refresh_batch_cache).  Callers that take several take them
 * in ascending order of class.
 */
void
codes_lock_class(int32 class, bool hashed)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, GEN_LOCK_CLASSID, class,
						 GEN_LOCK_FIELD4);
	(void) LockAcquire(&tag, hashed ? ExclusiveLock : ShareLock, false, false);
}

/*
 * Take the advisory lock on the class of codes the batch makes; then take
 * in the batches that committed while it was waited for.
 */
static void
lock_shape_class(const CodesBatchSpec *spec)
{
	codes_lock_class(spec->pattern ? spec->parsed.canon_len : 0,
					 spec->hmac_key != NULL);
	codes_refresh_batch_cache();
}

/*
 * Learn the batch's shape and the shapes of all batches, and whether any of
 * them is stored another way with text in common; such a batch whose key is
 * not configured is warned of.
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
	st->capacity = spec->pattern ? codes_pattern_keyspace(&spec->parsed) : 0;

	/* a copy: what batch.c remembers may be read again meanwhile */
	known = codes_known_shapes(&st->nshapes);
	st->shapes = palloc(sizeof(CodesShape) * Max(st->nshapes, 1));
	memcpy(st->shapes, known, sizeof(CodesShape) * st->nshapes);

	st->other_stores = codes_other_stores(&st->own, st->shapes, st->nshapes,
										  missing_key);
	if (missing_key[0] != '\0')
		codes_warn_missing_key(missing_key);
}

/*
 * Create the batch described by spec, without codes (batch_create), and
 * return its id.  A name already taken is an error (23505).
 */
int32
codes_create_batch(const CodesBatchSpec *spec)
{
	int32		id;
	int			ret;

	PreventCommandIfReadOnly("batch_create()");
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	id = insert_batch(spec);
	SPI_finish();
	return id;
}

/*
 * Create the batch described by spec, or with spec->batch_id add to that
 * existing batch (batch_generate), and put the text of each new code into
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
 * under, with the latest snapshot, under the lock of its class that keeps
 * batches of other stores of its class from being made meanwhile.
 */
void
codes_generate(const CodesBatchSpec *spec, Tuplestorestate *out,
			   TupleDesc outdesc)
{
	GenState	st;
	int			ret;

	PreventCommandIfReadOnly(spec->batch_id ? "batch_generate()" : "code_gen()");
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));

	lock_shape_class(spec);
	gen_state_init(&st, spec);
	check_capacity(&st);

	if (spec->batch_id != 0)
	{
		check_batch_guard(&st);
		st.batch_id = spec->batch_id;
	}
	else
		st.batch_id = insert_batch(spec);
	codes_progress_begin(st.batch_id, spec->name, spec->num);
	if (!fill_batch_fast(&st, out, outdesc))
		fill_batch(&st, true, out, outdesc);
	codes_progress_end();

	SPI_finish();
}

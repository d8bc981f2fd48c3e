/*-------------------------------------------------------------------------
 *
 * import.c
 *	  Codes given rather than generated (code_add): codes a merchant chooses
 *	  (SUMMER20) and codes imported from another system, each with its uses
 *	  so far.  The call is refused whole for a code that clashes with
 *	  another of the call or with an existing code of any batch and store,
 *	  naming positions in the array, never codes; the codes, read and
 *	  written by given.c, go into the batch in one set-based pass.  Also
 *	  finds the batch that codes are added to (code_add, batch_generate),
 *	  locked against its deletion.
 *
 * A batch with given codes is marked (codes.batch.chosen), which tells
 * every backend (batch.c) that any text may now be one of its codes.
 * Codes are unique across stores the way generation keeps them (gen.c):
 * under the advisory lock of each class of codes given, each code is
 * checked not to be taken under the other keys a look-up of it computes.
 *
 * The table's layer: calls given.c, tables.c, gen.c (the locks of classes
 * of codes), gen_insert.c (which keys are taken), lookup.c, batch.c,
 * keys.c and plans.c; called by code_add.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "batch.h"
#include "gen.h"
#include "gen_insert.h"
#include "given.h"
#include "import.h"
#include "keys.h"
#include "lookup.h"
#include "plans.h"
#include "tables.h"
#include "text.h"

/*
 * The batch that codes are added to, locked so that no batch_del or
 * batch_purge (which lock it FOR UPDATE) deletes it meanwhile: codes
 * added to a batch being deleted would outlive it.
 */
static const char *const open_sql =
"SELECT b.id, b.name, b.pattern, b.key_id, b.max_uses, b.chosen "
"FROM codes.batch AS b WHERE b.name OPERATOR(pg_catalog.=) $1 FOR KEY SHARE";

/*
 * Mark the batch as having given codes: a change of its row, which tells
 * every backend (batch_changed) that any text may be one of its codes.
 */
static const char *const mark_chosen_sql =
"UPDATE codes.batch AS b SET chosen = true "
"WHERE b.id OPERATOR(pg_catalog.=) $1 AND NOT b.chosen";

/*
 * Find the batch of this name, lock it against its deletion until the end
 * of the transaction (open_sql), and fill batch with what adding codes to
 * it needs, in the caller's memory.  22023 when there is none.
 */
void
codes_open_batch(const char *name, CodesTargetBatch *batch)
{
	static SPIPlanPtr plan = NULL;
	MemoryContext cxt = CurrentMemoryContext;
	Datum		arg = CStringGetTextDatum(name);
	HeapTuple	row;
	TupleDesc	desc;
	char	   *value;
	bool		isnull;
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	if (plan == NULL)
	{
		Oid			argtype = TEXTOID;

		plan = codes_prepare(open_sql, 1, &argtype);
	}
	ret = SPI_execute_plan(plan, &arg, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch \"%s\" does not exist", name),
				 errhint("View codes.batches lists the batches.")));

	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(batch, 0, sizeof(*batch));
	batch->id = DatumGetInt32(SPI_getbinval(row, desc, 1, &isnull));
	batch->name = MemoryContextStrdup(cxt, SPI_getvalue(row, desc, 2));
	value = SPI_getvalue(row, desc, 3);
	batch->pattern = value ? MemoryContextStrdup(cxt, value) : NULL;
	value = SPI_getvalue(row, desc, 4);
	if (value)
		strlcpy(batch->key_id, value, sizeof(batch->key_id));
	batch->max_uses = DatumGetInt32(SPI_getbinval(row, desc, 5,
												  &batch->max_uses_null));
	if (batch->max_uses_null)
		batch->max_uses = 0;
	batch->chosen = DatumGetBool(SPI_getbinval(row, desc, 6, &isnull));
	SPI_finish();
}

/*
 * The server key of a hashed batch, copied for the length of the call (see
 * codes_copy_key), or NULL for a plain batch.  New codes of a hashed
 * batch are hashed under its key, so a key that is not configured is an
 * error (55000).
 */
const CodesKey *
codes_batch_key(const CodesTargetBatch *batch)
{
	const CodesKey *key;

	if (batch->key_id[0] == '\0')
		return NULL;
	key = codes_find_key(batch->key_id);
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key %s of batch \"%s\" is not configured",
						batch->key_id, batch->name),
				 errdetail("The batch's codes are hashed under that key, and new codes of it must be too."),
				 errhint("Name the key's file in codes.key_file or codes.old_key_files.")));
	return codes_copy_key(key);
}

/*
 * Take the advisory lock of each class of codes given (codes_lock_class),
 * in ascending order, then take in the batches that committed while they
 * were waited for.
 */
static void
lock_classes(const CodesGiven *g)
{
	int			class;

	for (class = 0; class <= CODES_MAX_PATTERN; class++)
		if (g->classes[class])
			codes_lock_class(class, g->key != NULL);
	codes_refresh_batch_cache();
}

/*
 * Mark the batch as having given codes (mark_chosen_sql), unless it is.
 */
static void
mark_chosen(const CodesTargetBatch *batch)
{
	static SPIPlanPtr plan = NULL;
	Datum		arg = Int32GetDatum(batch->id);
	int			ret;

	if (batch->chosen)
		return;
	if (plan == NULL)
	{
		Oid			argtype = INT4OID;

		plan = codes_prepare(mark_chosen_sql, 1, &argtype);
	}
	ret = SPI_execute_plan(plan, &arg, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
}

/*
 * Flag in clash[] each given code that another code of the call comes
 * before with the same key (or the same fold: the unique index keeps one
 * per fold); and, with existing, each whose key some code has already.
 */
static void
clashes_within(const CodesGiven *g, bool *clash, bool existing)
{
	int			j;

	for (j = 1; j < g->n; j++)
		if (g->codes[j].fold == g->codes[j - 1].fold)
			clash[g->codes[j].i] = true;
	if (existing)
	{
		pg_uuid_t  *keys = palloc_extended(sizeof(pg_uuid_t) * g->n, MCXT_ALLOC_HUGE);
		int		   *owners = palloc_extended(sizeof(int) * g->n, MCXT_ALLOC_HUGE);

		for (j = 0; j < g->n; j++)
		{
			keys[j] = g->codes[j].key;
			owners[j] = g->codes[j].i;
		}
		codes_mark_taken(keys, owners, g->n, clash);
		pfree(keys);
		pfree(owners);
	}
}

/*
 * Flag in clash[] each given code that a code of another store has: one
 * stored under another key that a look-up of its text computes (a plain
 * code of the same text beside a hashed one, or codes hashed under two
 * keys).  Only when some batch of another store exists; one whose key is
 * not configured cannot be checked, and is warned of (as generation does).
 */
static void
clashes_elsewhere(const CodesGiven *g, bool *clash)
{
	CodesShape	own;
	const CodesShape *known;
	CodesShape *shapes;
	int			nshapes;
	char		missing_key[CODES_KEY_ID_LEN + 1];
	pg_uuid_t  *found;
	pg_uuid_t  *keys;
	int		   *owners;
	int			size;
	int			n = 0;
	int			j;

	memset(&own, 0, sizeof(own));
	own.chosen = true;
	strlcpy(own.key_id, g->batch->key_id, sizeof(own.key_id));
	known = codes_known_shapes(&nshapes);
	shapes = palloc(sizeof(CodesShape) * Max(nshapes, 1));
	memcpy(shapes, known, sizeof(CodesShape) * nshapes);
	if (!codes_other_stores(&own, shapes, nshapes, missing_key))
		return;
	if (missing_key[0] != '\0')
		codes_warn_missing_key(missing_key);

	found = palloc(sizeof(pg_uuid_t) * Max(nshapes, 1));
	size = Max(g->n, 1);
	keys = palloc_extended(sizeof(pg_uuid_t) * size, MCXT_ALLOC_HUGE);
	owners = palloc_extended(sizeof(int) * size, MCXT_ALLOC_HUGE);
	for (j = 0; j < g->n; j++)
	{
		const CodesGivenCode *code = &g->codes[j];
		char		canon[CODES_MAX_PATTERN + 1];
		int			len = codes_given_canon(g, code->i, canon);
		int			nfound;
		int			k;

		CHECK_FOR_INTERRUPTS();
		nfound = codes_canonical_keys(canon, len, shapes, nshapes, found,
									  missing_key);
		for (k = 0; k < nfound; k++)
		{
			if (memcmp(found[k].data, code->key.data, UUID_LEN) == 0)
				continue;
			if (n == size)
			{
				size *= 2;
				keys = repalloc_huge(keys, sizeof(pg_uuid_t) * size);
				owners = repalloc_huge(owners, sizeof(int) * size);
			}
			keys[n] = found[k];
			owners[n++] = code->i;
		}
	}
	codes_mark_taken(keys, owners, n, clash);
}

/*
 * Refuse the call if any code was flagged as clashing (23505), naming how
 * many and the first positions; never the codes.
 */
static void
refuse_clashes(const CodesGiven *g, const bool *clash)
{
	int			count;
	char	   *where = codes_given_positions(g, clash, &count);

	if (count == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg_plural("%d code clashes with an existing code or one given before it",
						   "%d codes clash with existing codes or ones given before them",
						   count, count),
			 errdetail("Positions in the array: %s.", where),
			 errhint("Codes are unique across all batches, whatever their case, spaces and hyphens. Leave those out, or delete the codes they clash with.")));
}

/*
 * Add the given codes, with their uses so far (NULL: none), to the batch
 * opened by codes_open_batch, and return how many there were.  All or
 * nothing: any code that cannot be added refuses the whole call.
 *
 * Clashes are looked for where they can be cheaply first: within the
 * call, and with codes of other stores (which the unique index cannot
 * see).  A clash with an existing code of the batch's store shows as a
 * unique violation while inserting directly; only then are the keys taken
 * looked up, so that the refusal can name them (through SQL, they are
 * looked up first).  A concurrent code_add of the same text is waited for
 * by the unique index: if it commits, this one is refused; if it rolls
 * back, this one goes on.
 */
int64
codes_add_given(const CodesTargetBatch *batch, ArrayType *codes,
				ArrayType *uses)
{
	const CodesTables *known;
	CodesGiven		g;
	bool	   *clash;
	ErrorData  *failed;
	int			ret;

	PreventCommandIfReadOnly("code_add()");
	codes_read_given(&g, batch, codes_batch_key(batch), codes, uses);
	if (g.n == 0)
		return 0;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	lock_classes(&g);
	mark_chosen(batch);

	/*
	 * Through SQL, the keys taken are looked up first: Citus reports a
	 * unique violation on a shard as an internal error (XX000), which
	 * could not be told from another.
	 */
	known = codes_tables(RowExclusiveLock);
	clash = palloc0(sizeof(bool) * g.n);
	clashes_within(&g, clash, !known->direct);
	clashes_elsewhere(&g, clash);
	if (memchr(clash, true, g.n) != NULL)
	{
		clashes_within(&g, clash, true);
		refuse_clashes(&g, clash);
	}

	failed = codes_write_given(&g, known);
	if (failed != NULL)
	{
		clashes_within(&g, clash, true);
		refuse_clashes(&g, clash);
		ReThrowError(failed);	/* a unique index of the user's, say */
	}

	SPI_finish();
	return g.n;
}

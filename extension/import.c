/*-------------------------------------------------------------------------
 *
 * import.c
 *	  Codes given rather than generated (code_add): codes a merchant chooses
 *	  (SUMMER20) and codes imported from another system, each with its uses
 *	  so far.  The given texts are read as every code is read (input.c) and
 *	  stored under the key a look-up of them computes (lookup.c); the whole
 *	  call is refused for a text that cannot be a code, uses out of range,
 *	  or a code that clashes with another of the call or with an existing
 *	  code of any batch and store; the rest go into the batch in one
 *	  set-based pass, in the order of the key index.  Also finds the batch
 *	  that codes are added to (code_add, batch_generate), locked against
 *	  its deletion.
 *
 * A batch with given codes is marked (codes.batch.chosen), which tells
 * every backend (batch.c) that any text may now be one of its codes.
 * Codes are unique across stores the way generation keeps them (gen.c):
 * under the advisory lock of each class of codes given, each code is
 * checked not to be taken under the other keys a look-up of it computes.
 *
 * No message here contains a code: a refusal names codes by their
 * position in the array.
 *
 * The table's layer: inserts directly (rows.c) where codes.codes runs no
 * user's code and is this server's own table (tables.c says), else
 * through SQL (gen_insert.c).  Calls rows.c, tables.c, gen.c (the locks
 * of classes of codes), gen_insert.c (inserting, which keys are taken),
 * lookup.c, batch.c, keys.c, text.c and plans.c; called by code_add.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "batch.h"
#include "gen.h"
#include "gen_insert.h"
#include "import.h"
#include "keys.h"
#include "lookup.h"
#include "plans.h"
#include "rows.h"
#include "tables.h"
#include "text.h"

/* Given codes inserted per statement, on the way through SQL. */
#define IMPORT_CHUNK	100000

/* Rows written at a time, on the direct way (as COPY buffers them). */
#define IMPORT_ROWS		1000

/* Positions of the array a refusal names at most. */
#define IMPORT_NAMED	5

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

/* One given code. */
typedef struct GivenCode
{
	int64		fold;			/* its key's fold: the order of the index */
	pg_uuid_t	key;			/* the key it is stored under */
	int32		i;				/* its element of the array, from 0 */
	int32		uses;			/* its uses so far */
	bool		uuid;			/* its text reads as a UUID */
} GivenCode;

/* What one code_add call was given, once read. */
typedef struct Given
{
	const CodesTargetBatch *batch;
	const CodesKey *key;		/* the batch's server key; NULL: plain */
	Datum	   *texts;			/* the array's elements */
	int			lbound;			/* the array's first subscript */
	int			n;
	GivenCode  *codes;			/* n, in the order of the key index */
	bool		any_uses;		/* some code has uses so far */
	bool		classes[CODES_MAX_PATTERN + 1]; /* the classes given (gen.c) */
} Given;

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
 * The positions in the array of the codes flagged, for a refusal, written
 * out: "3, 17 and 20", or past IMPORT_NAMED "3, 17, 20, 31, 40 and 12
 * more".  *count is set to how many there are.
 */
static char *
positions(const Given *g, const bool *flagged, int *count)
{
	StringInfoData buf;
	int			named = 0;
	int			i;

	*count = 0;
	for (i = 0; i < g->n; i++)
		if (flagged[i])
			(*count)++;
	initStringInfo(&buf);
	for (i = 0; i < g->n && named < IMPORT_NAMED; i++)
	{
		if (!flagged[i])
			continue;
		if (named > 0)
			appendStringInfoString(&buf, named + 1 == *count ? " and " : ", ");
		appendStringInfo(&buf, "%lld", (long long) g->lbound + i);
		named++;
	}
	if (*count > named)
		appendStringInfo(&buf, " and %d more", *count - named);
	return buf.data;
}

/*
 * The canonical form of given code i (input.c), and its length; -1 when
 * the text cannot be a code.
 */
static int
given_canon(const Given *g, int i, char *canon)
{
	/* an array's elements are never compressed or stored apart */
	return codes_canonical_form((text *) DatumGetPointer(g->texts[i]), canon);
}

/*
 * Order of given codes: by fold as the index orders bigints, then by
 * element, so that of codes of one fold the first given comes first.
 */
static inline int
given_cmp(const GivenCode *a, const GivenCode *b)
{
	if (a->fold != b->fold)
		return (a->fold > b->fold) - (a->fold < b->fold);
	return (a->i > b->i) - (a->i < b->i);
}

/*
 * sort_given(codes, n): a sort of given codes by given_cmp, made by
 * PostgreSQL's sort template with the comparison inlined (a million codes
 * sort in a fraction of what qsort's calls through a pointer take).
 */
#define ST_SORT sort_given
#define ST_ELEMENT_TYPE GivenCode
#define ST_COMPARE(a, b) given_cmp(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The uses so far of each given code, from the uses array (NULL: none),
 * checked: as many as codes, each NULL (0) or from 0 to the batch's
 * max_uses.  Out of range is refused whole (22023), naming positions.
 */
static void
read_uses(Given *g, ArrayType *uses)
{
	Datum	   *counts;
	bool	   *nulls;
	bool	   *bad;
	int			n;
	int			nbad;
	int			i;

	if (uses == NULL)
		return;
	if (ARR_NDIM(uses) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("uses must be a one-dimensional array")));
	deconstruct_array(uses, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &counts, &nulls, &n);
	if (n != g->n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("uses must have as many elements as codes"),
				 errdetail("codes has %d elements, uses %d.", g->n, n)));

	bad = palloc0(sizeof(bool) * Max(n, 1));
	nbad = 0;
	for (i = 0; i < n; i++)
	{
		int32		count = nulls[i] ? 0 : DatumGetInt32(counts[i]);

		if (count < 0 || (!g->batch->max_uses_null && count > g->batch->max_uses))
		{
			bad[i] = true;
			nbad++;
		}
		g->codes[i].uses = count;
		g->any_uses |= (count != 0);
	}
	if (nbad > 0)
	{
		int			count;
		char	   *where = positions(g, bad, &count);

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_plural("%d use count is out of range",
							   "%d use counts are out of range",
							   count, count),
				 g->batch->max_uses_null ?
				 errdetail("Positions in the array: %s. Uses so far are at least 0.", where) :
				 errdetail("Positions in the array: %s. Uses so far are from 0 to the batch's max_uses, %d.",
						   where, g->batch->max_uses)));
	}
}

/*
 * Read what code_add was given into g: each code's canonical form, class
 * and key (as a look-up of its text would compute it: codes_text_key),
 * and its uses so far, sorted in the order of the key index.  Refused
 * whole, before anything is locked or written: a NULL code (22004), text
 * that cannot be a code (22023), uses out of range (22023).
 */
static void
read_given(Given *g, const CodesTargetBatch *batch, ArrayType *codes,
		   ArrayType *uses)
{
	bool	   *nulls;
	bool	   *bad;
	int			nnull = 0;
	int			nbad = 0;
	int			count;
	int			i;

	memset(g, 0, sizeof(*g));
	g->batch = batch;
	if (ARR_NDIM(codes) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("codes must be a one-dimensional array")));
	if (ArrayGetNItems(ARR_NDIM(codes), ARR_DIMS(codes)) > CODES_MAX_PER_CALL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("codes must have at most %d elements", CODES_MAX_PER_CALL),
				 errhint("Add the codes in several calls.")));
	g->lbound = ARR_NDIM(codes) == 1 ? ARR_LBOUND(codes)[0] : 1;
	deconstruct_array(codes, TEXTOID, -1, false, TYPALIGN_INT,
					  &g->texts, &nulls, &g->n);
	g->codes = palloc0(sizeof(GivenCode) * Max(g->n, 1));
	bad = palloc0(sizeof(bool) * Max(g->n, 1));

	for (i = 0; i < g->n; i++)
	{
		if (nulls[i])
		{
			bad[i] = true;
			nnull++;
		}
	}
	if (nnull > 0)
	{
		char	   *where = positions(g, bad, &count);

		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("codes must not contain NULL"),
				 errdetail("Positions in the array: %s.", where)));
	}

	g->key = codes_batch_key(batch);
	for (i = 0; i < g->n; i++)
	{
		char		canon[CODES_MAX_PATTERN + 1];
		int			len = given_canon(g, i, canon);
		GivenCode  *code = &g->codes[i];

		CHECK_FOR_INTERRUPTS();
		if (len <= 0)
		{
			bad[i] = true;
			nbad++;
			continue;
		}
		code->uuid = codes_canonical_is_uuid(canon, len);
		g->classes[code->uuid ? 0 : len] = true;
		codes_text_key(g->key, canon, len, &code->key);
		code->fold = codes_key_fold(&code->key);
		code->i = i;
	}
	if (nbad > 0)
	{
		char	   *where = positions(g, bad, &count);

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_plural("%d code is not a code's text",
							   "%d codes are not a code's text",
							   count, count),
				 errdetail("Positions in the array: %s.", where),
				 errhint("A code has 1 to %d characters of printable ASCII, not counting spaces and hyphens.",
						 CODES_MAX_PATTERN)));
	}

	read_uses(g, uses);
	sort_given(g->codes, g->n);
}

/*
 * Take the advisory lock of each class of codes given (codes_lock_class),
 * in ascending order, then take in the batches that committed while they
 * were waited for.
 */
static void
lock_classes(const Given *g)
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
clashes_within(const Given *g, bool *clash, bool existing)
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
clashes_elsewhere(const Given *g, bool *clash)
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
		const GivenCode *code = &g->codes[j];
		char		canon[CODES_MAX_PATTERN + 1];
		int			len = given_canon(g, code->i, canon);
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
refuse_clashes(const Given *g, const bool *clash)
{
	int			count;
	char	   *where = positions(g, clash, &count);

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
 * The text a given code is handed out as, kept in codes.shown for a plain
 * code (codes_chosen_display), in the current memory context; for one
 * that reads as a UUID, whose key is its text, and a hashed one, none.
 */
static bool
given_shown(const Given *g, const GivenCode *code, Datum *shown)
{
	char		canon[CODES_MAX_PATTERN + 1];
	char		display[CODES_MAX_PATTERN + 1];
	int			len;

	if (g->key != NULL || code->uuid)
		return false;
	len = given_canon(g, code->i, canon);
	codes_chosen_display(canon, len, display);
	*shown = CStringGetTextDatum(display);
	return true;
}

/*
 * Insert the given codes into the batch directly (rows.c), in the order
 * of the key index: IMPORT_ROWS rows at a time, each a heap page at a
 * time, as COPY writes them; for a codes.codes that runs no user's code
 * and is this server's own table (codes_tables says).  Its lock is held.
 */
static void
insert_directly(const Given *g, Oid relid)
{
	Relation	rel = table_open(relid, NoLock);
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	int			natts = RelationGetDescr(rel)->natts;
	MemoryContext rowcxt;
	CodesWriter w;
	TupleTableSlot **slots;
	int			k = 0;
	int			j;

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "code_add rows",
								   ALLOCSET_DEFAULT_SIZES);
	codes_writer_open(&w, rel, snapshot, NULL);
	slots = codes_writer_slots(&w, IMPORT_ROWS);
	for (j = 0; j < g->n; j++)
	{
		const GivenCode *code = &g->codes[j];
		TupleTableSlot *slot = slots[k];
		MemoryContext oldcxt;

		CHECK_FOR_INTERRUPTS();
		ExecClearTuple(slot);
		memset(slot->tts_isnull, true, sizeof(bool) * natts);
		slot->tts_values[CODES_COL_BATCH - 1] = Int32GetDatum(g->batch->id);
		slot->tts_isnull[CODES_COL_BATCH - 1] = false;
		slot->tts_values[CODES_COL_USES - 1] = Int32GetDatum(code->uses);
		slot->tts_isnull[CODES_COL_USES - 1] = false;
		slot->tts_values[CODES_COL_CODE - 1] = UUIDPGetDatum(&code->key);
		slot->tts_isnull[CODES_COL_CODE - 1] = false;
		oldcxt = MemoryContextSwitchTo(rowcxt);
		slot->tts_isnull[CODES_COL_SHOWN - 1] =
			!given_shown(g, code, &slot->tts_values[CODES_COL_SHOWN - 1]);
		MemoryContextSwitchTo(oldcxt);
		ExecStoreVirtualTuple(slot);

		if (++k == IMPORT_ROWS || j == g->n - 1)
		{
			codes_writer_insert_many(&w, slots, k);
			k = 0;
			MemoryContextReset(rowcxt);
		}
	}
	codes_writer_close(&w);
	UnregisterSnapshot(snapshot);
	MemoryContextDelete(rowcxt);
	table_close(rel, NoLock);
}

/*
 * Insert the given codes into the batch through SQL (codes_insert_given),
 * which fires what a user attached to codes.codes, and which Citus
 * distributes: a chunk at a time in the order of the key index (which
 * each chunk's statement then sweeps once): their keys, plain codes' text
 * as handed out (given_shown), and their uses.
 */
static void
insert_chunks(const Given *g)
{
	MemoryContext chunkcxt;
	int			start;

	chunkcxt = AllocSetContextCreate(CurrentMemoryContext, "code_add chunk",
									 ALLOCSET_DEFAULT_SIZES);
	for (start = 0; start < g->n; start += IMPORT_CHUNK)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(chunkcxt);
		int			m = Min(IMPORT_CHUNK, g->n - start);
		Datum	   *elems = palloc(sizeof(Datum) * m);
		bool	   *nulls = palloc(sizeof(bool) * m);
		bool		plain = (g->key == NULL);
		Datum		keys;
		Datum		shown = (Datum) 0;
		Datum		uses = (Datum) 0;
		int			dims[1] = {m};
		int			lbs[1] = {1};
		int			j;

		CHECK_FOR_INTERRUPTS();
		for (j = 0; j < m; j++)
			elems[j] = UUIDPGetDatum(&g->codes[start + j].key);
		keys = PointerGetDatum(construct_array(elems, m, UUIDOID, UUID_LEN,
											   false, TYPALIGN_CHAR));
		if (plain)
		{
			for (j = 0; j < m; j++)
				nulls[j] = !given_shown(g, &g->codes[start + j], &elems[j]);
			shown = PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
													   TEXTOID, -1, false,
													   TYPALIGN_INT));
		}
		if (g->any_uses)
		{
			for (j = 0; j < m; j++)
				elems[j] = Int32GetDatum(g->codes[start + j].uses);
			uses = PointerGetDatum(construct_array(elems, m, INT4OID,
												   sizeof(int32), true,
												   TYPALIGN_INT));
		}
		codes_insert_given(g->batch->id, m, keys, shown, !plain, uses,
						   !g->any_uses);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(chunkcxt);
	}
	MemoryContextDelete(chunkcxt);
}

/*
 * Insert the given codes, directly where codes.codes allows it (known,
 * as codes_tables says: insert_directly), else through SQL
 * (insert_chunks), in one subtransaction; NULL, or the error, when a code
 * collided with an existing one (a unique violation, whose detail, which
 * shows a key's fold, is kept from the client and the log).  Any other
 * error propagates.
 */
static ErrorData *
insert_given(const Given *g, const CodesTables *known)
{
	bool		direct = known->direct;
	Oid			relid = known->codes;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile failed = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		if (direct)
			insert_directly(g, relid);
		else
			insert_chunks(g);

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
		failed = edata;
	}
	PG_END_TRY();

	return failed;
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
	Given		g;
	bool	   *clash;
	ErrorData  *failed;
	int			ret;

	PreventCommandIfReadOnly("code_add()");
	read_given(&g, batch, codes, uses);
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

	failed = insert_given(&g, known);
	if (failed != NULL)
	{
		clashes_within(&g, clash, true);
		refuse_clashes(&g, clash);
		ReThrowError(failed);	/* a unique index of the user's, say */
	}

	SPI_finish();
	return g.n;
}

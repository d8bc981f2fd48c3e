/*-------------------------------------------------------------------------
 *
 * given.c
 *	  The codes given to code_add, read and written: each text read as
 *	  every code is read (input.c) into the key a look-up of it computes
 *	  (lookup.c), with its uses so far, refused whole for text that cannot
 *	  be a code or uses out of range (naming positions in the array, never
 *	  codes), sorted in the order of the key index; and written into the
 *	  batch, directly a page of rows at a time (rows.c) where codes.codes
 *	  runs no user's code and is this server's own table, else through SQL
 *	  (gen_insert.c), in one subtransaction.
 *
 * import.c decides what is written, under which locks, and which codes
 * clash.  No message here contains a code.
 *
 * The table's layer, after import.c in its row: calls rows.c, tables.c,
 * gen_insert.c, lookup.c, keys.c and text.c; called by import.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "gen.h"				/* CODES_MAX_PER_CALL */
#include "gen_insert.h"
#include "given.h"
#include "lookup.h"
#include "rows.h"
#include "text.h"

/* Given codes inserted per statement, on the way through SQL. */
#define GIVEN_CHUNK		100000

/* Rows written at a time, on the direct way (as COPY buffers them). */
#define GIVEN_ROWS		1000

/* Positions of the array a refusal names at most. */
#define GIVEN_NAMED		5

/*
 * The positions in the array of the codes flagged, for a refusal, written
 * out: "3, 17 and 20", or past GIVEN_NAMED "3, 17, 20, 31, 40 and 12
 * more".  *count is set to how many there are.
 */
char *
codes_given_positions(const CodesGiven *g, const bool *flagged, int *count)
{
	StringInfoData buf;
	int			named = 0;
	int			i;

	*count = 0;
	for (i = 0; i < g->n; i++)
		if (flagged[i])
			(*count)++;
	initStringInfo(&buf);
	for (i = 0; i < g->n && named < GIVEN_NAMED; i++)
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
int
codes_given_canon(const CodesGiven *g, int i, char *canon)
{
	/* an array's elements are never compressed or stored apart */
	return codes_canonical_form((text *) DatumGetPointer(g->texts[i]), canon);
}

/*
 * Order of given codes: by fold as the index orders bigints, then by
 * element, so that of codes of one fold the first given comes first.
 */
static inline int
given_cmp(const CodesGivenCode *a, const CodesGivenCode *b)
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
#define ST_ELEMENT_TYPE CodesGivenCode
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
read_uses(CodesGiven *g, ArrayType *uses)
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
		char	   *where = codes_given_positions(g, bad, &count);

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
 * and key (as a look-up of its text would compute it: codes_text_key,
 * under the batch's server key, or NULL for a plain batch), and its uses
 * so far, sorted in the order of the key index.  Refused
 * whole, before anything is locked or written: a NULL code (22004), text
 * that cannot be a code (22023), uses out of range (22023).
 */
void
codes_read_given(CodesGiven *g, const CodesTargetBatch *batch,
				 const CodesKey *key, ArrayType *codes, ArrayType *uses)
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
	g->codes = palloc0(sizeof(CodesGivenCode) * Max(g->n, 1));
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
		char	   *where = codes_given_positions(g, bad, &count);

		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("codes must not contain NULL"),
				 errdetail("Positions in the array: %s.", where)));
	}

	g->key = key;
	for (i = 0; i < g->n; i++)
	{
		char		canon[CODES_MAX_PATTERN + 1];
		int			len = codes_given_canon(g, i, canon);
		CodesGivenCode *code = &g->codes[i];

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
		char	   *where = codes_given_positions(g, bad, &count);

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
 * The text a given code is handed out as, kept in codes.shown for a plain
 * code (codes_chosen_display), in the current memory context; for one
 * that reads as a UUID, whose key is its text, and a hashed one, none.
 */
static bool
given_shown(const CodesGiven *g, const CodesGivenCode *code, Datum *shown)
{
	char		canon[CODES_MAX_PATTERN + 1];
	char		display[CODES_MAX_PATTERN + 1];
	int			len;

	if (g->key != NULL || code->uuid)
		return false;
	len = codes_given_canon(g, code->i, canon);
	codes_chosen_display(canon, len, display);
	*shown = CStringGetTextDatum(display);
	return true;
}

/*
 * Insert the given codes into the batch directly (rows.c), in the order
 * of the key index: GIVEN_ROWS rows at a time, each a heap page at a
 * time, as COPY writes them; for a codes.codes that runs no user's code
 * and is this server's own table (codes_tables says).  Its lock is held.
 */
static void
insert_directly(const CodesGiven *g, Oid relid)
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
	slots = codes_writer_slots(&w, GIVEN_ROWS);
	for (j = 0; j < g->n; j++)
	{
		const CodesGivenCode *code = &g->codes[j];
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

		if (++k == GIVEN_ROWS || j == g->n - 1)
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
insert_chunks(const CodesGiven *g)
{
	MemoryContext chunkcxt;
	int			start;

	chunkcxt = AllocSetContextCreate(CurrentMemoryContext, "code_add chunk",
									 ALLOCSET_DEFAULT_SIZES);
	for (start = 0; start < g->n; start += GIVEN_CHUNK)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(chunkcxt);
		int			m = Min(GIVEN_CHUNK, g->n - start);
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

/* What write_given inserts, and how. */
typedef struct GivenWrite
{
	const CodesGiven *g;
	Oid			relid;			/* codes.codes */
	bool		direct;
} GivenWrite;

/*
 * Insert the given codes, directly where codes.codes allows it, else
 * through SQL (codes_insert_or_collision's insert).
 */
static void
write_given(void *arg)
{
	const GivenWrite *w = arg;

	if (w->direct)
		insert_directly(w->g, w->relid);
	else
		insert_chunks(w->g);
}

/*
 * Insert the given codes, directly where codes.codes allows it (known,
 * as codes_tables says: insert_directly), else through SQL
 * (insert_chunks), in one subtransaction; NULL, or the error, when a code
 * collided with an existing one (a unique violation, whose detail, which
 * shows a key's fold, is kept from the client and the log).  Any other
 * error propagates.
 */
ErrorData *
codes_write_given(const CodesGiven *g, const CodesTables *known)
{
	GivenWrite	w;

	w.g = g;
	w.relid = known->codes;
	w.direct = known->direct;
	return codes_insert_or_collision(write_given, &w);
}

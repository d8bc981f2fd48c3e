/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  What each backend remembers of codes.batch: every batch's period, uses
 *	  and limits, and the shapes of codes in use (patterns, and the keys of
 *	  hashed batches); and a code's status, decided from its batch and its
 *	  uses.
 *
 * A use or a query then touches only the code's own row: no join with the
 * batch table, whose executor set-up cost more than the look-up itself.
 * Any change to codes.batch fires the statement trigger batch_changed,
 * which invalidates codes.batch's relcache entry; when that invalidation
 * reaches a backend (at once for its own changes, at the start of its next
 * operation for other backends' committed ones), the backend forgets what
 * it remembered and reads it again on next use.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "codes.h"

PG_FUNCTION_INFO_V1(batch_changed);
PG_FUNCTION_INFO_V1(code_status);
PG_FUNCTION_INFO_V1(use_allowed);

/* Batches read so far, by id; valid until codes.batch changes. */
static HTAB *batches = NULL;
static bool batches_valid = false;

/* The shapes of all batches; valid until codes.batch changes. */
static CodesShape *shapes = NULL;
static int	num_shapes = 0;
static bool shapes_valid = false;

/* OID of codes.batch, as of the last read. */
static Oid	batch_relid = InvalidOid;

static const char *const batch_sql =
"SELECT b.valid_from, b.valid_until, b.revoked_at IS NOT NULL, b.max_uses, "
"b.max_uses_per_redeemer "
"FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) $1";

/*
 * Relcache callback: codes.batch changed (or the whole relcache was
 * reset).  Only marks what is remembered as stale: this may run while a
 * caller is between a look-up and its use of the result.
 */
static void
batch_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == batch_relid)
	{
		batches_valid = false;
		shapes_valid = false;
	}
}

/*
 * Register batch_invalidate; called from _PG_init.
 */
void
codes_init_batch_cache(void)
{
	CacheRegisterRelcacheCallback(batch_invalidate, (Datum) 0);
}

/*
 * Learn the OID of codes.batch, to recognize its invalidations.
 */
static void
find_batch_relid(void)
{
	batch_relid = get_relname_relid("batch", get_namespace_oid("codes", false));
}

/*
 * Take in invalidations that other backends have committed, so that what
 * this backend remembers of codes.batch is as fresh as a new snapshot.
 */
void
codes_refresh_batch_cache(void)
{
	AcceptInvalidationMessages();
}

/*
 * Fill info with what the batch with this id allows.  Returns false if
 * there is no such batch.  Reads codes.batch on first need, and again after
 * it changed.
 */
bool
codes_batch_info(int32 id, CodesBatchInfo *info)
{
	CodesBatchInfo *entry;
	bool		found;
	Datum		arg = Int32GetDatum(id);
	Oid			argtype = INT4OID;
	static SPIPlanPtr plan = NULL;
	int			ret;

	if (!batches_valid || batches == NULL)
	{
		HASHCTL		ctl;

		if (batches)
			hash_destroy(batches);
		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(CodesBatchInfo);
		ctl.hcxt = TopMemoryContext;
		batches = hash_create("codes batches", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		find_batch_relid();
		/* marked valid before reading, so a change meanwhile is not lost */
		batches_valid = true;
	}

	entry = hash_search(batches, &id, HASH_FIND, &found);
	if (found)
	{
		*info = *entry;
		return true;
	}

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	if (plan == NULL)
		plan = codes_prepare(batch_sql, 1, &argtype);
	/* not read-only: see batches made earlier in the caller's statement */
	ret = SPI_execute_plan(plan, &arg, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}

	memset(info, 0, sizeof(*info));
	info->id = id;
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		info->valid_from = DatumGetTimestampTz(SPI_getbinval(row, desc, 1, &info->from_null));
		info->valid_until = DatumGetTimestampTz(SPI_getbinval(row, desc, 2, &info->until_null));
		info->revoked = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
		info->max_uses = DatumGetInt32(SPI_getbinval(row, desc, 4, &isnull));
		info->per_redeemer = DatumGetInt32(SPI_getbinval(row, desc, 5, &info->per_redeemer_null));
	}
	SPI_finish();

	/* an invalidation while reading leaves nothing stale behind */
	if (batches_valid)
	{
		entry = hash_search(batches, &id, HASH_ENTER, &found);
		*entry = *info;
	}
	return true;
}

/*
 * The status of a code with this many uses, now: TIMEINVALID outside its
 * batch's period or once the batch is revoked, else UNACTIVED while it has
 * uses left, else ACTIVED.  code_use, code_query and batch_codes all decide
 * here.
 */
const char *
codes_status(const CodesBatchInfo *batch, int32 uses)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (batch->revoked ||
		(!batch->from_null && now < batch->valid_from) ||
		(!batch->until_null && now > batch->valid_until))
		return CODES_TIMEINVALID;
	if (uses < batch->max_uses)
		return CODES_UNACTIVED;
	return CODES_ACTIVED;
}

/*
 * The shapes of all batches: UUID or pattern, plain or hashed under which
 * key.  *n is set to their number.
 */
const CodesShape *
codes_known_shapes(int *n)
{
	if (!shapes_valid)
	{
		MemoryContext oldcxt;
		CodesShape *loaded;
		uint64		i;
		int			ret;

		find_batch_relid();
		shapes_valid = true;
		if ((ret = SPI_connect()) != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
		PG_TRY();
		{
			ret = SPI_execute("SELECT DISTINCT b.pattern, b.key_id FROM codes.batch AS b",
							  false, 0);
			if (ret != SPI_OK_SELECT)
				elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
		}
		PG_CATCH();
		{
			shapes_valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();

		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		loaded = palloc0(sizeof(CodesShape) * Max(SPI_processed, 1));
		MemoryContextSwitchTo(oldcxt);
		for (i = 0; i < SPI_processed; i++)
		{
			char	   *pattern = SPI_getvalue(SPI_tuptable->vals[i],
											   SPI_tuptable->tupdesc, 1);
			char	   *key_id = SPI_getvalue(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 2);

			loaded[i].is_uuid = (pattern == NULL);
			if (pattern)
				codes_parse_pattern(pattern, &loaded[i].pat);
			if (key_id)
				strlcpy(loaded[i].key_id, key_id, sizeof(loaded[i].key_id));
		}
		if (shapes)
			pfree(shapes);
		shapes = loaded;
		num_shapes = (int) SPI_processed;
		SPI_finish();
	}

	*n = num_shapes;
	return shapes;
}

/*
 * batch_changed() trigger, after every statement that changes codes.batch
 *
 * Invalidate codes.batch's relcache entry, so that every backend forgets
 * what it remembered of the batches: at once in this backend, in the
 * others when this transaction commits.
 */
Datum
batch_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "batch_changed: not called by trigger manager");

	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * code_status(batch integer, uses integer) returns text
 *
 * The status of a code of that batch with that many uses, as code_query
 * reports it; for batch_codes.
 */
Datum
code_status(PG_FUNCTION_ARGS)
{
	CodesBatchInfo batch;

	if (!codes_batch_info(PG_GETARG_INT32(0), &batch))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(codes_status(&batch, PG_GETARG_INT32(1))));
}

/*
 * use_allowed(batch integer, uses integer) returns boolean
 *
 * Whether a code of that batch with that many uses may be used now by the
 * one conditional update of code_use: it has uses left, now lies inside
 * its batch's period, and its batch sets no limit per redeemer (such uses
 * are decided with the row locked).
 */
Datum
use_allowed(PG_FUNCTION_ARGS)
{
	CodesBatchInfo batch;

	if (!codes_batch_info(PG_GETARG_INT32(0), &batch))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(batch.per_redeemer_null &&
				   strcmp(codes_status(&batch, PG_GETARG_INT32(1)), CODES_UNACTIVED) == 0);
}

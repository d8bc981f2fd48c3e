/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  What each backend remembers of codes.batch: every batch's period, uses
 *	  and limits, and the shapes of codes in use (patterns, chosen codes,
 *	  and the keys of hashed batches); and a code's status, decided from its batch and its
 *	  uses.
 *
 * A use or a query then touches only the code's own row: no join with the
 * batch table, whose executor set-up cost more than the look-up itself.
 * Any change to a row of codes.batch fires the trigger batch_changed
 * (batch_truncated for TRUNCATE), which invalidates codes.batch's relcache
 * entry; when that invalidation reaches a backend (at once for its own
 * changes, at the start of its next operation for other backends'
 * committed ones), the backend forgets what it remembered and reads it
 * again on next use.  The triggers are enabled ALWAYS, so that they fire
 * in the logical replication apply worker and under
 * session_replication_role = replica too; while either is not (a restore
 * with --disable-triggers leaves them enabled ON ORIGIN), nothing is
 * remembered and every operation reads codes.batch afresh.
 *
 * It reads with the latest snapshot, not the caller's: what it remembers
 * outlives the caller's transaction, and a revocation must take effect at
 * once even for a REPEATABLE READ transaction that began before it.  A
 * SERIALIZABLE transaction instead reads its batch with its own snapshot on
 * every use, as the same work written in SQL would, so that SSI sees the
 * read.
 *
 * What a batch allows its uses (max_uses, limits per redeemer) may change
 * after creation (batch_set_max_uses, ...), under the batch's lock; such a
 * change commits, and so tells every backend, before it lets go of the
 * lock, so a use that waited for it reads the batch again as it is now.
 * At REPEATABLE READ or SERIALIZABLE, a change committed after the
 * transaction's snapshot is a serialization failure for a use
 * (codes_batch_rules_changed).
 *
 * Calls citus.c (where codes.batch's rows are), plans.c and text.c (to
 * parse the patterns it reads); called by lookup.c, the table (store.c,
 * store_direct.c), generation (gen.c) and the SQL entry points.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "batch.h"
#include "citus.h"
#include "plans.h"
#include "text.h"

PG_FUNCTION_INFO_V1(batch_changed);

/*
 * Changes to codes.batch seen so far.  What was read while this moved on
 * may be stale, and is not kept.
 */
static uint64 batch_changes = 0;

/*
 * As of cache_checked: the OID of codes.batch, and whether its triggers
 * tell every backend of every change (then what is read may be kept).
 */
static uint64 cache_checked = 0;
static Oid	batch_relid = InvalidOid;
static bool cache_trusted = false;
static bool on_citus_worker = false;

/* Batches read so far, by id, as of batches_read. */
static HTAB *batches = NULL;
static uint64 batches_read = 0;

/* The shapes of all batches, as of shapes_read. */
static CodesShape *shapes = NULL;
static int	num_shapes = 0;
static uint64 shapes_read = 0;

static const char *const batch_sql =
"SELECT b.valid_from, b.valid_until, b.revoked_at IS NOT NULL, b.max_uses, "
"b.max_uses_per_redeemer, b.max_batch_uses_per_redeemer, b.xmin "
"FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) $1";

/*
 * The shapes: each batch's pattern (NULL: UUID codes) and key, and for
 * each key (NULL: plain) under which some batch has chosen codes, the
 * shape of those (any text).
 */
static const char *const shapes_sql =
"SELECT b.pattern, b.key_id, false FROM codes.batch AS b "
"UNION "
"SELECT NULL, b.key_id, true FROM codes.batch AS b WHERE b.chosen";

/*
 * Relcache callback: codes.batch changed, its triggers were altered, or
 * the whole relcache was reset.  Only marks what is remembered as stale:
 * this may run while a caller is between a look-up and its use of the
 * result.
 */
static void
batch_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == batch_relid)
		batch_changes++;
}

/*
 * Register batch_invalidate; called from _PG_init.  Nothing has been read
 * yet: the counts start apart.
 */
void
codes_init_batch_cache(void)
{
	CacheRegisterRelcacheCallback(batch_invalidate, (Datum) 0);
	batch_changes = 1;
}

/*
 * Is the trigger of this name on codes.batch enabled ALWAYS?
 */
static bool
fires_always(Relation rel, const char *name)
{
	int			i;

	if (rel->trigdesc == NULL)
		return false;
	for (i = 0; i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &rel->trigdesc->triggers[i];

		if (strcmp(trigger->tgname, name) == 0)
			return trigger->tgenabled == TRIGGER_FIRES_ALWAYS;
	}
	return false;
}

/*
 * After codes.batch changed, or on first need: learn its OID (to recognize
 * its invalidations) and whether its invalidation triggers fire in this
 * server for every change, wherever it is made: they must fire ALWAYS, and
 * if codes.batch is a Citus reference table, this node must hold a copy
 * of it (whose triggers then fire here for every change).  Holds
 * AccessShareLock on codes.batch until the end of the transaction, as the
 * read that follows does.  On a Citus worker every operation is refused
 * here (see citus.c).
 */
static void
check_cache(void)
{
	uint64		changes = batch_changes;
	Relation	rel;
	CodesPlacement placement;

	if (cache_checked != changes)
	{
		batch_relid = get_relname_relid("batch", get_namespace_oid("codes", false));
		if (!OidIsValid(batch_relid))
			elog(ERROR, "table codes.batch is missing");
		rel = table_open(batch_relid, AccessShareLock);
		cache_trusted = fires_always(rel, "batch_changed") &&
			fires_always(rel, "batch_truncated");
		table_close(rel, NoLock);
		placement = codes_placement(batch_relid);
		if (placement == CODES_CITUS_ELSEWHERE)
			cache_trusted = false;
		on_citus_worker = codes_citus_worker();
		cache_checked = changes;
	}
	if (on_citus_worker)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("codes runs on the Citus coordinator only"),
				 errdetail("This node is a Citus worker: its sequences and its brake are not the coordinator's."),
				 errhint("Connect to the coordinator to make, use, query or delete codes. "
						 "Citus runs a function called on rows of codes.codes on the workers: "
						 "read the rows in a MATERIALIZED common table expression first.")));
}

/*
 * Run a saved read of codes.batch with a snapshot, connected to SPI; the
 * caller reads SPI_tuptable and calls SPI_finish.
 */
static void
read_batches(SPIPlanPtr *planp, const char *sql, int nargs, Oid *argtypes,
			 Datum *args, Snapshot snapshot)
{
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	if (*planp == NULL)
		*planp = codes_prepare(sql, nargs, argtypes);
	ret = SPI_execute_snapshot(*planp, args, NULL, snapshot,
							   InvalidSnapshot, true, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %s", SPI_result_code_string(ret));
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
 * Read the row of the batch with this id, as snapshot sees it, into info;
 * false if there is none.
 */
static bool
read_row(int32 id, Snapshot snapshot, CodesBatchInfo *info)
{
	static SPIPlanPtr plan = NULL;
	Datum		arg = Int32GetDatum(id);
	Oid			argtype = INT4OID;
	HeapTuple	row;
	TupleDesc	desc;
	Datum		value;
	bool		isnull;

	read_batches(&plan, batch_sql, 1, &argtype, &arg, snapshot);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}

	memset(info, 0, sizeof(*info));
	info->id = id;
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	value = SPI_getbinval(row, desc, 1, &info->from_null);
	if (!info->from_null)
		info->valid_from = DatumGetTimestampTz(value);
	value = SPI_getbinval(row, desc, 2, &info->until_null);
	if (!info->until_null)
		info->valid_until = DatumGetTimestampTz(value);
	info->revoked = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
	value = SPI_getbinval(row, desc, 4, &info->max_uses_null);
	if (!info->max_uses_null)
		info->max_uses = DatumGetInt32(value);
	value = SPI_getbinval(row, desc, 5, &info->per_redeemer_null);
	if (!info->per_redeemer_null)
		info->per_redeemer = DatumGetInt32(value);
	value = SPI_getbinval(row, desc, 6, &info->batch_limit_null);
	if (!info->batch_limit_null)
		info->batch_limit = DatumGetInt32(value);
	info->xmin = DatumGetTransactionId(SPI_getbinval(row, desc, 7, &isnull));
	SPI_finish();
	return true;
}

/*
 * Fill info with what the batch with this id allows, as the latest
 * snapshot sees it (latest), remembered; else as the transaction's
 * snapshot does, read every time.  Returns false if there is no such
 * batch.
 */
static bool
batch_info(int32 id, CodesBatchInfo *info, bool latest)
{
	CodesBatchInfo *entry;
	bool		found;
	uint64		changes;

	check_cache();
	changes = cache_checked;
	if (batches == NULL || batches_read != changes)
	{
		HASHCTL		ctl;

		if (batches)
			hash_destroy(batches);
		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(CodesBatchInfo);
		ctl.hcxt = TopMemoryContext;
		batches = hash_create("codes batches", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		batches_read = changes;
	}

	if (latest)
	{
		entry = hash_search(batches, &id, HASH_FIND, &found);
		if (found)
		{
			*info = *entry;
			return true;
		}
	}

	/* the transaction's snapshot as of now: it sees this statement's work */
	if (!read_row(id, latest ? GetLatestSnapshot() : GetTransactionSnapshot(),
				  info))
		return false;

	/*
	 * Kept only if read with the latest snapshot, while the triggers tell
	 * of every change, and if codes.batch did not change while it was read.
	 */
	if (latest && cache_trusted && batches_read == batch_changes)
	{
		entry = hash_search(batches, &id, HASH_ENTER, &found);
		*entry = *info;
	}
	return true;
}

/*
 * Fill info with what the batch with this id allows.  Returns false if
 * there is no such batch.  Reads codes.batch on first need, and again after
 * it changed; under SERIALIZABLE, with the transaction's snapshot, every
 * time (see the top of this file).
 */
bool
codes_batch_info(int32 id, CodesBatchInfo *info)
{
	return batch_info(id, info, !IsolationIsSerializable());
}

/*
 * At REPEATABLE READ or SERIALIZABLE: whether a change of what the batch
 * allows a use (its max_uses, its limits per redeemer) committed after the
 * transaction's snapshot was taken, so that a use decided on what that
 * snapshot sees (a code's uses folded into its row since, under a cap no
 * longer in force) could break the limits now in force.  Its caller then
 * raises a serialization failure, as an UPDATE of a row changed since the
 * snapshot would.  A batch deleted since counts as changed.
 *
 * Cheap when the batch's row has not changed since the snapshot: the
 * transaction that made its latest version (remembered, once the changes
 * committed so far are taken in) is one the snapshot sees.  Else the row as the snapshot sees it is read and
 * compared.  (A row frozen more than two billion transactions ago looks
 * new to XidInMVCCSnapshot: it is read and compared, and found the same.)
 */
bool
codes_batch_rules_changed(int32 id)
{
	Snapshot	snapshot = GetTransactionSnapshot();
	CodesBatchInfo latest;
	CodesBatchInfo seen;

	/* a change whose lock the caller waited for has told of itself */
	AcceptInvalidationMessages();
	if (!batch_info(id, &latest, true))
		return true;
	if (TransactionIdIsCurrentTransactionId(latest.xmin) ||
		!XidInMVCCSnapshot(latest.xmin, snapshot))
		return false;
	if (!read_row(id, snapshot, &seen))
		return true;
	return seen.max_uses_null != latest.max_uses_null ||
		seen.max_uses != latest.max_uses ||
		seen.per_redeemer_null != latest.per_redeemer_null ||
		seen.per_redeemer != latest.per_redeemer ||
		seen.batch_limit_null != latest.batch_limit_null ||
		seen.batch_limit != latest.batch_limit;
}

/*
 * Why a code of this batch with this many standing uses cannot be used
 * now, or CODES_OK: its batch was revoked, the code deactivated, its
 * period has not begun or has ended (as of the transaction's start), it
 * is bound to another redeemer than the one asking, or it has no use left
 * (never, for a batch without a total cap); in that order.
 */
CodesReason
codes_code_refusal(const CodesBatchInfo *batch, int64 uses, bool deactivated,
				   bool bound_elsewhere)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (batch->revoked)
		return CODES_REVOKED;
	if (deactivated)
		return CODES_DEACTIVATED;
	if (!batch->from_null && now < batch->valid_from)
		return CODES_NOT_YET_VALID;
	if (!batch->until_null && now > batch->valid_until)
		return CODES_EXPIRED;
	if (bound_elsewhere)
		return CODES_BOUND_ELSEWHERE;
	if (!batch->max_uses_null && uses >= batch->max_uses)
		return CODES_USED_UP;
	return CODES_OK;
}

/*
 * codes_code_refusal of a code neither deactivated nor bound.
 */
CodesReason
codes_refusal(const CodesBatchInfo *batch, int64 uses)
{
	return codes_code_refusal(batch, uses, false, false);
}

/*
 * A batch with a limit per redeemer (of a code's uses, or of the batch's)
 * needs one: a NULL redeemer is an error for any code of it, whatever the
 * code's state (a bug of the caller's, better found on the first call than
 * on the first use that succeeds).
 */
void
codes_require_redeemer(const CodesBatchInfo *batch, bool redeemer_null)
{
	if (!redeemer_null || (batch->per_redeemer_null && batch->batch_limit_null))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("redeemer must not be null for this code"),
			 batch->per_redeemer_null ?
			 errdetail_plural("Its batch allows each redeemer at most %d use of its codes.",
							  "Its batch allows each redeemer at most %d uses of its codes.",
							  batch->batch_limit, batch->batch_limit) :
			 errdetail_plural("Its batch allows each redeemer at most %d of its uses.",
							  "Its batch allows each redeemer at most %d of its uses.",
							  batch->per_redeemer, batch->per_redeemer)));
}

/*
 * The name of a reason, as code_redeem and code_check report it; NULL for
 * CODES_OK.
 */
const char *
codes_reason_name(CodesReason reason)
{
	switch (reason)
	{
		case CODES_OK:
			return NULL;
		case CODES_NOT_FOUND:
			return "not_found";
		case CODES_USED_UP:
			return "used_up";
		case CODES_NOT_YET_VALID:
			return "not_yet_valid";
		case CODES_EXPIRED:
			return "expired";
		case CODES_REVOKED:
			return "revoked";
		case CODES_DEACTIVATED:
			return "deactivated";
		case CODES_BOUND_ELSEWHERE:
			return "bound_to_other";
		case CODES_HELD:
			return "held";
		case CODES_HOLD_EXPIRED:
			return "hold_expired";
		case CODES_REDEEMER_LIMIT:
			return "redeemer_limit";
		case CODES_BATCH_REDEEMER_LIMIT:
			return "batch_redeemer_limit";
		case CODES_BRAKED:
			return "braked";
	}
	elog(ERROR, "unknown reason %d", (int) reason);
	return NULL;				/* keep compiler quiet */
}

/*
 * The status of a code with this many uses, now, as code_query reports
 * it: TIMEINVALID outside its batch's period or once the batch is revoked,
 * else UNACTIVED while it has uses left, else ACTIVED.  code_use,
 * code_query and batch_codes all decide here (codes_refusal).
 */
const char *
codes_status(const CodesBatchInfo *batch, int64 uses)
{
	return codes_code_status(batch, uses, false);
}

/*
 * The status of a code, now, as code_query reports it: as codes_status,
 * and TIMEINVALID for a deactivated code, as for a revoked batch.
 */
const char *
codes_code_status(const CodesBatchInfo *batch, int64 uses, bool deactivated)
{
	switch (codes_code_refusal(batch, uses, deactivated, false))
	{
		case CODES_OK:
			return CODES_UNACTIVED;
		case CODES_USED_UP:
			return CODES_ACTIVED;
		default:
			return CODES_TIMEINVALID;
	}
}

/*
 * Whether a code of this batch with this many uses may be used now: its
 * status is UNACTIVED.
 */
bool
codes_usable(const CodesBatchInfo *batch, int64 uses)
{
	return codes_refusal(batch, uses) == CODES_OK;
}

/*
 * The shapes of all batches: UUID or pattern, and chosen codes (any text)
 * where a batch has them (codes.batch.chosen), plain or hashed under which
 * key.  *n is set to their number.  They are parsed before anything is
 * kept, so a pattern that fails to parse (a row changed by hand) raises its
 * error every time and leaks nothing.
 */
const CodesShape *
codes_known_shapes(int *n)
{
	static SPIPlanPtr plan = NULL;
	uint64		changes;

	check_cache();
	changes = cache_checked;
	if (shapes_read != changes || !cache_trusted)
	{
		CodesShape *loaded;
		uint64		i;

		read_batches(&plan, shapes_sql, 0, NULL, NULL, GetLatestSnapshot());

		/* in SPI's memory, freed by SPI_finish or an error */
		loaded = palloc0(sizeof(CodesShape) * Max(SPI_processed, 1));
		for (i = 0; i < SPI_processed; i++)
		{
			char	   *pattern = SPI_getvalue(SPI_tuptable->vals[i],
											   SPI_tuptable->tupdesc, 1);
			char	   *key_id = SPI_getvalue(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 2);

			bool		isnull;

			loaded[i].chosen = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc,
														  3, &isnull));
			loaded[i].is_uuid = (pattern == NULL && !loaded[i].chosen);
			if (pattern)
				codes_parse_pattern(pattern, &loaded[i].pat);
			if (key_id)
				strlcpy(loaded[i].key_id, key_id, sizeof(loaded[i].key_id));
		}

		if (shapes)
			pfree(shapes);
		shapes = MemoryContextAlloc(TopMemoryContext,
									sizeof(CodesShape) * Max(SPI_processed, 1));
		memcpy(shapes, loaded, sizeof(CodesShape) * SPI_processed);
		num_shapes = (int) SPI_processed;
		SPI_finish();

		/* current only if codes.batch did not change while it was read */
		shapes_read = changes;
	}

	*n = num_shapes;
	return shapes;
}

/*
 * batch_changed() trigger, after each row changed in codes.batch, and after
 * a TRUNCATE of it
 *
 * Invalidate codes.batch's relcache entry, so that every backend forgets
 * what it remembered of the batches: at once in this backend, in the
 * others when this transaction commits.  On Citus the trigger fires on
 * each copy of the reference table's shard, in the server that holds it.
 */
Datum
batch_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			relid;
	Oid			logical;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("batch_changed must be fired as an AFTER trigger")));

	relid = RelationGetRelid(trigdata->tg_relation);
	CacheInvalidateRelcacheByRelid(relid);
	/* on Citus it fires on a shard, codes.batch_NNN: tell codes.batch too */
	logical = get_relname_relid("batch", get_namespace_oid("codes", false));
	if (OidIsValid(logical) && logical != relid)
		CacheInvalidateRelcacheByRelid(logical);
	return PointerGetDatum(NULL);
}

/*-------------------------------------------------------------------------
 *
 * history.c
 *	  The history of uses, codes.redemption_log: a use of a multi-use code
 *	  recorded there (every use of one is), under the limits per redeemer
 *	  of its batch; a redeemer's standing uses of one code or of one batch;
 *	  the latest standing use of a code undone.
 *
 * The limits per redeemer are exact under any concurrency.  A use counts
 * the redeemer's standing uses (through the index on (redeemer, code,
 * id), or on (batch, redeemer) for a batch-wide limit) and records its
 * own while it holds a short lock on that redeemer of that code or batch
 * (locks.c), reading with a dirty snapshot: a use or undo of the same
 * redeemer in progress in another transaction is seen, and waited for
 * (without the lock) before counting again.  So two uses of one redeemer
 * take turns, and uses of different redeemers never wait for each other.
 * At REPEATABLE READ or SERIALIZABLE, a refusal that rests on a use
 * committed after the transaction's snapshot is a serialization failure,
 * as INSERT ... ON CONFLICT DO NOTHING's would be.  Every look-up is one
 * index range, and an undo reads the latest use first: the cost of a use
 * or an undo does not grow with the code's past uses.
 *
 * Directly (rows.c) where the tables run no user's code; through SQL
 * otherwise (history_sql.c), where the lock is one of 64 per code or
 * batch (the redeemer's bucket), held to the end of the transaction, and
 * the count is read with the latest snapshot; on Citus a worker reads it
 * with its own snapshot, exact at READ COMMITTED only
 * (codes_history_require_exact).  No message contains a code.
 *
 * Calls history_sql.c, rows.c, statements.c, tables.c and locks.c;
 * called by store.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "commands/sequence.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"

#include "history.h"
#include "history_sql.h"
#include "locks.h"
#include "rows.h"
#include "statements.h"
#include "tables.h"
#include "text.h"

/* A redeemer's standing uses in one index range, as count_standing saw them. */
typedef struct Standing
{
	int64		count;
	TransactionId wait;			/* a transaction changing one of them */
	bool		newer;			/* one committed after the xact snapshot */
} Standing;

/*
 * Undo the latest standing use of code $1 (of redeemer $2, found through
 * the index on (redeemer, code, id), read backwards from the newest): the
 * use chosen, and the one undone (NULL when the UPDATE skipped the chosen
 * one); no row when none stands.
 */
#define UNDO_LATEST_SQL(which) \
	"WITH latest AS (SELECT h.id FROM codes.redemption_log AS h " \
	" WHERE " which " AND h.undone_at IS NULL AND h.held_until IS NULL " \
	" ORDER BY h.id DESC LIMIT 1), " \
	"undone AS (UPDATE codes.redemption_log AS l SET undone_at = pg_catalog.now() " \
	" WHERE l.code" EQ "$1 AND l.id" EQ "(SELECT latest.id FROM latest) " \
	" AND l.undone_at IS NULL RETURNING l.id) " \
	"SELECT latest.id, (SELECT undone.id FROM undone) FROM latest"
static const char *const undo_redeemer_sql =
UNDO_LATEST_SQL("h.redeemer" EQ "$2 AND h.code" EQ "$1");
static const char *const undo_code_sql =
UNDO_LATEST_SQL("h.code" EQ "$1");

/* ---------------------------------------------------------------------
 * The direct way
 * ---------------------------------------------------------------------
 */

/*
 * Keys for a scan of one redeemer's uses: of code key through the first
 * two columns of the index on (redeemer, code, id), or of batch batch_id
 * through (batch, redeemer).
 * The redeemer is compared under the index's collation.
 */
static void
redeemer_keys(Relation index, ScanKey keys, text *redeemer,
			  const pg_uuid_t *key, int32 batch_id)
{
	if (key != NULL)
	{
		ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber,
							   InvalidOid, index->rd_indcollation[0],
							   F_TEXTEQ, PointerGetDatum(redeemer));
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_UUID_EQ,
					UUIDPGetDatum(key));
	}
	else
	{
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
					Int32GetDatum(batch_id));
		ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber,
							   InvalidOid, index->rd_indcollation[1],
							   F_TEXTEQ, PointerGetDatum(redeemer));
	}
}

/*
 * Is the use in slot standing: not undone, and not a hold whose time has
 * passed (as of the transaction's start)?
 */
static bool
standing(TupleTableSlot *slot)
{
	bool		isnull;
	Datum		held_until;

	(void) slot_getattr(slot, CODES_LOG_COL_UNDONE_AT, &isnull);
	if (!isnull)
		return false;
	held_until = slot_getattr(slot, CODES_LOG_COL_HELD_UNTIL, &isnull);
	return isnull ||
		DatumGetTimestampTz(held_until) >= GetCurrentTransactionStartTimestamp();
}

/*
 * Count the standing uses of one redeemer of the code key (or, with key
 * NULL, of the batch) into st.  With a dirty snapshot, a use another
 * transaction is adding or changing stops the count, and st->wait names
 * that transaction; at REPEATABLE READ or SERIALIZABLE st->newer tells
 * whether one counted committed after the transaction's snapshot.  With
 * an MVCC snapshot, the count as of it, under SERIALIZABLE with the
 * predicate locks a SELECT takes.
 */
static void
count_standing(Relation log, Oid indexoid, Snapshot snapshot, text *redeemer,
			   const pg_uuid_t *key, int32 batch_id, Standing *st)
{
	Relation	index = index_open(indexoid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(log, NULL);
	bool		dirty = snapshot->snapshot_type == SNAPSHOT_DIRTY;
	ScanKeyData keys[2];
	IndexScanDesc scan;

	st->count = 0;
	st->wait = InvalidTransactionId;
	st->newer = false;
	redeemer_keys(index, keys, redeemer, key, batch_id);
	scan = codes_index_scan(log, index, snapshot, 2, keys);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		if (dirty && TransactionIdIsValid(snapshot->xmin))
		{
			st->wait = snapshot->xmin;
			break;
		}
		if (dirty && TransactionIdIsValid(snapshot->xmax))
		{
			st->wait = snapshot->xmax;
			break;
		}
		if (!standing(slot))
			continue;
		st->count++;
		if (dirty && IsolationUsesXactSnapshot() &&
			!table_tuple_satisfies_snapshot(log, slot, GetTransactionSnapshot()))
			st->newer = true;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
}

/*
 * Count the redeemer's standing uses against the batch's limits, directly:
 * CODES_OK, the reason for a limit reached, or (*wait set) a transaction to
 * wait for first.  *newer: the refusal rests on a use committed after the
 * transaction's snapshot.
 */
static CodesReason
judge_directly(const CodesTables *known, Relation log, Snapshot snapshot,
			   CodesStmtArgs *args, const CodesBatchInfo *batch,
			   TransactionId *wait, bool *newer)
{
	text	   *redeemer = codes_args_redeemer(args);
	Standing	st;

	*wait = InvalidTransactionId;
	*newer = false;
	if (CODES_MULTI_USE(batch) && !batch->per_redeemer_null)
	{
		count_standing(log, known->log_redeemer_index, snapshot, redeemer,
					   DatumGetUUIDP(args->values[0]), 0, &st);
		*wait = st.wait;
		if (TransactionIdIsValid(st.wait))
			return CODES_OK;
		if (st.count >= batch->per_redeemer)
		{
			*newer = st.newer;
			return CODES_REDEEMER_LIMIT;
		}
	}
	if (!batch->batch_limit_null)
	{
		count_standing(log, known->log_batch_index, snapshot, redeemer,
					   NULL, batch->id, &st);
		*wait = st.wait;
		if (TransactionIdIsValid(st.wait))
			return CODES_OK;
		if (st.count >= batch->batch_limit)
		{
			*newer = st.newer;
			return CODES_BATCH_REDEEMER_LIMIT;
		}
	}
	return CODES_OK;
}

/*
 * Add the history entry of a use (or a hold) of the code in args,
 * directly, and return its id: from the log's sequence; the transaction's
 * time; the reference, details and end of a hold that args carry.
 */
static int64
insert_directly(const CodesTables *known, Relation log, Snapshot snapshot,
				CodesStmtArgs *args, int32 batch_id)
{
	CodesWriter w;
	TupleTableSlot *row;
	int64		id = nextval_internal(known->log_seq, false);

	codes_writer_open(&w, log, snapshot, NULL);
	row = codes_writer_new_row(&w, NULL);
	row->tts_values[CODES_LOG_COL_ID - 1] = Int64GetDatum(id);
	row->tts_isnull[CODES_LOG_COL_ID - 1] = false;
	row->tts_values[CODES_LOG_COL_CODE - 1] = args->values[0];
	row->tts_isnull[CODES_LOG_COL_CODE - 1] = false;
	row->tts_values[CODES_LOG_COL_BATCH - 1] = Int32GetDatum(batch_id);
	row->tts_isnull[CODES_LOG_COL_BATCH - 1] = false;
	row->tts_values[CODES_LOG_COL_REDEEMER - 1] = args->values[1];
	row->tts_isnull[CODES_LOG_COL_REDEEMER - 1] = (args->nulls[1] == 'n');
	row->tts_values[CODES_LOG_COL_USED_AT - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	row->tts_isnull[CODES_LOG_COL_USED_AT - 1] = false;
	row->tts_values[CODES_LOG_COL_REFERENCE - 1] = args->values[CODES_ARG_REFERENCE];
	row->tts_isnull[CODES_LOG_COL_REFERENCE - 1] = (args->nulls[CODES_ARG_REFERENCE] == 'n');
	row->tts_values[CODES_LOG_COL_DETAILS - 1] = args->values[CODES_ARG_DETAILS];
	row->tts_isnull[CODES_LOG_COL_DETAILS - 1] = (args->nulls[CODES_ARG_DETAILS] == 'n');
	row->tts_values[CODES_LOG_COL_HELD_UNTIL - 1] = args->values[CODES_ARG_HELD_UNTIL];
	row->tts_isnull[CODES_LOG_COL_HELD_UNTIL - 1] = (args->nulls[CODES_ARG_HELD_UNTIL] == 'n');
	codes_writer_insert(&w);
	codes_writer_close(&w);
	return id;
}

/*
 * Take, or release, the short locks on the redeemer that the batch's
 * limits need (locks.c): of the code, then of the batch.
 */
static void
lock_redeemer(CodesStmtArgs *args, const CodesBatchInfo *batch, bool lock)
{
	text	   *redeemer = codes_args_redeemer(args);
	uint32		fold = (uint32) codes_key_fold(DatumGetUUIDP(args->values[0]));

	if (CODES_MULTI_USE(batch) && !batch->per_redeemer_null)
	{
		if (lock)
			codes_lock_redeemer(CODES_LOCK_CODE_REDEEMER, fold, redeemer);
		else
			codes_unlock_redeemer(CODES_LOCK_CODE_REDEEMER, fold, redeemer);
	}
	if (!batch->batch_limit_null)
	{
		if (lock)
			codes_lock_redeemer(CODES_LOCK_BATCH_REDEEMER, (uint32) batch->id,
								redeemer);
		else
			codes_unlock_redeemer(CODES_LOCK_BATCH_REDEEMER, (uint32) batch->id,
								  redeemer);
	}
}

/*
 * Record the use directly, under the batch's limits per redeemer: counted
 * and recorded while the short locks are held, with a dirty snapshot; a
 * change in progress of the redeemer's uses is waited for (without the
 * locks), and counted again.
 */
static CodesReason
record_directly(const CodesTables *known, CodesStmtArgs *args,
				const CodesBatchInfo *batch, int64 *id)
{
	bool		guarded = codes_history_guarded(batch);
	Relation	log = table_open(known->log, NoLock);
	CodesReason reason = CODES_OK;
	Snapshot	snapshot;

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(snapshot);
	for (;;)
	{
		SnapshotData dirty;
		TransactionId wait = InvalidTransactionId;
		TransactionId unused_wait;
		bool		newer = false;
		bool		unused_newer;

		if (!guarded)
			break;
		lock_redeemer(args, batch, true);
		InitDirtySnapshot(dirty);
		reason = judge_directly(known, log, &dirty, args, batch, &wait, &newer);
		if (!TransactionIdIsValid(wait))
		{
			/*
			 * Under SERIALIZABLE, the predicate locks of the reads, whether
			 * they accepted the use or refused it.
			 */
			if (IsolationIsSerializable())
				(void) judge_directly(known, log, snapshot, args, batch,
									  &unused_wait, &unused_newer);
			if (reason == CODES_OK)
				*id = insert_directly(known, log, snapshot, args, batch->id);
		}
		lock_redeemer(args, batch, false);
		if (TransactionIdIsValid(wait))
		{
			XactLockTableWait(wait, NULL, NULL, XLTW_None);
			continue;
		}
		if (newer)
			codes_serialization_failure("update");
		break;
	}
	if (!guarded)
		*id = insert_directly(known, log, snapshot, args, batch->id);
	PopActiveSnapshot();
	UnregisterSnapshot(snapshot);
	table_close(log, NoLock);
	return reason;
}

/* ---------------------------------------------------------------------
 * What store.c calls
 * ---------------------------------------------------------------------
 */

/*
 * Record a use (or, with $8 set, a hold) of the code in args by its
 * redeemer in the history, with the reference and details in args, unless
 * the batch's limits per redeemer refuse it: CODES_OK (recorded; *id is
 * the entry's id), or CODES_REDEEMER_LIMIT or CODES_BATCH_REDEEMER_LIMIT.
 * The caller has checked that a redeemer is given where a limit needs one.
 */
CodesReason
codes_history_record(CodesStmtArgs *args, const CodesBatchInfo *batch,
					 int64 *id)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);

	*id = 0;
	if (!known->direct_multi)
		return codes_history_record_by_sql(args, batch, id);
	return record_directly(known, args, batch, id);
}

/*
 * Refuse a use that the batch's limits per redeemer guard where they
 * cannot be kept exact: when Citus keeps the history, a worker counts the
 * redeemer's uses with its part of the transaction's snapshot, taken for
 * the statement (after the redeemer's lock) at READ COMMITTED, but at
 * REPEATABLE READ or SERIALIZABLE by the transaction's first statement
 * there, which may miss a use of the same redeemer committed since.
 * Whatever the code's state, so that the caller learns it at once.
 */
void
codes_history_require_exact(const CodesBatchInfo *batch)
{
	if (!codes_history_guarded(batch) || !IsolationUsesXactSnapshot() ||
		!codes_tables(RowExclusiveLock)->log_remote)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("a code limited per redeemer cannot be used at isolation level %s on Citus",
					IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
			 errdetail("On Citus a worker counts the redeemer's uses with its transaction's snapshot, which may not show a use another transaction has committed since."),
			 errhint("Use it in a READ COMMITTED transaction.")));
}

/*
 * Whether the batch's limits per redeemer would refuse a use now, read
 * before anything is written, so that a refusal writes nothing: the
 * reason for a limit reached by committed uses that no transaction is
 * changing, else CODES_OK (then codes_history_record decides).  On the
 * SQL path it always says CODES_OK.
 */
CodesReason
codes_history_precheck(CodesStmtArgs *args, const CodesBatchInfo *batch)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);
	SnapshotData dirty;
	TransactionId wait;
	bool		newer;
	CodesReason reason;
	Relation	log;

	if (!known->direct_multi || !codes_history_guarded(batch))
		return CODES_OK;
	log = table_open(known->log, NoLock);
	InitDirtySnapshot(dirty);
	reason = judge_directly(known, log, &dirty, args, batch, &wait, &newer);
	if (TransactionIdIsValid(wait) || newer)
		reason = CODES_OK;
	else if (reason != CODES_OK && IsolationIsSerializable())
	{
		/*
		 * A refusal under SERIALIZABLE reads the uses it counted again with
		 * the transaction's snapshot, for the predicate locks a SELECT of
		 * them would take: a transaction that undoes one of them and
		 * depends on this one's outcome is then a conflict SSI sees.
		 */
		Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());

		(void) judge_directly(known, log, snapshot, args, batch, &wait, &newer);
		UnregisterSnapshot(snapshot);
	}
	table_close(log, NoLock);
	return reason;
}

/*
 * Whether the batch's limits per redeemer would refuse the redeemer a use
 * of the code, as the statement's snapshot sees its uses: code_check's
 * judgement (read-only).
 */
CodesReason
codes_history_limits(CodesStmtArgs *args, const CodesBatchInfo *batch)
{
	int64		counts[2];

	if (!codes_history_guarded(batch))
		return CODES_OK;
	return codes_history_judge_by_sql(args, batch, NULL, counts);
}

/*
 * Undo the latest standing use of the code in args (of its redeemer, if
 * given): mark it undone now.  True if there was one.
 *
 * At READ COMMITTED an undo that waited for another transaction changing
 * the use it chose finds it undone when that one commits (the UPDATE
 * skips it), while older uses may stand: it looks again, with a new
 * snapshot, until it undoes one or none stands.  Each lost race is a use
 * that another transaction undid, so the next look chooses another; one
 * chosen twice and skipped twice was not lost but kept (a trigger that
 * skips the row, a row security policy), and the undo gives up.  At
 * REPEATABLE READ or SERIALIZABLE the UPDATE raises the serialization
 * failure itself.
 */
bool
codes_history_undo(CodesStmtArgs *args)
{
	static SPIPlanPtr redeemer_plan = NULL;
	static SPIPlanPtr code_plan = NULL;
	int64		before = 0;

	for (;;)
	{
		int64		chosen;

		if (args->nulls[1] == 'n')
			codes_run_stmt(&code_plan, undo_code_sql, args, false, SPI_OK_SELECT);
		else
			codes_run_stmt(&redeemer_plan, undo_redeemer_sql, args, false,
						   SPI_OK_SELECT);
		if (SPI_processed == 0)
			return false;
		if (!codes_result_null(2))
			return true;
		chosen = DatumGetInt64(codes_result(1));
		if (IsolationUsesXactSnapshot() || chosen == before)
			return false;
		before = chosen;
		CHECK_FOR_INTERRUPTS();
	}
}

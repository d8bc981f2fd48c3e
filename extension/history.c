/*-------------------------------------------------------------------------
 *
 * history.c
 *	  The history of uses, codes.redemption_log: a use of a multi-use code
 *	  recorded there (every use of one is), under the limits per redeemer
 *	  of its batch; a redeemer's standing uses of one code or of one batch;
 *	  the latest standing use of a code undone.
 *
 * The limits per redeemer are exact under any concurrency.  A use counts
 * the redeemer's standing uses (through the index on (redeemer, code), or
 * on (batch, redeemer) for a batch-wide limit) and records its own while
 * it holds a short lock on that redeemer of that code or batch (locks.c),
 * reading with a dirty snapshot: a use or undo of the same redeemer in
 * progress in another transaction is seen, and waited for (without the
 * lock) before counting again.  So two uses of one redeemer take turns,
 * and uses of different redeemers never wait for each other.  At
 * REPEATABLE READ or SERIALIZABLE, a refusal that rests on a use committed
 * after the transaction's snapshot is a serialization failure, as INSERT
 * ... ON CONFLICT DO NOTHING's would be.  Every look-up is one index range:
 * the cost of a use does not grow with the code's past uses.
 *
 * Directly (rows.c) where the tables run no user's code; through SQL
 * otherwise, where the lock is held to the end of the transaction and the
 * count read with the latest snapshot.  No message contains a code.
 *
 * Calls rows.c, statements.c, tables.c and locks.c; called by store.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "commands/sequence.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"

#include "history.h"
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

/* Standing uses of redeemer $2 of code $1, and in batch $3. */
static const char *const count_code_sql =
"SELECT pg_catalog.count(*) FROM codes.redemption_log AS l "
"WHERE l.redeemer" EQ "$2 AND l.code" EQ "$1 AND l.undone_at IS NULL";
static const char *const count_batch_sql =
"SELECT pg_catalog.count(*) FROM codes.redemption_log AS l "
"WHERE l.batch" EQ "$3 AND l.redeemer" EQ "$2 AND l.undone_at IS NULL";

/* The history entry of a use. */
static const char *const insert_sql =
"INSERT INTO codes.redemption_log (code, batch, redeemer, used_at) "
"VALUES ($1, $3, $2, pg_catalog.now())";

/*
 * Undo the latest standing use of code $1, of redeemer $2: found among the
 * redeemer's uses of the code (the subquery keeps the planner on the index
 * on (redeemer, code) rather than walking the code's uses), or, without a
 * redeemer, the code's latest.
 */
static const char *const undo_redeemer_sql =
"UPDATE codes.redemption_log AS l SET undone_at = pg_catalog.now() "
"WHERE l.code" EQ "$1 AND l.id" EQ "(SELECT h.id FROM (SELECT h.id, h.undone_at "
"  FROM codes.redemption_log AS h "
"  WHERE h.redeemer" EQ "$2 AND h.code" EQ "$1 OFFSET 0) AS h "
" WHERE h.undone_at IS NULL ORDER BY h.id DESC LIMIT 1) "
"AND l.undone_at IS NULL";
static const char *const undo_code_sql =
"UPDATE codes.redemption_log AS l SET undone_at = pg_catalog.now() "
"WHERE l.code" EQ "$1 AND l.id" EQ "(SELECT h.id FROM codes.redemption_log AS h "
" WHERE h.code" EQ "$1 AND h.undone_at IS NULL ORDER BY h.id DESC LIMIT 1) "
"AND l.undone_at IS NULL";

/*
 * Whether a use of a code of this batch is recorded under a limit per
 * redeemer: of its own uses (a multi-use code), or of the batch's.
 */
bool
codes_history_guarded(const CodesBatchInfo *batch)
{
	return (CODES_MULTI_USE(batch) && !batch->per_redeemer_null) ||
		!batch->batch_limit_null;
}

/*
 * The redeemer of the operation in args, or NULL.
 */
static text *
args_redeemer(CodesStmtArgs *args)
{
	return args->nulls[1] == 'n' ? NULL : DatumGetTextPP(args->values[1]);
}

/*
 * A serialization failure: a refusal would rest on a use committed after
 * the transaction's snapshot.
 */
static void
serialization_failure(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to concurrent update")));
}

/* ---------------------------------------------------------------------
 * The direct way
 * ---------------------------------------------------------------------
 */

/*
 * Keys for a scan of one redeemer's uses: of code key through the index
 * on (redeemer, code), or of batch batch_id through (batch, redeemer).
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
 * Is the use in slot standing (not undone)?
 */
static bool
standing(TupleTableSlot *slot)
{
	bool		isnull;

	(void) slot_getattr(slot, CODES_LOG_COL_UNDONE_AT, &isnull);
	return isnull;
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
	text	   *redeemer = args_redeemer(args);
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
 * Add the history entry of a use of the code in args, directly: its id
 * from the log's sequence, the transaction's time.
 */
static void
insert_directly(const CodesTables *known, Relation log, Snapshot snapshot,
				CodesStmtArgs *args, int32 batch_id)
{
	CodesWriter w;
	TupleTableSlot *row;

	codes_writer_open(&w, log, snapshot, NULL);
	row = codes_writer_new_row(&w, NULL);
	row->tts_values[CODES_LOG_COL_ID - 1] =
		Int64GetDatum(nextval_internal(known->log_seq, false));
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
	codes_writer_insert(&w);
	codes_writer_close(&w);
}

/*
 * Take, or release, the short locks on the redeemer that the batch's
 * limits need (locks.c): of the code, then of the batch.
 */
static void
lock_redeemer(CodesStmtArgs *args, const CodesBatchInfo *batch, bool lock)
{
	text	   *redeemer = args_redeemer(args);
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
				const CodesBatchInfo *batch)
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
		if (reason == CODES_OK && !TransactionIdIsValid(wait))
		{
			/* under SERIALIZABLE, the predicate locks of the reads */
			if (IsolationIsSerializable())
				(void) judge_directly(known, log, snapshot, args, batch,
									  &unused_wait, &unused_newer);
			insert_directly(known, log, snapshot, args, batch->id);
		}
		lock_redeemer(args, batch, false);
		if (TransactionIdIsValid(wait))
		{
			XactLockTableWait(wait, NULL, NULL, XLTW_None);
			continue;
		}
		if (newer)
			serialization_failure();
		break;
	}
	if (!guarded)
		insert_directly(known, log, snapshot, args, batch->id);
	PopActiveSnapshot();
	UnregisterSnapshot(snapshot);
	table_close(log, NoLock);
	return reason;
}

/* ---------------------------------------------------------------------
 * Through SQL
 * ---------------------------------------------------------------------
 */

/*
 * Count the redeemer's standing uses against the batch's limits with
 * SQL, as snapshot sees them (NULL: the statement's).
 */
static CodesReason
judge_by_sql(CodesStmtArgs *args, const CodesBatchInfo *batch,
			 Snapshot snapshot, int64 *counts)
{
	static SPIPlanPtr code_plan = NULL;
	static SPIPlanPtr batch_plan = NULL;

	counts[0] = counts[1] = 0;
	args->values[2] = Int32GetDatum(batch->id);
	args->nulls[2] = ' ';
	if (CODES_MULTI_USE(batch) && !batch->per_redeemer_null)
	{
		if (snapshot)
			codes_run_stmt_snapshot(&code_plan, count_code_sql, args, snapshot,
									SPI_OK_SELECT);
		else
			codes_run_stmt(&code_plan, count_code_sql, args, true, SPI_OK_SELECT);
		counts[0] = DatumGetInt64(codes_result(1));
		if (counts[0] >= batch->per_redeemer)
			return CODES_REDEEMER_LIMIT;
	}
	if (!batch->batch_limit_null)
	{
		if (snapshot)
			codes_run_stmt_snapshot(&batch_plan, count_batch_sql, args, snapshot,
									SPI_OK_SELECT);
		else
			codes_run_stmt(&batch_plan, count_batch_sql, args, true, SPI_OK_SELECT);
		counts[1] = DatumGetInt64(codes_result(1));
		if (counts[1] >= batch->batch_limit)
			return CODES_BATCH_REDEEMER_LIMIT;
	}
	return CODES_OK;
}

/*
 * Record the use with SQL, under the batch's limits per redeemer: the
 * locks on the redeemer are held to the end of the transaction, so a use
 * of the same redeemer in progress has committed or rolled back when the
 * count is read, with the latest snapshot.  At REPEATABLE READ or
 * SERIALIZABLE a refusal counted from uses the transaction's snapshot
 * does not see is a serialization failure.
 */
static CodesReason
record_by_sql(CodesStmtArgs *args, const CodesBatchInfo *batch)
{
	static SPIPlanPtr plan = NULL;
	CodesReason reason = CODES_OK;
	int64		latest[2];
	int64		own[2];

	if (codes_history_guarded(batch))
	{
		lock_redeemer(args, batch, true);
		reason = judge_by_sql(args, batch, GetLatestSnapshot(), latest);
		if (reason != CODES_OK && IsolationUsesXactSnapshot())
		{
			(void) judge_by_sql(args, batch, NULL, own);
			if (own[0] != latest[0] || own[1] != latest[1])
				serialization_failure();
		}
		else if (IsolationIsSerializable())
			(void) judge_by_sql(args, batch, NULL, own);	/* predicate locks */
	}
	if (reason == CODES_OK)
	{
		args->values[2] = Int32GetDatum(batch->id);
		args->nulls[2] = ' ';
		codes_run_stmt(&plan, insert_sql, args, false, SPI_OK_INSERT);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
					 errmsg("a trigger on codes.redemption_log skipped the history of a use"),
					 errdetail("A multi-use code's uses, and the uses a batch limits per redeemer, are counted in codes.redemption_log; a BEFORE trigger there must not skip its rows.")));
	}
	return reason;
}

/* ---------------------------------------------------------------------
 * What store.c calls
 * ---------------------------------------------------------------------
 */

/*
 * Record a use of the code in args by its redeemer in the history, unless
 * the batch's limits per redeemer refuse it: CODES_OK (recorded), or
 * CODES_REDEEMER_LIMIT or CODES_BATCH_REDEEMER_LIMIT.  The caller has
 * checked that a redeemer is given where a limit needs one.
 */
CodesReason
codes_history_record(CodesStmtArgs *args, const CodesBatchInfo *batch)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);

	if (!known->direct_multi)
		return record_by_sql(args, batch);
	return record_directly(known, args, batch);
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
	table_close(log, NoLock);
	return (TransactionIdIsValid(wait) || newer) ? CODES_OK : reason;
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
	return judge_by_sql(args, batch, NULL, counts);
}

/*
 * Undo the latest standing use of the code in args (of its redeemer, if
 * given): mark it undone now.  True if there was one.  At READ COMMITTED
 * an undo that finds the use undone meanwhile by another looks for the
 * next.
 */
bool
codes_history_undo(CodesStmtArgs *args)
{
	static SPIPlanPtr redeemer_plan = NULL;
	static SPIPlanPtr code_plan = NULL;
	int			tries;

	for (tries = 0; tries < 2; tries++)
	{
		if (args->nulls[1] == 'n')
			codes_run_stmt(&code_plan, undo_code_sql, args, false, SPI_OK_UPDATE);
		else
			codes_run_stmt(&redeemer_plan, undo_redeemer_sql, args, false,
						   SPI_OK_UPDATE);
		if (SPI_processed == 1)
			return true;
		if (IsolationUsesXactSnapshot())
			break;
	}
	return false;
}

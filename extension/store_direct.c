/*-------------------------------------------------------------------------
 *
 * store_direct.c
 *	  The common use of a code without SPI or the executor: find its row
 *	  through the key index, check it, lock it and write the use, as the
 *	  conditional UPDATE of a use would, at a third of the cost; the read
 *	  of a code's row, as the SELECT of a query would, at half; and the
 *	  delete of a code and its history, as code_del's DELETE would.
 *
 * Only for tables that run no user's code and hold their rows themselves
 * (CodesTables.direct); store.c decides everything else with SQL.  The
 * differences between PostgreSQL versions in the executor and index scan
 * calls are compat.h's.
 *
 * Calls tables.c, rows.c, locks.c, batch.c and text.c (the key fold);
 * called by store.c only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "batch.h"
#include "compat.h"
#include "locks.h"
#include "rows.h"
#include "store_direct.h"
#include "tables.h"
#include "text.h"

/*
 * Fill out with what the code's own row in slot says beside its uses:
 * whether it is deactivated, whether it is bound to another redeemer than
 * the one in args, and its metadata (copied out of the slot).
 */
static void
read_code_state(TupleTableSlot *slot, CodesStmtArgs *args, CodesOutcome *out)
{
	bool		isnull;
	Datum		value;

	(void) slot_getattr(slot, CODES_COL_DEACTIVATED_AT, &isnull);
	out->deactivated = !isnull;
	(void) slot_getattr(slot, CODES_COL_USED_AT, &isnull);
	out->logged = !CODES_MULTI_USE(&out->batch) && out->base > 0 && isnull;
	value = slot_getattr(slot, CODES_COL_BOUND_TO, &isnull);
	out->bound_elsewhere = !isnull &&
		(args->nulls[1] == 'n' || !codes_texts_equal(value, args->values[1]));
	value = slot_getattr(slot, CODES_COL_METADATA, &out->code_metadata_null);
	if (!out->code_metadata_null)
		out->code_metadata = PointerGetDatum(PG_DETOAST_DATUM_COPY(value));
}

/*
 * The row of the code with this key, visible to snapshot, into slot;
 * false if there is none.  One probe of the unique index on key_fold,
 * whose lock is kept to the end of the transaction, as a statement keeps
 * it.
 */
static bool
find_code(Relation rel, Oid indexoid, Snapshot snapshot, const pg_uuid_t *key,
		  TupleTableSlot *slot)
{
	Relation	index = index_open(indexoid, AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData skey;
	bool		found = false;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(codes_key_fold(key)));

	scan = compat_index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	while (!found && index_getnext_slot(scan, ForwardScanDirection, slot))
		found = codes_holds_key(slot, CODES_COL_CODE, key);
	index_endscan(scan);
	index_close(index, NoLock);
	return found;
}

/*
 * Write the use into the row in slot: one more use, the transaction's
 * time, the redeemer.  If locked, this transaction holds the row locked;
 * else it was found with snapshot, and it is updated as an UPDATE would
 * (in one WAL record, waiting for a transaction that holds it), or not:
 * the result says why (codes_writer_try_update).  Index entries are added
 * as an UPDATE adds them (none for a HOT update).  Only for a table that
 * runs no user's code (CodesTables.direct).
 */
static TM_Result
write_use(Relation rel, Snapshot snapshot, TupleTableSlot *slot, bool locked,
		  CodesStmtArgs *args, TM_FailureData *tmfd)
{
	static const AttrNumber changed[] = {CODES_COL_USES, CODES_COL_USED_AT,
	CODES_COL_USED_BY};
	CodesWriter w;
	TupleTableSlot *row;
	TM_Result	res = TM_Ok;

	codes_writer_open(&w, rel, snapshot, codes_columns(lengthof(changed), changed));
	row = codes_writer_new_row(&w, slot);
	row->tts_values[CODES_COL_USES - 1] =
		Int32GetDatum(DatumGetInt32(row->tts_values[CODES_COL_USES - 1]) + 1);
	row->tts_values[CODES_COL_USED_AT - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	row->tts_isnull[CODES_COL_USED_AT - 1] = false;
	row->tts_values[CODES_COL_USED_BY - 1] = args->values[1];
	row->tts_isnull[CODES_COL_USED_BY - 1] = (args->nulls[1] == 'n');
	if (locked)
		codes_writer_update(&w, slot);
	else
		res = codes_writer_try_update(&w, slot, true, tmfd);
	codes_writer_close(&w);
	return res;
}

/*
 * Write the use into the row in slot, found with snapshot and checked
 * usable, unless a concurrent change waited for makes the code unusable;
 * out says which.  As an UPDATE: the row is updated in one WAL record if
 * no transaction changed it since the snapshot (waiting for one that holds
 * it).  At READ COMMITTED a row a concurrent use changed (and committed)
 * is followed to its newest version, locked, checked again and written;
 * at REPEATABLE READ or SERIALIZABLE that is a serialization failure.
 */
static void
lock_and_write(Relation rel, Snapshot snapshot, TupleTableSlot *slot,
			   CodesStmtArgs *args, CodesOutcome *out)
{
	TM_FailureData tmfd;
	TM_Result	res;
	bool		isnull;

	res = write_use(rel, snapshot, slot, false, args, &tmfd);
	if (res == TM_Ok)
	{
		out->uses++;
		out->reason = CODES_OK;
		return;
	}
	if (res == TM_Updated && !IsolationUsesXactSnapshot())
		res = codes_lock_row(rel, slot, snapshot, LockWaitBlock, &tmfd);
	switch (res)
	{
		case TM_Ok:
			/* the newest version, after waiting: check it again */
			out->uses = DatumGetInt32(slot_getattr(slot, CODES_COL_USES, &isnull));
			out->base = out->uses;
			read_code_state(slot, args, out);
			out->reason = codes_code_refusal(&out->batch, out->uses,
											 out->deactivated, out->bound_elsewhere);
			if (out->reason == CODES_OK)
			{
				write_use(rel, snapshot, slot, true, args, &tmfd);
				out->uses++;
			}
			break;
		case TM_Updated:
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				codes_serialization_failure("update");
			out->reason = (res == TM_Deleted) ? CODES_NOT_FOUND : CODES_USED_UP;
			break;
		case TM_SelfModified:
			/* changed since this statement began: by a trigger, say */
			out->reason = CODES_USED_UP;
			break;
		default:
			elog(ERROR, "unexpected table_tuple_update result %d", (int) res);
	}
}

/*
 * Is the row in slot, found with snapshot, the code's newest version, with
 * no transaction changing it?  Then what snapshot saw of it is what a
 * lock would see: a use it refuses need not lock it to be refused.  A
 * look with a dirty snapshot, which sees changes in progress.
 */
static bool
settled(Relation rel, Oid indexoid, const pg_uuid_t *key, TupleTableSlot *slot)
{
	SnapshotData dirty;
	TupleTableSlot *newest = table_slot_create(rel, NULL);
	bool		same;

	InitDirtySnapshot(dirty);
	same = find_code(rel, indexoid, &dirty, key, newest) &&
		!TransactionIdIsValid(dirty.xmin) && !TransactionIdIsValid(dirty.xmax) &&
		ItemPointerEquals(&newest->tts_tid, &slot->tts_tid);
	ExecDropSingleTupleTableSlot(newest);
	return same;
}

/*
 * The common use, without SPI or the executor: find the code's row, check
 * it may be used (it has uses left, now lies in its period), lock it, and
 * write the use.  This is what the conditional UPDATE of a use does, at a
 * third of the cost: when two transactions use the same code, the second
 * waits for the first's row lock; at READ COMMITTED it then checks the new
 * row version (and so finds no use left), at REPEATABLE READ or
 * SERIALIZABLE it raises a serialization failure.  Uses of different codes
 * of one batch never wait for each other.  Under SERIALIZABLE the index
 * probe and the row read take the predicate locks a SELECT takes.  A code
 * that cannot be used is refused without a lock (and so without a
 * transaction id or a WAL record) when no transaction is changing its row.
 * At REPEATABLE READ or SERIALIZABLE, a use whose snapshot predates a
 * change of its batch's rules (codes_batch_rules_changed: a limit per
 * redeemer set since, say) is a serialization failure.
 *
 * Decides single-use codes: uses those whose batch sets no limit per
 * redeemer (if plain: the use records nothing but a redeemer), refuses
 * any that cannot be used (but for those whose use the history holds,
 * which may be a hold whose time has passed).  A NULL redeemer for a code
 * of a batch that limits uses per redeemer is an error.  Returns
 * CODES_DIRECT_DECIDED with out filled; CODES_DIRECT_FOUND when the row
 * was found but store.c decides (a multi-use code, a usable code whose
 * batch limits uses per redeemer, or a row that another transaction is
 * changing), with out's
 * batch and base uses filled; CODES_DIRECT_NONE where the direct path
 * steps aside: the table runs a user's code (CodesTables.direct: then only
 * SQL does what SQL would), Citus keeps the rows in shards, or the code's
 * batch was not found.
 */
CodesDirect
codes_use_directly(CodesStmtArgs *args, bool plain, CodesOutcome *out)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);
	Oid			indexoid = known->key_index;
	const pg_uuid_t *key = DatumGetUUIDP(args->values[0]);
	CodesDirect result = CODES_DIRECT_DECIDED;
	CodesReason reason;
	Relation	rel;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	bool		isnull;

	if (!known->direct)
		return CODES_DIRECT_NONE;
	rel = table_open(known->codes, NoLock);

	/* as a statement of its own: see this transaction's earlier work */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(snapshot);
	slot = table_slot_create(rel, NULL);

	if (!find_code(rel, indexoid, snapshot, key, slot))
		out->reason = CODES_NOT_FOUND;
	else if (!codes_batch_info(DatumGetInt32(slot_getattr(slot, CODES_COL_BATCH, &isnull)),
							   &out->batch))
	{
		out->guess = false;
		result = CODES_DIRECT_NONE;
	}
	else
	{
		out->guess = false;
		out->base = DatumGetInt32(slot_getattr(slot, CODES_COL_USES, &isnull));
		out->uses = out->base;
		read_code_state(slot, args, out);
		codes_require_redeemer(&out->batch, args->nulls[1] == 'n');
		reason = codes_code_refusal(&out->batch, out->uses, out->deactivated,
									out->bound_elsewhere);
		if (reason != CODES_OK && reason != CODES_USED_UP)
			out->reason = reason;	/* nothing a concurrent use changes */
		else if (CODES_MULTI_USE(&out->batch))
			result = CODES_DIRECT_FOUND;
		else if (reason != CODES_OK)
		{
			/*
			 * A use the history holds may be a hold whose time has passed:
			 * store.c looks there, the row being settled.
			 */
			out->settled = settled(rel, indexoid, key, slot);
			if (out->settled && !out->logged)
				out->reason = reason;
			else
				result = CODES_DIRECT_FOUND;
		}
		else if (!plain || !out->batch.per_redeemer_null ||
				 !out->batch.batch_limit_null)
			result = CODES_DIRECT_FOUND;
		else if (IsolationUsesXactSnapshot() &&
				 codes_batch_rules_changed(out->batch.id))
			codes_serialization_failure("update");	/* its rules changed since the snapshot */
		else
			lock_and_write(rel, snapshot, slot, args, out);
	}

	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	PopActiveSnapshot();
	UnregisterSnapshot(snapshot);
	return result;
}

/*
 * Read the code's row as store.c's SELECT of it (query_sql) does, without
 * SPI or the executor: one probe of the key index, with the snapshot of
 * the statement that called (a read-only SPI statement runs with that
 * one too), taking the predicate locks a SELECT takes under SERIALIZABLE.
 * *found tells whether the code and its batch were found; then out holds
 * the batch and the uses.
 *
 * Returns false, undecided, where the direct use path steps aside
 * (CodesTables.direct: row security, say, or Citus) and where no snapshot
 * is active; store.c reads the row with SQL then.
 */
bool
codes_read_directly(CodesStmtArgs *args, CodesOutcome *out, bool *found)
{
	const CodesTables *known;
	Relation	rel;
	TupleTableSlot *slot;
	bool		isnull;

	if (!ActiveSnapshotSet())
		return false;
	known = codes_tables(AccessShareLock);
	if (!known->direct)
		return false;
	rel = table_open(known->codes, NoLock);
	slot = table_slot_create(rel, NULL);

	*found = false;
	if (find_code(rel, known->key_index, GetActiveSnapshot(),
				  DatumGetUUIDP(args->values[0]), slot))
	{
		out->guess = false;
		if (codes_batch_info(DatumGetInt32(slot_getattr(slot, CODES_COL_BATCH, &isnull)),
							 &out->batch))
		{
			out->base = DatumGetInt32(slot_getattr(slot, CODES_COL_USES, &isnull));
			out->uses = out->base;
			read_code_state(slot, args, out);
			*found = true;
		}
	}

	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return true;
}

/*
 * Delete the row in slot, found with snapshot, as a DELETE statement
 * deletes it.  At READ COMMITTED a row that a concurrent transaction
 * updated (and committed) is followed to its newest version, which is
 * deleted if it still holds the key in column keycol (the executor's
 * EvalPlanQual); one it deleted is gone either way.  At REPEATABLE READ or
 * SERIALIZABLE either is a serialization failure.  The row is deleted
 * first and only locked if that finds it changed, so that the common
 * case writes one WAL record.  Returns whether this deleted a row.
 */
static bool
delete_row(Relation rel, TupleTableSlot *slot, Snapshot snapshot,
		   AttrNumber keycol, const pg_uuid_t *key)
{
	for (;;)
	{
		TM_FailureData tmfd;
		TM_Result	res;

		res = table_tuple_delete(rel, &slot->tts_tid, GetCurrentCommandId(true),
								 snapshot, InvalidSnapshot, true, &tmfd, false);
		switch (res)
		{
			case TM_Ok:
				return true;
			case TM_SelfModified:
				/* changed since this statement began: a DELETE skips it */
				return false;
			case TM_Deleted:
				if (IsolationUsesXactSnapshot())
					codes_serialization_failure("delete");
				return false;
			case TM_Updated:
				if (IsolationUsesXactSnapshot())
					codes_serialization_failure("update");
				break;
			default:
				elog(ERROR, "unexpected table_tuple_delete result %d", (int) res);
		}

		/* updated: lock its newest version, check it, and delete that */
		res = table_tuple_lock(rel, &slot->tts_tid, snapshot, slot,
							   GetCurrentCommandId(false),
							   LockTupleExclusive, LockWaitBlock,
							   TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		if (res == TM_Deleted || res == TM_SelfModified)
			return false;
		if (res != TM_Ok)
			elog(ERROR, "unexpected table_tuple_lock result %d", (int) res);
		if (!codes_holds_key(slot, keycol, key))
			return false;
	}
}

/*
 * Delete the history of the code with this key, whose row this
 * transaction has just deleted: the rows of codes.redemption_log that
 * snapshot sees, found through its index on (code, id) (delete_row for
 * each).
 */
static void
delete_history(const CodesTables *known, const pg_uuid_t *key,
			   Snapshot snapshot)
{
	Relation	log = table_open(known->log, NoLock);
	Relation	index = index_open(known->log_index, RowExclusiveLock);
	TupleTableSlot *slot = table_slot_create(log, NULL);
	IndexScanDesc scan;
	ScanKeyData skey;

	CheckCmdReplicaIdentity(log, CMD_DELETE);
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_UUID_EQ,
				UUIDPGetDatum(key));
	scan = codes_index_scan(log, index, snapshot, 1, &skey);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
		delete_row(log, slot, snapshot, CODES_LOG_COL_CODE, key);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(log, NoLock);
}

/*
 * Delete the code's row and its history, as store.c's DELETE statements
 * (del_sql, del_history_sql) do, without SPI or the executor: find the
 * row through the key index and delete it (delete_row: at READ COMMITTED
 * a concurrent use is waited for and its new version deleted; at
 * REPEATABLE READ or SERIALIZABLE it is a serialization failure), then
 * its rows in codes.redemption_log.  A use that waits for the delete
 * finds the code gone.  At READ COMMITTED the history is read with a
 * snapshot taken after the code's row is deleted, as the second statement
 * would be, so that the history of a use the delete waited for goes too.
 *
 * A multi-use code's uses do not lock its row: the caller has taken the
 * code's lock alone (codes_lock_code_uses), which waited for the uses in
 * progress and keeps new ones out, so that its history is read after they
 * commit.  *batch_id is set to the batch of the code deleted (0 if none
 * was): store.c deletes a multi-use code's stripes.
 *
 * Returns false, undecided, where the direct paths step aside
 * (CodesTables.direct_delete: triggers, rules, row security or foreign
 * keys on a table, an index not as made, or Citus); store.c deletes with
 * SQL then.
 */
bool
codes_delete_directly(CodesStmtArgs *args, int32 *batch_id)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);
	const pg_uuid_t *key = DatumGetUUIDP(args->values[0]);
	Relation	rel;
	Snapshot	snapshot;
	TupleTableSlot *slot;

	if (!known->direct_delete)
		return false;
	rel = table_open(known->codes, NoLock);
	CheckCmdReplicaIdentity(rel, CMD_DELETE);

	/* as a statement of its own: see this transaction's earlier work */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(snapshot);
	slot = table_slot_create(rel, NULL);

	*batch_id = 0;
	if (find_code(rel, known->key_index, snapshot, key, slot) &&
		delete_row(rel, slot, snapshot, CODES_COL_CODE, key))
	{
		bool		isnull;

		*batch_id = DatumGetInt32(slot_getattr(slot, CODES_COL_BATCH, &isnull));
		if (IsolationUsesXactSnapshot())
			delete_history(known, key, snapshot);
		else
		{
			Snapshot	latest = RegisterSnapshot(GetLatestSnapshot());

			delete_history(known, key, latest);
			UnregisterSnapshot(latest);
		}
	}

	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	PopActiveSnapshot();
	UnregisterSnapshot(snapshot);
	return true;
}

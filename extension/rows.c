/*-------------------------------------------------------------------------
 *
 * rows.c
 *	  Direct writes and reads of rows of the extension's tables, without
 *	  SPI or a plan: insert or update a row with its index entries and
 *	  constraints as an INSERT or UPDATE statement would, through the
 *	  executor's simple relation functions (those of logical replication),
 *	  or many rows as COPY inserts them; scan an index; lock a row as
 *	  SELECT ... FOR NO KEY UPDATE does.
 *
 * Only for tables that run no user's code (tables.c decides): the simple
 * relation functions fire no statement triggers, and their AFTER ROW
 * triggers need a query around them.  The differences between PostgreSQL
 * versions are compat.h's.
 *
 * Calls compat.h only; called by the direct paths of the table
 * (store_direct.c, stripes.c, history.c, import.c), and, for the one
 * serialization failure of codes, by store.c, store_undo.c,
 * history_sql.c and locks.c too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/sysattr.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "rows.h"

/*
 * Set up w to write rows of rel, whose open transaction-level lock the
 * caller holds, with snapshot (the statement's).  updated_cols: the
 * columns an update changes (codes_columns), NULL for inserts.
 */
void
codes_writer_open(CodesWriter *w, Relation rel, Snapshot snapshot,
				  Bitmapset *updated_cols)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	w->rel = rel;
	w->estate = CreateExecutorState();
	w->rri = makeNode(ResultRelInfo);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	compat_init_range_table(w->estate, rte, updated_cols);
	InitResultRelInfo(w->rri, rel, 1, NULL, 0);
	w->estate->es_output_cid = GetCurrentCommandId(true);
	w->estate->es_snapshot = snapshot;
	ExecOpenIndices(w->rri, false);
	w->newslot = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(rel),
										&TTSOpsVirtual);
}

/*
 * The writer's slot for a new row, emptied, or holding a copy of the
 * columns of copy_of (a row the caller means to update); the caller sets
 * the columns and then inserts or updates.
 */
TupleTableSlot *
codes_writer_new_row(CodesWriter *w, TupleTableSlot *copy_of)
{
	TupleTableSlot *slot = w->newslot;
	int			natts = RelationGetDescr(w->rel)->natts;

	ExecClearTuple(slot);
	if (copy_of != NULL)
	{
		slot_getallattrs(copy_of);
		memcpy(slot->tts_values, copy_of->tts_values, natts * sizeof(Datum));
		memcpy(slot->tts_isnull, copy_of->tts_isnull, natts * sizeof(bool));
	}
	else
	{
		memset(slot->tts_values, 0, natts * sizeof(Datum));
		memset(slot->tts_isnull, true, natts * sizeof(bool));
	}
	return slot;
}

/*
 * Insert the writer's new row, with its index entries, after checking its
 * NOT NULL and CHECK constraints.
 */
void
codes_writer_insert(CodesWriter *w)
{
	ExecStoreVirtualTuple(w->newslot);
	ExecSimpleRelationInsert(w->rri, w->estate, w->newslot);
}

/*
 * n slots for new rows of the writer's relation, for
 * codes_writer_insert_many; they go with the writer.
 */
TupleTableSlot **
codes_writer_slots(CodesWriter *w, int n)
{
	TupleTableSlot **slots = palloc(sizeof(TupleTableSlot *) * n);
	int			i;

	for (i = 0; i < n; i++)
		slots[i] = table_slot_create(w->rel, &w->estate->es_tupleTable);
	return slots;
}

/*
 * Insert n new rows, whose columns the caller stored in slots (from
 * codes_writer_slots, ExecStoreVirtualTuple'd), as COPY does: their NOT
 * NULL and CHECK constraints checked, the rows written a heap page at a
 * time (one WAL record per page rather than per row), then each row's
 * index entries.  The slots may be cleared and filled again afterwards.
 */
void
codes_writer_insert_many(CodesWriter *w, TupleTableSlot **slots, int n)
{
	int			i;

	if (RelationGetDescr(w->rel)->constr)
		for (i = 0; i < n; i++)
			ExecConstraints(w->rri, slots[i], w->estate);
	table_multi_insert(w->rel, slots, n, w->estate->es_output_cid, 0, NULL);
	for (i = 0; i < n; i++)
	{
		compat_insert_index_tuples(w->rri, slots[i], w->estate);
		ResetPerTupleExprContext(w->estate);
	}
}

/*
 * Replace the row in locked, which this transaction holds locked, by the
 * writer's new row: index entries are added as an UPDATE adds them (none
 * for a HOT update).
 */
void
codes_writer_update(CodesWriter *w, TupleTableSlot *locked)
{
	ExecStoreVirtualTuple(w->newslot);
	ExecSimpleRelationUpdate(w->rri, w->estate, NULL, locked, w->newslot);
}

/*
 * Try to replace the row in old, found with the writer's snapshot, by the
 * writer's new row, as an UPDATE does: in one WAL record, without a lock
 * of its own first.  wait: wait for a transaction that holds the row
 * (else return TM_BeingModified at once).  TM_Ok: replaced, with its index
 * entries (none for a HOT update); else what table_tuple_update found,
 * tmfd filled: TM_Updated or TM_Deleted (by a transaction that committed
 * after the snapshot), TM_BeingModified, TM_SelfModified.
 */
TM_Result
codes_writer_try_update(CodesWriter *w, TupleTableSlot *old, bool wait,
						TM_FailureData *tmfd)
{
	LockTupleMode lockmode;
	CompatUpdateIndexes update_indexes;
	TM_Result	res;

	CheckCmdReplicaIdentity(w->rel, CMD_UPDATE);
	ExecStoreVirtualTuple(w->newslot);
	res = table_tuple_update(w->rel, &old->tts_tid, w->newslot,
							 GetCurrentCommandId(true), w->estate->es_snapshot,
							 InvalidSnapshot, wait, tmfd, &lockmode,
							 &update_indexes);
	if (res == TM_Ok)
		compat_update_index_tuples(w->rri, w->newslot, w->estate, update_indexes);
	return res;
}

/*
 * Release what codes_writer_open set up.
 */
void
codes_writer_close(CodesWriter *w)
{
	ExecCloseIndices(w->rri);
	ExecResetTupleTable(w->estate->es_tupleTable, false);	/* the slot */
	FreeExecutorState(w->estate);
}

/*
 * The set of columns (attribute numbers) that an update changes, as the
 * executor keeps it.
 */
Bitmapset *
codes_columns(int n, const AttrNumber *cols)
{
	Bitmapset  *set = NULL;
	int			i;

	for (i = 0; i < n; i++)
		set = bms_add_member(set, cols[i] - FirstLowInvalidHeapAttributeNumber);
	return set;
}

/*
 * Does the row in slot hold this key in column col?
 */
bool
codes_holds_key(TupleTableSlot *slot, AttrNumber col, const pg_uuid_t *key)
{
	bool		isnull;
	Datum		code = slot_getattr(slot, col, &isnull);

	return !isnull && memcmp(DatumGetUUIDP(code)->data, key->data, UUID_LEN) == 0;
}

/*
 * Begin a scan of rel through index with these keys, visible to snapshot;
 * the caller fetches rows with index_getnext_slot and ends it with
 * index_endscan.  Under SERIALIZABLE, with an MVCC snapshot, it takes the
 * predicate locks a SELECT takes.
 */
IndexScanDesc
codes_index_scan(Relation rel, Relation index, Snapshot snapshot, int nkeys,
				 ScanKey keys)
{
	IndexScanDesc scan = compat_index_beginscan(rel, index, snapshot, nkeys, 0);

	index_rescan(scan, keys, nkeys, NULL, 0);
	return scan;
}

/*
 * Lock the row in slot, found with snapshot, for an update, as SELECT ...
 * FOR NO KEY UPDATE does (wait: LockWaitBlock, or LockWaitSkip to give up
 * at once on a row another transaction holds).  At READ COMMITTED the lock
 * follows the row to its newest version, which slot then holds (and
 * tmfd->traversed says so); at REPEATABLE READ or SERIALIZABLE a version
 * newer than the snapshot is TM_Updated, which the caller turns into a
 * serialization failure or passes by.
 */
TM_Result
codes_lock_row(Relation rel, TupleTableSlot *slot, Snapshot snapshot,
			   LockWaitPolicy wait, TM_FailureData *tmfd)
{
	return table_tuple_lock(rel, &slot->tts_tid, snapshot, slot,
							GetCurrentCommandId(false),
							LockTupleNoKeyExclusive, wait,
							IsolationUsesXactSnapshot() ? 0 :
							TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							tmfd);
}

/*
 * A serialization failure: what a read or write needs changed since the
 * transaction's snapshot (what: "update" or "delete"), as an UPDATE or
 * DELETE of a row changed meanwhile would find (or a refusal would rest
 * on such a change).
 */
void
codes_serialization_failure(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to concurrent %s", what)));
}

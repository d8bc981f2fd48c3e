/*-------------------------------------------------------------------------
 *
 * rows.h
 *	  Direct writes and reads of rows of the extension's tables, without
 *	  SPI or a plan (rows.c); for the direct paths of the table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_ROWS_H
#define CODES_ROWS_H

#include "access/genam.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"

/*
 * An executor state for writing rows of one relation, as a statement
 * would: its indexes and constraints (codes_writer_open).
 */
typedef struct CodesWriter
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *newslot;	/* a virtual slot of the relation's shape */
} CodesWriter;

extern void codes_writer_open(CodesWriter *w, Relation rel, Snapshot snapshot,
							  Bitmapset *updated_cols);
extern TupleTableSlot *codes_writer_new_row(CodesWriter *w,
											TupleTableSlot *copy_of);
extern void codes_writer_insert(CodesWriter *w);
extern TupleTableSlot **codes_writer_slots(CodesWriter *w, int n);
extern void codes_writer_insert_many(CodesWriter *w, TupleTableSlot **slots,
									 int n);
extern void codes_writer_update(CodesWriter *w, TupleTableSlot *locked);
extern TM_Result codes_writer_try_update(CodesWriter *w, TupleTableSlot *old,
										 bool wait, TM_FailureData *tmfd);
extern void codes_writer_close(CodesWriter *w);
extern Bitmapset *codes_columns(int n, const AttrNumber *cols);

extern bool codes_holds_key(TupleTableSlot *slot, AttrNumber col,
							const pg_uuid_t *key);
extern IndexScanDesc codes_index_scan(Relation rel, Relation index,
									  Snapshot snapshot, int nkeys,
									  ScanKey keys);
extern void codes_serialization_failure(const char *what);
extern TM_Result codes_lock_row(Relation rel, TupleTableSlot *slot,
								Snapshot snapshot, LockWaitPolicy wait,
								TM_FailureData *tmfd);

#endif							/* CODES_ROWS_H */

/*-------------------------------------------------------------------------
 *
 * history_sql.h
 *	  The history of uses through SQL (history_sql.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_HISTORY_SQL_H
#define CODES_HISTORY_SQL_H

#include "utils/snapshot.h"

#include "operation.h"			/* CodesStmtArgs, CodesBatchInfo, CodesReason */

/*
 * Whether a use of a code of this batch is recorded under a limit per
 * redeemer: of its own uses (a multi-use code), or of the batch's.
 */
static inline bool
codes_history_guarded(const CodesBatchInfo *batch)
{
	return (CODES_MULTI_USE(batch) && !batch->per_redeemer_null) ||
		!batch->batch_limit_null;
}

extern CodesReason codes_history_judge_by_sql(CodesStmtArgs *args,
											  const CodesBatchInfo *batch,
											  Snapshot snapshot, int64 *counts);
extern CodesReason codes_history_record_by_sql(CodesStmtArgs *args,
											   const CodesBatchInfo *batch,
											   int64 *id);

#endif							/* CODES_HISTORY_SQL_H */

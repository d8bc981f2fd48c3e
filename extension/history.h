/*-------------------------------------------------------------------------
 *
 * history.h
 *	  The history of uses, codes.redemption_log: a use recorded under the
 *	  limits per redeemer, the redeemer's standing uses, the latest use
 *	  undone (history.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_HISTORY_H
#define CODES_HISTORY_H

#include "operation.h"			/* CodesStmtArgs, CodesBatchInfo, CodesReason */

extern void codes_history_require_exact(const CodesBatchInfo *batch);
extern CodesReason codes_history_record(CodesStmtArgs *args,
										const CodesBatchInfo *batch, int64 *id);
extern CodesReason codes_history_precheck(CodesStmtArgs *args,
										  const CodesBatchInfo *batch);
extern CodesReason codes_history_limits(CodesStmtArgs *args,
										const CodesBatchInfo *batch);
extern bool codes_history_undo(CodesStmtArgs *args);

#endif							/* CODES_HISTORY_H */

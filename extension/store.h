/*-------------------------------------------------------------------------
 *
 * store.h
 *	  The codes table: a use of one code (store.c, with its fast path
 *	  store_direct.c), and what store_read.c and store_undo.c take from it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STORE_H
#define CODES_STORE_H

#include "operation.h"			/* CodesOutcome, CodesStmtArgs */
#include "store_open.h"			/* CodesOp */

extern void codes_store_use(CodesOp *op, CodesOutcome *out);

/* For store_read.c and store_undo.c, the other parts of the operations. */
extern bool codes_store_lock(CodesStmtArgs *args, CodesOutcome *out);
extern bool codes_store_look_up(CodesStmtArgs *args, CodesOutcome *out);
extern bool codes_store_share_code(CodesStmtArgs *args, CodesOutcome *out);
extern void codes_store_uncount(CodesStmtArgs *args, int64 n);
extern void codes_store_count_uses(CodesStmtArgs *args, CodesOutcome *out,
								   bool fresh, int64 *live);

#endif							/* CODES_STORE_H */

/*-------------------------------------------------------------------------
 *
 * store.h
 *	  The codes table: one operation on one code (store.c, with its fast
 *	  path store_direct.c and its other half store_undo.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STORE_H
#define CODES_STORE_H

#include "utils/uuid.h"

#include "operation.h"			/* CodesOutcome, CodesStmtArgs */
#include "searchpath.h"			/* CodesPin */


/*
 * One operation on one code: begun by codes_store_open, which finds the
 * key the code is stored under; then at most one of the operations below;
 * ended by codes_store_close.
 */
typedef struct CodesOp
{
	CodesPin	pin;			/* search_path, as pinned for the operation */
	pg_uuid_t	key;			/* the code's key: args.values[0] */
	CodesStmtArgs args;			/* the parameters of the statements */
} CodesOp;

extern bool codes_store_open(CodesOp *op, text *code, Datum redeemer,
							 bool redeemer_null, bool writes);
extern void codes_store_open_key(CodesOp *op, const pg_uuid_t *key);
extern void codes_store_close(CodesOp *op);
extern void codes_store_use(CodesOp *op, CodesOutcome *out);
extern void codes_store_redeem(CodesOp *op, CodesOutcome *out);
extern void codes_store_check(CodesOp *op, CodesOutcome *out);
extern void codes_store_query(CodesOp *op, CodesOutcome *out);

/* For store_undo.c, the other half of the table's operations. */
extern void codes_store_set_batch(CodesStmtArgs *args, const CodesOutcome *out);
extern bool codes_store_lock(CodesStmtArgs *args, CodesOutcome *out);
extern bool codes_store_look_up(CodesStmtArgs *args, CodesOutcome *out);
extern bool codes_store_share_code(CodesStmtArgs *args, CodesOutcome *out);
extern void codes_store_uncount(CodesStmtArgs *args, int64 n);
extern void codes_store_count_uses(CodesStmtArgs *args, CodesOutcome *out,
								   bool fresh, int64 *live);

#endif							/* CODES_STORE_H */

/*-------------------------------------------------------------------------
 *
 * store_open.h
 *	  Beginning and ending an operation on one code (store_open.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STORE_OPEN_H
#define CODES_STORE_OPEN_H

#include "utils/snapshot.h"
#include "utils/uuid.h"

#include "operation.h"			/* CodesOutcome, CodesStmtArgs */
#include "searchpath.h"			/* CodesPin */

/*
 * One operation on one code: begun by codes_store_open, which finds the
 * key the code is stored under; then at most one operation of store.c,
 * store_read.c or store_undo.c; ended by codes_store_close.
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
extern void codes_store_set_batch(CodesStmtArgs *args, const CodesOutcome *out);
extern bool codes_store_exists(CodesStmtArgs *args, Snapshot snapshot);

#endif							/* CODES_STORE_OPEN_H */

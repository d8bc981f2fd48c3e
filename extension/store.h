/*-------------------------------------------------------------------------
 *
 * store.h
 *	  The codes table: one operation on one code (store.c, and its fast
 *	  path, store_direct.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STORE_H
#define CODES_STORE_H

#include "utils/uuid.h"

#include "batch.h"				/* CodesBatchInfo, CodesReason */
#include "searchpath.h"			/* CodesPin */

/*
 * What an operation found: CODES_OK when the code was used (or could be),
 * else why not; for any code that was found, its batch and its uses (after
 * a use).
 */
typedef struct CodesOutcome
{
	CodesReason reason;
	bool		guess;			/* not found, and no row was: a guess */
	CodesBatchInfo batch;		/* unless reason is CODES_NOT_FOUND */
	int32		uses;
	bool		have_details;	/* batch_name and metadata are set */
	Datum		batch_name;		/* with details (add_details): text */
	Datum		metadata;		/* jsonb */
	bool		metadata_null;
} CodesOutcome;

/*
 * Every statement of store.c takes the same three parameters, whether it
 * uses them or not: $1 the code's key, $2 the redeemer (may be NULL), $3 a
 * batch id.  Here as SPI_execute_plan takes them, with whether the
 * operation has connected to SPI to run them.
 */
#define CODES_STMT_NARGS	3

typedef struct CodesStmtArgs
{
	Datum		values[CODES_STMT_NARGS];
	char		nulls[CODES_STMT_NARGS];
	bool		connected;		/* connected to SPI to run them (store.c) */
} CodesStmtArgs;

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
extern void codes_store_close(CodesOp *op);
extern void codes_store_use(CodesOp *op, CodesOutcome *out);
extern void codes_store_redeem(CodesOp *op, CodesOutcome *out);
extern void codes_store_check(CodesOp *op, CodesOutcome *out);
extern void codes_store_query(CodesOp *op, CodesOutcome *out);
extern bool codes_store_undo(CodesOp *op);
extern void codes_store_delete(CodesOp *op);

#endif							/* CODES_STORE_H */

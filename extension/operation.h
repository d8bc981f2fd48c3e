/*-------------------------------------------------------------------------
 *
 * operation.h
 *	  What an operation on one code takes and gives: the parameters of its
 *	  statements and its outcome.  Types only, shared by the table's two
 *	  ways of working (store.c with SQL, store_direct.c without) and read
 *	  by the entry points.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_OPERATION_H
#define CODES_OPERATION_H

#include "batch.h"				/* CodesBatchInfo, CodesReason */

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
	int32		base;			/* the uses its row holds */
	int64		uses;			/* its standing uses (after a use); for a
								 * code without a total cap, base */
	bool		logged;			/* a single-use code's use is in the history */
	bool		settled;		/* logged, used up, and no transaction is
								 * changing its row (store_direct.c) */
	int64		entry;			/* the history entry of the use or hold made */
	bool		deactivated;	/* code_deactivate stopped it */
	bool		bound_elsewhere;	/* bound to another redeemer than $2 */
	bool		code_metadata_null;
	Datum		code_metadata;	/* jsonb: what the code itself grants */
	bool		have_details;	/* batch_name and metadata are set */
	Datum		batch_name;		/* with details (add_details): text */
	Datum		metadata;		/* jsonb */
	bool		metadata_null;
} CodesOutcome;

/*
 * Every statement of the table (store.c, stripes.c, history.c, holds.c;
 * and each direct path) takes the same eight parameters, whether it uses
 * them or not: $1 the code's key, $2 the redeemer (may be NULL), $3 a
 * batch id, $4 a number (a stripe, say), $5 a bigint (a row's id, a
 * change of uses), and what a use records in the history: $6 its
 * reference (text), $7 its details (jsonb), $8 until when it is held
 * (timestamptz; NULL for a use).  Here as SPI_execute_plan takes them,
 * with whether the operation has connected to SPI to run them.
 */
#define CODES_STMT_NARGS	8
#define CODES_ARG_REFERENCE		5
#define CODES_ARG_DETAILS		6
#define CODES_ARG_HELD_UNTIL	7

typedef struct CodesStmtArgs
{
	Datum		values[CODES_STMT_NARGS];
	char		nulls[CODES_STMT_NARGS];
	bool		connected;		/* connected to SPI to run them (store.c) */
} CodesStmtArgs;

/* The redeemer of the operation in args ($2), or NULL. */
static inline text *
codes_args_redeemer(CodesStmtArgs *args)
{
	return args->nulls[1] == 'n' ? NULL : DatumGetTextPP(args->values[1]);
}

#endif							/* CODES_OPERATION_H */

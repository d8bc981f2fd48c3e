/*-------------------------------------------------------------------------
 *
 * gen.h
 *	  Batch generation (gen.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_GEN_H
#define CODES_GEN_H

#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "utils/tuplestore.h"

#include "keys.h"				/* CodesKey */
#include "text.h"				/* CodesPattern */

/* Largest batch one code_gen call may create (documented in README.md). */
#define CODES_MAX_PER_CALL		10000000

/* What code_gen was asked for, once its arguments have been checked. */
typedef struct CodesBatchSpec
{
	int32		num;			/* number of codes */
	bool		from_null;		/* valid_from is NULL (open) */
	TimestampTz valid_from;
	bool		until_null;		/* valid_until is NULL (open) */
	TimestampTz valid_until;
	bool		max_uses_null;	/* no total cap on a code's uses */
	int32		max_uses;		/* uses allowed per code */
	bool		per_redeemer_null;	/* no per-redeemer limit */
	int32		max_uses_per_redeemer;
	bool		batch_limit_null;	/* no per-redeemer limit across the batch */
	int32		max_batch_uses_per_redeemer;
	char	   *name;			/* batch name, or NULL to generate one */
	char	   *pattern;		/* pattern, or NULL for UUID codes */
	CodesPattern parsed;		/* the pattern, parsed */
	const CodesKey *hmac_key;	/* store => 'hmac': the key; else NULL */
	bool		metadata_null;	/* no metadata */
	Datum		metadata;		/* jsonb: what the batch's codes grant */
} CodesBatchSpec;

extern void codes_generate(const CodesBatchSpec *spec,
						   Tuplestorestate *out, TupleDesc outdesc);

#endif							/* CODES_GEN_H */

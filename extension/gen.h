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

/*
 * What code_gen (or batch_create, or batch_generate) was asked for, once
 * its arguments have been checked.
 */
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
	int32		batch_id;		/* an existing batch to add codes to
								 * (batch_generate), or 0 for a new one */
	double		guess_chance;	/* for an existing batch: the largest chance
								 * allowed that a guess matches one of its
								 * codes (codes.max_guess_chance) */
} CodesBatchSpec;

extern int32 codes_create_batch(const CodesBatchSpec *spec);
extern void codes_generate(const CodesBatchSpec *spec,
						   Tuplestorestate *out, TupleDesc outdesc);
extern void codes_lock_class(int32 class, bool hashed);
extern void codes_warn_missing_key(const char *key_id);

#endif							/* CODES_GEN_H */

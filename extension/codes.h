/*-------------------------------------------------------------------------
 *
 * codes.h
 *	  What the C files of the codes extension share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_H
#define CODES_H

#include "executor/spi.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

/* Largest batch one code_gen call may create (documented in README.md). */
#define CODES_MAX_PER_CALL		10000000

/* Longest batch name, in bytes. */
#define CODES_MAX_BATCH_NAME	200

/* Length of a code's text form: a UUID with hyphens. */
#define CODES_TEXT_LEN			36

/* What code_gen was asked for, once its arguments have been checked. */
typedef struct CodesBatchSpec
{
	int32		num;			/* number of codes */
	bool		from_null;		/* valid_from is NULL (open) */
	TimestampTz valid_from;
	bool		until_null;		/* valid_until is NULL (open) */
	TimestampTz valid_until;
	int32		max_uses;		/* uses allowed per code */
	bool		per_redeemer_null;	/* no per-redeemer limit */
	int32		max_uses_per_redeemer;
	char	   *name;			/* batch name, or NULL to generate one */
} CodesBatchSpec;

/* codes.c */
extern SPIPlanPtr codes_prepare(const char *sql, int nargs, Oid *argtypes);

/* gen.c */
extern void codes_generate(const CodesBatchSpec *spec,
						   Tuplestorestate *out, TupleDesc outdesc);

/* alphabet.c */
extern bool codes_key_from_text(text *code, pg_uuid_t *key);
extern void codes_key_to_cstring(const pg_uuid_t *key, char *buf);

#endif							/* CODES_H */

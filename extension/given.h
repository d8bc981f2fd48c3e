/*-------------------------------------------------------------------------
 *
 * given.h
 *	  Codes given to code_add, read and written (given.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_GIVEN_H
#define CODES_GIVEN_H

#include "utils/array.h"
#include "utils/elog.h"
#include "utils/uuid.h"

#include "keys.h"				/* CodesKey */
#include "tables.h"				/* CodesTables */
#include "text.h"				/* CODES_MAX_PATTERN, CODES_KEY_ID_LEN */

/* An existing batch that codes are added to (import.c's codes_open_batch). */
typedef struct CodesTargetBatch
{
	int32		id;
	char	   *name;
	char	   *pattern;		/* of its generated codes; NULL: UUIDs */
	char		key_id[CODES_KEY_ID_LEN + 1];	/* hashed under; "" if plain */
	bool		max_uses_null;	/* no total cap on a code's uses */
	int32		max_uses;
	bool		chosen;			/* has codes given by code_add */
} CodesTargetBatch;

/* One given code. */
typedef struct CodesGivenCode
{
	int64		fold;			/* its key's fold: the order of the index */
	pg_uuid_t	key;			/* the key it is stored under */
	int32		i;				/* its element of the array, from 0 */
	int32		uses;			/* its uses so far */
	bool		uuid;			/* its text reads as a UUID */
} CodesGivenCode;

/* What one code_add call was given, once read (codes_read_given). */
typedef struct CodesGiven
{
	const CodesTargetBatch *batch;
	const CodesKey *key;		/* the batch's server key; NULL: plain */
	Datum	   *texts;			/* the array's elements */
	int			lbound;			/* the array's first subscript */
	int			n;
	CodesGivenCode *codes;		/* n, in the order of the key index */
	bool		any_uses;		/* some code has uses so far */
	bool		classes[CODES_MAX_PATTERN + 1]; /* the classes given (gen.c) */
} CodesGiven;

extern void codes_read_given(CodesGiven *g, const CodesTargetBatch *batch,
							 const CodesKey *key, ArrayType *codes,
							 ArrayType *uses);
extern int	codes_given_canon(const CodesGiven *g, int i, char *canon);
extern char *codes_given_positions(const CodesGiven *g, const bool *flagged,
								   int *count);
extern ErrorData *codes_write_given(const CodesGiven *g,
									const CodesTables *known);

#endif							/* CODES_GIVEN_H */

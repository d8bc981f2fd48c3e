/*-------------------------------------------------------------------------
 *
 * import.h
 *	  Codes given rather than generated, and the batch they go to
 *	  (import.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_IMPORT_H
#define CODES_IMPORT_H

#include "utils/array.h"

#include "keys.h"				/* CodesKey */
#include "text.h"				/* CODES_KEY_ID_LEN */

/* An existing batch that codes are added to (codes_open_batch). */
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

extern void codes_open_batch(const char *name, CodesTargetBatch *batch);
extern const CodesKey *codes_batch_key(const CodesTargetBatch *batch);
extern int64 codes_add_given(const CodesTargetBatch *batch, ArrayType *codes,
							 ArrayType *uses);

#endif							/* CODES_IMPORT_H */

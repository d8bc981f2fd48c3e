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

#include "given.h"				/* CodesTargetBatch */
#include "keys.h"				/* CodesKey */

extern void codes_open_batch(const char *name, CodesTargetBatch *batch);
extern const CodesKey *codes_batch_key(const CodesTargetBatch *batch);
extern int64 codes_add_given(const CodesTargetBatch *batch, ArrayType *codes,
							 ArrayType *uses);

#endif							/* CODES_IMPORT_H */

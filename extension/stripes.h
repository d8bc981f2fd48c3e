/*-------------------------------------------------------------------------
 *
 * stripes.h
 *	  The uses of a multi-use code with a total cap, in stripes that
 *	  concurrent uses take without waiting for each other (stripes.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STRIPES_H
#define CODES_STRIPES_H

#include "operation.h"			/* CodesStmtArgs, CodesBatchInfo */

/* Stripes a code may have, numbered 0 to CODES_STRIPES - 1. */
#define CODES_STRIPES	64

extern int	codes_stripes_take(CodesStmtArgs *args, const CodesBatchInfo *batch,
							   int32 base);
extern void codes_stripes_put_back(CodesStmtArgs *args, int stripe);
extern void codes_stripes_give(CodesStmtArgs *args, const CodesBatchInfo *batch);
extern int64 codes_stripes_uses(CodesStmtArgs *args, bool fresh);
extern void codes_stripes_delete(CodesStmtArgs *args);

#endif							/* CODES_STRIPES_H */

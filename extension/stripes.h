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
#include "stripes_sql.h"		/* the rest: put back, uses, delete */

extern int	codes_stripes_take(CodesStmtArgs *args, const CodesBatchInfo *batch,
							   int32 base);
extern void codes_stripes_give(CodesStmtArgs *args, const CodesBatchInfo *batch);

#endif							/* CODES_STRIPES_H */

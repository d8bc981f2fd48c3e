/*-------------------------------------------------------------------------
 *
 * store_read.h
 *	  What a code's answers tell besides its use, and the reads that use
 *	  nothing (store_read.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STORE_READ_H
#define CODES_STORE_READ_H

#include "store_open.h"			/* CodesOp */

extern void codes_store_redeem(CodesOp *op, CodesOutcome *out);
extern void codes_store_check(CodesOp *op, CodesOutcome *out);
extern void codes_store_query(CodesOp *op, CodesOutcome *out);

#endif							/* CODES_STORE_READ_H */

/*-------------------------------------------------------------------------
 *
 * store_direct.h
 *	  The common use, the read and the delete of a code, without SPI or
 *	  the executor (store_direct.c); for store.c only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STORE_DIRECT_H
#define CODES_STORE_DIRECT_H

#include "operation.h"			/* CodesStmtArgs, CodesOutcome */

/* What codes_use_directly came to. */
typedef enum CodesDirect
{
	CODES_DIRECT_DECIDED,		/* used, or refused: out says */
	CODES_DIRECT_FOUND,			/* found, for store.c to decide */
	CODES_DIRECT_NONE			/* not looked up: store.c does it all */
} CodesDirect;

extern CodesDirect codes_use_directly(CodesStmtArgs *args, bool plain,
									  CodesOutcome *out);
extern bool codes_read_directly(CodesStmtArgs *args, CodesOutcome *out,
								bool *found);
extern bool codes_delete_directly(CodesStmtArgs *args, int32 *batch_id);

#endif							/* CODES_STORE_DIRECT_H */

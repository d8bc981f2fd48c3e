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

extern bool codes_use_directly(CodesStmtArgs *args, CodesOutcome *out);
extern bool codes_read_directly(CodesStmtArgs *args, CodesOutcome *out,
								bool *found);
extern bool codes_delete_directly(CodesStmtArgs *args);

#endif							/* CODES_STORE_DIRECT_H */

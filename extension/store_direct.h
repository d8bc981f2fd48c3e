/*-------------------------------------------------------------------------
 *
 * store_direct.h
 *	  The common use without SPI or the executor (store_direct.c); for
 *	  store.c only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STORE_DIRECT_H
#define CODES_STORE_DIRECT_H

#include "store.h"				/* CodesStmtArgs, CodesOutcome */

extern bool codes_use_directly(CodesStmtArgs *args, CodesOutcome *out);

#endif							/* CODES_STORE_DIRECT_H */

/*-------------------------------------------------------------------------
 *
 * store_undo.h
 *	  The codes table: giving uses back, and removing a code
 *	  (store_undo.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STORE_UNDO_H
#define CODES_STORE_UNDO_H

#include "store.h"				/* CodesOp, CodesOutcome */

extern bool codes_store_undo(CodesOp *op);
extern int64 codes_store_undo_reference(Datum reference);
extern void codes_store_confirm(CodesOp *op, CodesOutcome *out);
extern bool codes_store_release(CodesOp *op);
extern void codes_store_delete(CodesOp *op);

#endif							/* CODES_STORE_UNDO_H */

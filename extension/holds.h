/*-------------------------------------------------------------------------
 *
 * holds.h
 *	  Holds of a code's uses: entries of the history with held_until set,
 *	  counted, expired, confirmed and released (holds.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_HOLDS_H
#define CODES_HOLDS_H

#include "operation.h"			/* CodesStmtArgs, CodesReason */

extern void codes_holds_count(CodesStmtArgs *args, bool fresh, int64 *live,
							  int64 *expired);
extern int64 codes_holds_expire(CodesStmtArgs *args);
extern CodesReason codes_hold_confirm_entry(CodesStmtArgs *args);
extern bool codes_hold_release_entry(CodesStmtArgs *args);
extern int64 codes_history_undo_entry(CodesStmtArgs *args);

#endif							/* CODES_HOLDS_H */

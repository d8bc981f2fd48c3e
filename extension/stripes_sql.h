/*-------------------------------------------------------------------------
 *
 * stripes_sql.h
 *	  A code's stripes through SQL (stripes_sql.c), and what the two ways
 *	  of changing them share: how many there are, the shares of a cap,
 *	  and what trying one stripe came to (stripes.c is the direct way).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STRIPES_SQL_H
#define CODES_STRIPES_SQL_H

#include "operation.h"			/* CodesStmtArgs */

/* Stripes a code may have, numbered 0 to CODES_STRIPES - 1. */
#define CODES_STRIPES	64

/* What trying one stripe came to (try_stripe). */
typedef enum StripeTry
{
	STRIPE_DONE,				/* changed: a use taken or given back */
	STRIPE_FULL,				/* at its share (or gone) */
	STRIPE_BUSY,				/* another transaction holds it */
	STRIPE_AGAIN,				/* another transaction is making it, or made
								 * or changed it after the round's snapshot
								 * (at READ COMMITTED): look again */
	STRIPE_STALE				/* changed since the transaction's snapshot */
} StripeTry;

/*
 * Stripe i's share of a cap: the cap split CODES_STRIPES ways, rounded
 * down, the first (cap mod CODES_STRIPES) stripes one more; so the shares
 * add up to the cap, a negative one too.
 */
static inline int32
codes_stripe_share(int64 cap, int stripe)
{
	int64		q = cap / CODES_STRIPES;
	int64		r = cap % CODES_STRIPES;

	if (r < 0)
	{
		r += CODES_STRIPES;
		q--;
	}
	return (int32) (q + (stripe < r ? 1 : 0));
}

/*
 * How many stripes have a share of at least one: those a use tries
 * first, 0 to this number less one.
 */
static inline int
codes_stripes_with_room(int64 cap)
{
	return cap <= 0 ? 0 : (int) Min(cap, CODES_STRIPES);
}

extern int	codes_stripes_change_by_sql(CodesStmtArgs *args, int64 cap, int32 delta,
										bool may_wait);
extern void codes_stripes_put_back(CodesStmtArgs *args, int stripe);
extern int64 codes_stripes_uses(CodesStmtArgs *args, bool fresh);
extern void codes_stripes_delete(CodesStmtArgs *args);

#endif							/* CODES_STRIPES_SQL_H */

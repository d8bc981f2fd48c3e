/*-------------------------------------------------------------------------
 *
 * stripes_own.h
 *	  The stripes this transaction took uses from last (stripes_own.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STRIPES_OWN_H
#define CODES_STRIPES_OWN_H

#include "storage/itemptr.h"
#include "utils/uuid.h"

/*
 * A stripe this transaction has taken a use from, with its newest version
 * (which this transaction wrote, and so holds locked until it ends).
 */
typedef struct CodesOwnStripe
{
	pg_uuid_t	key;			/* the code's (the hash key) */
	int			stripe;			/* to take from first; -1: none */
	ItemPointerData tid;		/* its newest version; invalid: not known */
} CodesOwnStripe;

extern void codes_init_stripes(void);
extern CodesOwnStripe *codes_own_stripe(const pg_uuid_t *key);
extern void codes_own_forget(CodesOwnStripe *own);
extern void codes_own_remember(const pg_uuid_t *key, int stripe, int32 delta,
							   ItemPointer tid);
extern bool codes_own_holds(const pg_uuid_t *key);
extern bool codes_own_may_wait(const pg_uuid_t *key, TransactionId xid);

#endif							/* CODES_STRIPES_OWN_H */

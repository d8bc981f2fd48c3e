/*-------------------------------------------------------------------------
 *
 * locks.h
 *	  The heavyweight locks codes takes besides row locks (locks.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_LOCKS_H
#define CODES_LOCKS_H

#include "storage/lockdefs.h"
#include "utils/uuid.h"

/* What a lock of codes is on: the fourth field of its tag. */
typedef enum CodesLockKind
{
	CODES_LOCK_BATCH = 1,		/* uses of a batch's multi-use codes */
	CODES_LOCK_STRIPES = 2,		/* making a code's stripes */
	CODES_LOCK_CODE_REDEEMER = 3,	/* a redeemer's uses of one code */
	CODES_LOCK_BATCH_REDEEMER = 4,	/* a redeemer's uses in one batch */
	CODES_LOCK_CODE = 5,		/* uses of one multi-use code */
	CODES_LOCK_STRIPE_MAKE = 6	/* making a stripe through SQL */
} CodesLockKind;

extern void codes_lock_batch(int32 batch_id, LOCKMODE mode);
extern void codes_lock_code_uses(const pg_uuid_t *key, LOCKMODE mode);
extern void codes_lock_code(CodesLockKind kind, const pg_uuid_t *key);
extern void codes_unlock_code(CodesLockKind kind, const pg_uuid_t *key);
extern void codes_fail_if_traces_changed(const char *sql, Oid argtype,
										 Datum arg);
extern bool codes_lock_stripe_make(const pg_uuid_t *key, int stripe,
								   bool wait);
extern void codes_lock_redeemer(CodesLockKind kind, uint32 of, text *redeemer);
extern void codes_unlock_redeemer(CodesLockKind kind, uint32 of, text *redeemer);
extern void codes_lock_redeemer_bucket(CodesLockKind kind, uint32 of,
									   text *redeemer);

#endif							/* CODES_LOCKS_H */

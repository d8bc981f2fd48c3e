/*-------------------------------------------------------------------------
 *
 * batch.h
 *	  What each backend remembers of codes.batch, and a code's status
 *	  (batch.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_BATCH_H
#define CODES_BATCH_H

#include "datatype/timestamp.h"

#include "text.h"				/* CodesShape */

/* Longest batch name, in bytes. */
#define CODES_MAX_BATCH_NAME	200

/* Longest redeemer, in bytes: an index entry of the history holds it. */
#define CODES_MAX_REDEEMER		1000

/* Statuses, as the seed service spelled them. */
#define CODES_TIMEINVALID		"TIMEINVALID"
#define CODES_UNACTIVED			"UNACTIVED"
#define CODES_ACTIVED			"ACTIVED"

/* What a batch allows, as batch.c remembers it. */
typedef struct CodesBatchInfo
{
	int32		id;				/* hash key: the batch id */
	bool		from_null;
	TimestampTz valid_from;
	bool		until_null;
	TimestampTz valid_until;
	bool		revoked;
	bool		max_uses_null;	/* no total cap: any number of uses */
	int32		max_uses;
	bool		per_redeemer_null;
	int32		per_redeemer;	/* uses of one code per redeemer */
	bool		batch_limit_null;
	int32		batch_limit;	/* uses of the batch's codes per redeemer */
	TransactionId xmin;			/* the transaction that made its row version */
} CodesBatchInfo;

/*
 * A code whose uses are recorded in the history: it may be used more than
 * once (max_uses above 1, or no cap), so its row does not hold its uses.
 */
#define CODES_MULTI_USE(batch) \
	((batch)->max_uses_null || (batch)->max_uses > 1)

/*
 * Why a code cannot be used now (code_redeem's reason), or CODES_OK.  The
 * names are in codes_reason_name.
 */
typedef enum CodesReason
{
	CODES_OK,
	CODES_NOT_FOUND,			/* no such code: a guess */
	CODES_USED_UP,
	CODES_NOT_YET_VALID,
	CODES_EXPIRED,
	CODES_REVOKED,
	CODES_DEACTIVATED,			/* code_deactivate stopped the code */
	CODES_BOUND_ELSEWHERE,		/* bound to another redeemer */
	CODES_HELD,					/* used up, by holds of others among them */
	CODES_HOLD_EXPIRED,			/* a hold to confirm whose time has passed */
	CODES_REDEEMER_LIMIT,		/* this redeemer has used its share */
	CODES_BATCH_REDEEMER_LIMIT, /* ... of the batch's codes */
	CODES_BRAKED				/* the redeemer is braked for guessing */
} CodesReason;

extern void codes_init_batch_cache(void);
extern void codes_refresh_batch_cache(void);
extern bool codes_batch_info(int32 id, CodesBatchInfo *info);
extern bool codes_batch_rules_changed(int32 id);
extern const CodesShape *codes_known_shapes(int *n);
extern CodesReason codes_refusal(const CodesBatchInfo *batch, int64 uses);
extern CodesReason codes_code_refusal(const CodesBatchInfo *batch, int64 uses,
									  bool deactivated, bool bound_elsewhere);
extern void codes_require_redeemer(const CodesBatchInfo *batch, bool redeemer_null);
extern const char *codes_reason_name(CodesReason reason);
extern const char *codes_status(const CodesBatchInfo *batch, int64 uses);
extern const char *codes_code_status(const CodesBatchInfo *batch, int64 uses,
									 bool deactivated);
extern bool codes_usable(const CodesBatchInfo *batch, int64 uses);

#endif							/* CODES_BATCH_H */

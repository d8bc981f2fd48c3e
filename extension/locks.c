/*-------------------------------------------------------------------------
 *
 * locks.c
 *	  The heavyweight locks codes takes besides row locks: on a batch,
 *	  which uses of its multi-use codes share and deletes of its codes take
 *	  alone; short ones that make two transactions take turns while one of
 *	  them makes a code's stripe or records a redeemer's use; and, for
 *	  history recorded through SQL, ones on buckets of redeemers held to
 *	  the end of the transaction.
 *
 * Their tags are LOCKTAG_USERLOCK, which PostgreSQL reserves for code
 * outside the core and no SQL function takes: an application cannot take
 * them (and so cannot hold up a use), unlike the advisory locks of
 * pg_advisory_lock.  The first field is the database, the fourth the kind
 * of lock (CodesLockKind); pg_locks shows them as locktype 'userlock'.
 *
 * Calls text.c (the key fold) and rows.c (the serialization failure);
 * called by the table (store.c, stripes.c, history.c, store_direct.c),
 * and by drop_batches through lock_batches.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "locks.h"
#include "rows.h"
#include "text.h"

PG_FUNCTION_INFO_V1(lock_batches);

/*
 * Fill in the tag of a lock of codes in this database.
 */
static void
set_tag(LOCKTAG *tag, uint32 field2, uint32 field3, CodesLockKind kind)
{
	tag->locktag_field1 = MyDatabaseId;
	tag->locktag_field2 = field2;
	tag->locktag_field3 = field3;
	tag->locktag_field4 = (uint16) kind;
	tag->locktag_type = LOCKTAG_USERLOCK;
	tag->locktag_lockmethodid = USER_LOCKMETHOD;
}

/*
 * Lock a batch until the transaction ends.  Uses of its multi-use codes,
 * which do not lock their code's row, share it (ShareLock); a delete of
 * the batch takes it alone (ExclusiveLock), so that it waits for the uses
 * in progress and no use adds history to a code it deleted.
 */
void
codes_lock_batch(int32 batch_id, LOCKMODE mode)
{
	LOCKTAG		tag;

	set_tag(&tag, (uint32) batch_id, 0, CODES_LOCK_BATCH);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * The same for one code, by its key: uses of a multi-use code (and undos,
 * confirms and releases of its uses) share it after its batch's; code_del
 * takes it alone before it deletes the code's row, so that it waits only
 * for the uses of that code, and its batch's other codes go on being
 * used.  Codes whose 64-bit folds agree share the lock.
 */
void
codes_lock_code_uses(const pg_uuid_t *key, LOCKMODE mode)
{
	LOCKTAG		tag;
	uint64		fold = (uint64) codes_key_fold(key);

	set_tag(&tag, (uint32) (fold >> 32), (uint32) fold, CODES_LOCK_CODE);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * Take the lock on making stripe i of a code through SQL, held to the end
 * of the transaction: false if another transaction holds it and wait is
 * false.  That one is making the stripe, and an INSERT of it would wait
 * for its whole transaction (ON CONFLICT must know whether it commits);
 * two that each waited so for the other's stripe would deadlock.  So a
 * use passes such a stripe by, and waits for its maker (wait) only where
 * it may wait at all.
 */
bool
codes_lock_stripe_make(const pg_uuid_t *key, int stripe, bool wait)
{
	LOCKTAG		tag;
	uint64		fold = (uint64) codes_key_fold(key);

	set_tag(&tag, (uint32) (fold >> 32), (uint32) fold + (uint32) stripe,
			CODES_LOCK_STRIPE_MAKE);
	return LockAcquire(&tag, ExclusiveLock, false, !wait) !=
		LOCKACQUIRE_NOT_AVAIL;
}

/*
 * Take, and release, a short lock on a code (kind: what for), for as long
 * as a transaction looks whether a row exists and adds it.  Codes whose
 * 64-bit folds agree share the lock, which only makes them take turns.
 */
void
codes_lock_code(CodesLockKind kind, const pg_uuid_t *key)
{
	LOCKTAG		tag;
	uint64		fold = (uint64) codes_key_fold(key);

	set_tag(&tag, (uint32) (fold >> 32), (uint32) fold, kind);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

void
codes_unlock_code(CodesLockKind kind, const pg_uuid_t *key)
{
	LOCKTAG		tag;
	uint64		fold = (uint64) codes_key_fold(key);

	set_tag(&tag, (uint32) (fold >> 32), (uint32) fold, kind);
	LockRelease(&tag, ExclusiveLock, false);
}

/*
 * The same for a redeemer (NULL: uses without one) of a code or a batch
 * ("of": the code's fold, or the batch id): while one transaction counts
 * the redeemer's standing uses and records one more, another of the same
 * redeemer waits.  Redeemers whose hashes agree share the lock.
 */
static void
redeemer_tag(LOCKTAG *tag, CodesLockKind kind, uint32 of, text *redeemer)
{
	uint32		hash = 0;

	if (redeemer != NULL)
		hash = hash_bytes((const unsigned char *) VARDATA_ANY(redeemer),
						  VARSIZE_ANY_EXHDR(redeemer));
	set_tag(tag, of, hash, kind);
}

void
codes_lock_redeemer(CodesLockKind kind, uint32 of, text *redeemer)
{
	LOCKTAG		tag;

	redeemer_tag(&tag, kind, of, redeemer);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

void
codes_unlock_redeemer(CodesLockKind kind, uint32 of, text *redeemer)
{
	LOCKTAG		tag;

	redeemer_tag(&tag, kind, of, redeemer);
	LockRelease(&tag, ExclusiveLock, false);
}

/*
 * How much history and how many stripes the batches $1 have, and their
 * uses, as a snapshot sees them: what lock_batches compares.
 */
static const char *const traces_sql =
"SELECT (SELECT pg_catalog.count(*) FROM codes.redemption_log AS l "
"        WHERE l.batch OPERATOR(pg_catalog.=) ANY ($1)), "
"       (SELECT pg_catalog.count(l.undone_at) FROM codes.redemption_log AS l "
"        WHERE l.batch OPERATOR(pg_catalog.=) ANY ($1)), "
"       (SELECT pg_catalog.count(*)::pg_catalog.int8 OPERATOR(pg_catalog.+) "
"               COALESCE(pg_catalog.sum(s.uses), 0) FROM codes.use_stripes AS s "
"        WHERE s.batch OPERATOR(pg_catalog.=) ANY ($1))";

/*
 * The one row a saved plan of one parameter (arg) reads with snapshot, its
 * columns as text joined by '/'.
 */
static char *
traces(SPIPlanPtr plan, Datum arg, Snapshot snapshot)
{
	StringInfoData out;
	int			i;

	if (SPI_execute_snapshot(plan, &arg, NULL, snapshot, InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the uses of batches");
	initStringInfo(&out);
	for (i = 1; i <= SPI_tuptable->tupdesc->natts; i++)
		appendStringInfo(&out, "%s/", SPI_getvalue(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, i));
	return out.data;
}

/*
 * After a change of batches waited for the uses in progress, at
 * REPEATABLE READ or SERIALIZABLE: a serialization failure if what sql
 * reads of them (one row; its one parameter arg, of type argtype) differs
 * between the transaction's snapshot and the latest, that is, if a use,
 * undo or hold committed after the snapshot, which the change would
 * otherwise not see.
 */
void
codes_fail_if_traces_changed(const char *sql, Oid argtype, Datum arg)
{
	SPIPlanPtr	plan;
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	plan = SPI_prepare(sql, 1, &argtype);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (strcmp(traces(plan, arg, GetTransactionSnapshot()),
			   traces(plan, arg, GetLatestSnapshot())) != 0)
		codes_serialization_failure("update");
	SPI_finish();
}

/*
 * lock_batches(batch_ids integer[])
 *
 * Take every one of these batches' locks alone, in the order given (callers
 * lock the batch rows first, in one statement), for drop_batches: the uses
 * of their multi-use codes in progress are waited for.  At REPEATABLE READ
 * or SERIALIZABLE, a use that committed after the transaction's snapshot
 * left history the caller could not see, nor so delete: as for a DELETE
 * of a row changed meanwhile, a serialization failure.
 */
Datum
lock_batches(PG_FUNCTION_ARGS)
{
	ArrayType  *ids = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *values;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(ids, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &values, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			codes_lock_batch(DatumGetInt32(values[i]), ExclusiveLock);

	if (IsolationUsesXactSnapshot() && n > 0)
		codes_fail_if_traces_changed(traces_sql, INT4ARRAYOID,
									 PointerGetDatum(ids));
	PG_RETURN_VOID();
}

/*
 * How many locks the SQL path takes, at most, on the redeemers of one code
 * or of one batch.
 */
#define REDEEMER_BUCKETS 64

/*
 * Lock a redeemer (NULL: uses without one) of a code or a batch ("of", as
 * for codes_lock_redeemer) until the transaction ends, as the SQL path of
 * history.c does: one of REDEEMER_BUCKETS locks of that code or batch,
 * which the redeemer's hash chooses.  So a transaction that records uses
 * of any number of redeemers holds at most that many locks per code or
 * batch (one per redeemer would run the shared lock table out of memory);
 * redeemers of one bucket only take turns.
 */
void
codes_lock_redeemer_bucket(CodesLockKind kind, uint32 of, text *redeemer)
{
	LOCKTAG		tag;

	redeemer_tag(&tag, kind, of, redeemer);
	tag.locktag_field3 %= REDEEMER_BUCKETS;
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

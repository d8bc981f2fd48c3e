/*-------------------------------------------------------------------------
 *
 * stripes.c
 *	  The uses of a multi-use code with a total cap, kept in up to 64 rows
 *	  of codes.use_stripes ("stripes") instead of the code's own row, so
 *	  that the customers of one promo code do not queue behind each other.
 *
 * Stripe i of a code may hold its share of the code's cap, the uses its
 * batch allows less those its row counted before it had stripes (cap =
 * max_uses - codes.uses): the cap split 64 ways, the first (cap mod 64)
 * stripes one more.  A use takes a stripe that is below its share and that
 * no other transaction holds, and adds one use to it under its row lock;
 * a stripe that does not exist yet is made with that use.  So the uses of
 * all stripes never exceed the cap, at any isolation level: each stripe is
 * changed only by the transaction that holds its row lock, from its
 * newest version.  When every stripe with room is held by others, a use
 * waits for one, as a use of a single-use code waits for its row: the
 * loser of the last use gets none.  An undo takes one use off any stripe
 * (which may go below zero): a use given back.  Raising max_uses raises
 * every share at once.  The code's standing uses are its row's plus its
 * stripes'.
 *
 * At REPEATABLE READ and SERIALIZABLE a stripe changed since the
 * transaction's snapshot is passed by, as SKIP LOCKED passes a held row;
 * when nothing else is left, that is a serialization failure, as an UPDATE
 * of it would be.
 *
 * Directly (rows.c) where the tables run no user's code, else through
 * SQL, which fires what the user attached.  No message contains a code.
 *
 * Calls rows.c, statements.c, tables.c and locks.c; called by store.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "common/pg_prng.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"

#include "locks.h"
#include "rows.h"
#include "statements.h"
#include "stripes.h"
#include "tables.h"

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

/* A direct pass over one code's stripes. */
typedef struct StripePass
{
	Relation	rel;
	Relation	index;
	TupleTableSlot *slot;
	const pg_uuid_t *key;
	int32		batch_id;
	Snapshot	snapshot;
	TransactionId maker;		/* a transaction making a stripe, or none */
} StripePass;

/* Uses of one stripe, locked, skipping it if another holds it. */
static const char *const lock_skip_sql =
"SELECT s.uses FROM codes.use_stripes AS s "
"WHERE s.code" EQ "$1 AND s.stripe" EQ "$4 FOR NO KEY UPDATE SKIP LOCKED";

/* The same, waiting for its holder. */
static const char *const lock_wait_sql =
"SELECT s.uses FROM codes.use_stripes AS s "
"WHERE s.code" EQ "$1 AND s.stripe" EQ "$4 FOR NO KEY UPDATE";

static const char *const exists_sql =
"SELECT FROM codes.use_stripes AS s WHERE s.code" EQ "$1 AND s.stripe" EQ "$4";

/* Change a locked stripe's uses by $5. */
static const char *const change_sql =
"UPDATE codes.use_stripes AS s SET uses = s.uses" PLUS "$5 "
"WHERE s.code" EQ "$1 AND s.stripe" EQ "$4";

/* Make a stripe with $5 uses, unless another transaction has made it. */
static const char *const make_sql =
"INSERT INTO codes.use_stripes (code, batch, uses, stripe) "
"VALUES ($1, $3, $5, $4) ON CONFLICT DO NOTHING";

static const char *const all_sql =
"SELECT s.stripe, s.uses FROM codes.use_stripes AS s WHERE s.code" EQ "$1";

static const char *const sum_sql =
"SELECT pg_catalog.sum(s.uses) FROM codes.use_stripes AS s WHERE s.code" EQ "$1";

static const char *const delete_sql =
"DELETE FROM codes.use_stripes AS s WHERE s.code" EQ "$1";

/*
 * Stripe i's share of a cap: the cap split CODES_STRIPES ways, rounded
 * down, the first (cap mod CODES_STRIPES) stripes one more; so the shares
 * add up to the cap, a negative one too.
 */
static int32
share_of(int64 cap, int stripe)
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
static int
stripes_with_room(int64 cap)
{
	return cap <= 0 ? 0 : (int) Min(cap, CODES_STRIPES);
}

/*
 * A serialization failure: a stripe this transaction needs changed since
 * its snapshot.
 */
static void
serialization_failure(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to concurrent update")));
}

/* ---------------------------------------------------------------------
 * The direct way
 * ---------------------------------------------------------------------
 */

/*
 * Open a direct pass over the stripes of the code with this key.
 */
static void
open_pass(StripePass *pass, const CodesTables *known, const pg_uuid_t *key,
		  int32 batch_id)
{
	pass->rel = table_open(known->stripes, NoLock);
	pass->index = index_open(known->stripes_index, RowExclusiveLock);
	pass->slot = table_slot_create(pass->rel, NULL);
	pass->key = key;
	pass->batch_id = batch_id;
	pass->snapshot = NULL;
}

/*
 * Take a snapshot for a round of the pass, as a statement of its own
 * would (it sees this transaction's earlier work): a new one at READ
 * COMMITTED, the transaction's at REPEATABLE READ or SERIALIZABLE.
 */
static void
begin_round(StripePass *pass)
{
	CommandCounterIncrement();
	pass->snapshot = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(pass->snapshot);
	pass->maker = InvalidTransactionId;
}

/*
 * End a round begun by begin_round.
 */
static void
end_round(StripePass *pass)
{
	PopActiveSnapshot();
	UnregisterSnapshot(pass->snapshot);
	pass->snapshot = NULL;
}

/*
 * Close a pass opened by open_pass.
 */
static void
close_pass(StripePass *pass)
{
	ExecDropSingleTupleTableSlot(pass->slot);
	index_close(pass->index, NoLock);
	table_close(pass->rel, NoLock);
}

/*
 * Fetch stripe i, as snapshot sees it, into the pass's slot; false if
 * there is none.
 */
static bool
fetch_stripe(StripePass *pass, Snapshot snapshot, int stripe)
{
	ScanKeyData keys[2];
	IndexScanDesc scan;
	bool		found;

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_UUID_EQ,
				UUIDPGetDatum(pass->key));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum((int16) stripe));
	scan = codes_index_scan(pass->rel, pass->index, snapshot, 2, keys);
	found = index_getnext_slot(scan, ForwardScanDirection, pass->slot);
	index_endscan(scan);
	return found;
}

/*
 * The uses of the stripe in the pass's slot.
 */
static int32
slot_uses(StripePass *pass)
{
	bool		isnull;

	return DatumGetInt32(slot_getattr(pass->slot, CODES_STRIPE_COL_USES, &isnull));
}

/*
 * Make stripe i with these uses, unless it exists: a short lock on the
 * code's stripes makes two transactions making one take turns, and the
 * look under it with a dirty snapshot sees a stripe another transaction
 * is making (then pass->maker says which).  STRIPE_DONE if made; else
 * STRIPE_AGAIN (made meanwhile, or being made: look again), or at
 * REPEATABLE READ or SERIALIZABLE STRIPE_STALE for one made after the
 * transaction's snapshot.
 */
static StripeTry
make_stripe(StripePass *pass, int stripe, int32 uses)
{
	SnapshotData dirty;
	CodesWriter w;
	TupleTableSlot *row;
	StripeTry	result = STRIPE_DONE;

	codes_lock_code(CODES_LOCK_STRIPES, pass->key);
	InitDirtySnapshot(dirty);
	if (fetch_stripe(pass, &dirty, stripe))
	{
		if (TransactionIdIsValid(dirty.xmin))
		{
			pass->maker = dirty.xmin;
			result = STRIPE_AGAIN;
		}
		else
			result = IsolationUsesXactSnapshot() ? STRIPE_STALE : STRIPE_AGAIN;
	}
	else
	{
		codes_writer_open(&w, pass->rel, pass->snapshot, NULL);
		row = codes_writer_new_row(&w, NULL);
		row->tts_values[CODES_STRIPE_COL_CODE - 1] = UUIDPGetDatum(pass->key);
		row->tts_values[CODES_STRIPE_COL_BATCH - 1] = Int32GetDatum(pass->batch_id);
		row->tts_values[CODES_STRIPE_COL_USES - 1] = Int32GetDatum(uses);
		row->tts_values[CODES_STRIPE_COL_STRIPE - 1] = Int16GetDatum((int16) stripe);
		memset(row->tts_isnull, false, 4 * sizeof(bool));
		codes_writer_insert(&w);
		codes_writer_close(&w);
	}
	codes_unlock_code(CODES_LOCK_STRIPES, pass->key);
	return result;
}

/*
 * Set the uses of the stripe in the pass's slot, found with the round's
 * snapshot, as an UPDATE of it would (one WAL record): TM_Ok, or why not
 * (codes_writer_try_update).  wait: wait for a transaction that holds it.
 */
static TM_Result
write_uses(StripePass *pass, int32 uses, bool wait, TM_FailureData *tmfd)
{
	static const AttrNumber changed[] = {CODES_STRIPE_COL_USES};
	CodesWriter w;
	TupleTableSlot *row;
	TM_Result	res;

	codes_writer_open(&w, pass->rel, pass->snapshot, codes_columns(1, changed));
	row = codes_writer_new_row(&w, pass->slot);
	row->tts_values[CODES_STRIPE_COL_USES - 1] = Int32GetDatum(uses);
	res = codes_writer_try_update(&w, pass->slot, wait, tmfd);
	codes_writer_close(&w);
	return res;
}

/*
 * The transaction changing stripe i (an undo giving a use back to it,
 * say), or InvalidTransactionId.  A full stripe that one is changing may
 * have room once it commits: a use waits for it, as an UPDATE of a
 * single-use code's row waits for an undo of it.  A look with a dirty
 * snapshot, which sees changes in progress; the pass's slot is left
 * holding what it found.
 */
static TransactionId
changer_of(StripePass *pass, int stripe)
{
	SnapshotData dirty;

	InitDirtySnapshot(dirty);
	if (!fetch_stripe(pass, &dirty, stripe))
		return InvalidTransactionId;
	return dirty.xmax;
}

/*
 * Try to change stripe i's uses by delta: +1 (take a use, if the stripe
 * is below share; a missing stripe is made with it, if share allows) or
 * -1 (give one back).  wait: LockWaitSkip to pass by a stripe another
 * transaction holds, LockWaitBlock to wait for it.
 */
static StripeTry
try_stripe(StripePass *pass, int stripe, int32 share, int32 delta,
		   LockWaitPolicy wait)
{
	TM_FailureData tmfd;

	if (!fetch_stripe(pass, pass->snapshot, stripe))
	{
		if (delta > 0 && share < 1)
			return STRIPE_FULL;
		return make_stripe(pass, stripe, delta);
	}
	if (delta > 0 && slot_uses(pass) >= share)
	{
		TransactionId changer = changer_of(pass, stripe);

		if (!TransactionIdIsValid(changer))
			return STRIPE_FULL;
		/* held by a change that may give it room: wait, then look again */
		if (wait == LockWaitBlock)
		{
			XactLockTableWait(changer, NULL, NULL, XLTW_None);
			/* a change the snapshot cannot see, as an UPDATE would find it */
			if (IsolationUsesXactSnapshot() && TransactionIdDidCommit(changer))
				return STRIPE_STALE;
		}
		return STRIPE_BUSY;
	}

	switch (write_uses(pass, slot_uses(pass) + delta, wait == LockWaitBlock, &tmfd))
	{
		case TM_Ok:
			return STRIPE_DONE;
		case TM_BeingModified:
			return STRIPE_BUSY;
		case TM_Updated:
			/* changed by a transaction that committed after the snapshot */
			return IsolationUsesXactSnapshot() ? STRIPE_STALE : STRIPE_AGAIN;
		case TM_Deleted:
			/* its code went meanwhile */
			return IsolationUsesXactSnapshot() ? STRIPE_STALE : STRIPE_FULL;
		default:
			elog(ERROR, "unexpected table_tuple_update result on a stripe");
	}
	return STRIPE_FULL;			/* keep compiler quiet */
}

/*
 * The code's stripes, as the round's snapshot sees them, numbered from on
 * and, with room, only those with room under cap (an undo gave a use back
 * to them), into out (CODES_STRIPES entries); their number.
 */
static int
list_stripes(StripePass *pass, int64 cap, int from, bool room, int *out)
{
	ScanKeyData key;
	IndexScanDesc scan;
	int			found = 0;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ,
				UUIDPGetDatum(pass->key));
	scan = codes_index_scan(pass->rel, pass->index, pass->snapshot, 1, &key);
	while (index_getnext_slot(scan, ForwardScanDirection, pass->slot))
	{
		bool		isnull;
		int			stripe = DatumGetInt16(slot_getattr(pass->slot,
														CODES_STRIPE_COL_STRIPE,
														&isnull));

		if (stripe >= from && stripe < CODES_STRIPES && found < CODES_STRIPES &&
			(!room || slot_uses(pass) < share_of(cap, stripe)))
			out[found++] = stripe;
	}
	index_endscan(scan);
	return found;
}

/*
 * One round of changing some stripe by delta (see try_stripe), over the
 * stripes in order (norder of them, from a random one on): first passing
 * by those others hold, then waiting for the first of them.  Returns the
 * stripe changed, or -1; *busy tells whether it waited for a stripe (or
 * a transaction making one) without changing it, *stale whether it passed
 * by one changed since the snapshot.
 */
static int
round_of_tries(StripePass *pass, const int *order, int norder, int64 cap,
			   int32 delta, bool *busy, bool *stale)
{
	int			start = norder > 1 ?
		(int) pg_prng_uint64_range(&pg_global_prng_state, 0, norder - 1) : 0;
	int			held = -1;
	bool		again = false;
	int			k;

	for (k = 0; k < norder; k++)
	{
		int			stripe = order[(start + k) % norder];

		switch (try_stripe(pass, stripe, share_of(cap, stripe), delta, LockWaitSkip))
		{
			case STRIPE_DONE:
				return stripe;
			case STRIPE_BUSY:
				if (held < 0)
					held = stripe;
				break;
			case STRIPE_AGAIN:
				again = true;
				break;
			case STRIPE_STALE:
				*stale = true;
				break;
			case STRIPE_FULL:
				break;
		}
	}

	if (held >= 0)
	{
		*busy = true;
		switch (try_stripe(pass, held, share_of(cap, held), delta, LockWaitBlock))
		{
			case STRIPE_DONE:
				return held;
			case STRIPE_STALE:
				*stale = true;
				break;
			default:
				break;
		}
	}
	else if (again)
	{
		/* wait for the maker of a stripe, if any, then look again */
		*busy = true;
		if (TransactionIdIsValid(pass->maker))
			XactLockTableWait(pass->maker, NULL, NULL, XLTW_None);
	}
	return -1;
}

/*
 * Change some stripe of the code by delta (+1: take a use; -1: give one
 * back) directly; the stripe changed, or -1 when no stripe has room (the
 * code is used up).
 */
static int
change_directly(const CodesTables *known, const pg_uuid_t *key,
				int32 batch_id, int64 cap, int32 delta)
{
	StripePass	pass;
	int			order[CODES_STRIPES];
	int			norder;
	int			changed = -1;
	int			i;

	open_pass(&pass, known, key, batch_id);
	for (;;)
	{
		bool		busy = false;
		bool		stale = false;

		begin_round(&pass);
		if (delta > 0)
		{
			/* a use tries the stripes with a share first */
			norder = stripes_with_room(cap);
			for (i = 0; i < norder; i++)
				order[i] = i;
			changed = round_of_tries(&pass, order, norder, cap, delta, &busy, &stale);
			if (changed < 0 && !busy)
			{
				/* then those past them with room an undo gave back */
				norder = list_stripes(&pass, cap, norder, true, order);
				changed = round_of_tries(&pass, order, norder, cap, delta,
										 &busy, &stale);
			}
		}
		else
		{
			/* an undo takes a use off a stripe there is, or makes one */
			norder = list_stripes(&pass, cap, 0, false, order);
			if (norder == 0)
			{
				norder = CODES_STRIPES;
				for (i = 0; i < norder; i++)
					order[i] = i;
			}
			changed = round_of_tries(&pass, order, norder, cap, delta, &busy, &stale);
		}
		end_round(&pass);

		if (changed >= 0)
			break;
		if (busy)
			continue;			/* waited: look again */
		if (stale)
			serialization_failure();
		break;
	}
	close_pass(&pass);
	return changed;
}

/* ---------------------------------------------------------------------
 * Through SQL
 * ---------------------------------------------------------------------
 */

/*
 * A BEFORE trigger on codes.use_stripes skipped the write of a use, which
 * would leave the use uncounted and the code's cap inexact.
 */
static void
skipped_write(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("a trigger on codes.use_stripes skipped the count of a use"),
			 errdetail("A multi-use code's uses are counted in codes.use_stripes; a BEFORE trigger there must not skip its rows.")));
}

/*
 * Try stripe i as try_stripe does, with SQL: SELECT ... FOR NO KEY UPDATE
 * (SKIP LOCKED unless wait), then UPDATE; a missing stripe is made by
 * INSERT ... ON CONFLICT DO NOTHING.  At REPEATABLE READ or SERIALIZABLE
 * the executor raises the serialization failure of a stripe changed
 * since the snapshot.
 */
static StripeTry
try_by_sql(CodesStmtArgs *args, int stripe, int32 share, int32 delta, bool wait)
{
	static SPIPlanPtr skip_plan = NULL;
	static SPIPlanPtr wait_plan = NULL;
	static SPIPlanPtr exists_plan = NULL;
	static SPIPlanPtr change_plan = NULL;
	static SPIPlanPtr make_plan = NULL;

	codes_set_number(args, stripe);
	codes_set_big(args, delta);
	if (wait)
		codes_run_stmt(&wait_plan, lock_wait_sql, args, false, SPI_OK_SELECT);
	else
		codes_run_stmt(&skip_plan, lock_skip_sql, args, false, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		if (delta > 0 && DatumGetInt32(codes_result(1)) >= share)
			return STRIPE_FULL;
		codes_run_stmt(&change_plan, change_sql, args, false, SPI_OK_UPDATE);
		if (SPI_processed != 1)
			skipped_write();
		return STRIPE_DONE;
	}
	if (wait)
		return STRIPE_FULL;		/* gone meanwhile */

	codes_run_stmt(&exists_plan, exists_sql, args, true, SPI_OK_SELECT);
	if (SPI_processed == 1)
		return STRIPE_BUSY;
	if (delta > 0 && share < 1)
		return STRIPE_FULL;
	codes_run_stmt(&make_plan, make_sql, args, false, SPI_OK_INSERT);
	if (SPI_processed == 1)
		return STRIPE_DONE;
	/* not made: another transaction made it, or a trigger skipped it */
	codes_run_stmt(&exists_plan, exists_sql, args, false, SPI_OK_SELECT);
	if (SPI_processed == 0)
		skipped_write();
	return STRIPE_BUSY;
}

/*
 * The code's stripes, as a new statement sees them, into out
 * (CODES_STRIPES entries, with their uses into uses); their number.
 */
static int
list_by_sql(CodesStmtArgs *args, int *out, int32 *uses)
{
	static SPIPlanPtr plan = NULL;
	uint64		i;
	int			n = 0;

	codes_run_stmt(&plan, all_sql, args, false, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed && n < CODES_STRIPES; i++)
	{
		bool		isnull;

		out[n] = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1, &isnull));
		uses[n] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 2, &isnull));
		n++;
	}
	return n;
}

/*
 * change_directly, through SQL: a use tries the stripes with a share,
 * then those past them with room; an undo the stripes there are, then
 * any.  Then it waits for the first stripe it found held, and looks again.
 */
static int
change_by_sql(CodesStmtArgs *args, int64 cap, int32 delta)
{
	int			n = stripes_with_room(cap);

	for (;;)
	{
		int			order[CODES_STRIPES];
		int32		uses[CODES_STRIPES];
		int			norder = 0;
		int			held = -1;
		int			pass;

		for (pass = 0; pass < 2 && held < 0; pass++)
		{
			int			start;
			int			k;
			int			i;

			if ((delta > 0) == (pass == 0))
			{
				/* 0 .. n-1 for a use; every stripe for an undo */
				norder = delta > 0 ? n : CODES_STRIPES;
				for (i = 0; i < norder; i++)
					order[i] = i;
			}
			else
			{
				/* the stripes there are: past n with room, for a use */
				int			found = list_by_sql(args, order, uses);

				norder = 0;
				for (i = 0; i < found; i++)
					if (delta < 0 || (order[i] >= n && uses[i] < share_of(cap, order[i])))
						order[norder++] = order[i];
			}
			start = norder > 1 ?
				(int) pg_prng_uint64_range(&pg_global_prng_state, 0, norder - 1) : 0;
			for (k = 0; k < norder; k++)
			{
				int			stripe = order[(start + k) % norder];

				switch (try_by_sql(args, stripe, share_of(cap, stripe), delta, false))
				{
					case STRIPE_DONE:
						return stripe;
					case STRIPE_BUSY:
					case STRIPE_AGAIN:
						if (held < 0)
							held = stripe;
						break;
					default:
						break;
				}
			}
		}
		if (held < 0)
			return -1;
		if (try_by_sql(args, held, share_of(cap, held), delta, true) == STRIPE_DONE)
			return held;
	}
}

/* ---------------------------------------------------------------------
 * What store.c calls
 * ---------------------------------------------------------------------
 */

/*
 * Take one of the uses left of the code in args ($1, its batch $3), which
 * its batch caps at batch->max_uses and whose row counts base uses.
 * Returns the stripe taken, or -1 when the code is used up.
 */
int
codes_stripes_take(CodesStmtArgs *args, const CodesBatchInfo *batch, int32 base)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);
	int64		cap = (int64) batch->max_uses - base;

	if (!known->direct_multi)
		return change_by_sql(args, cap, 1);
	return change_directly(known, DatumGetUUIDP(args->values[0]), batch->id,
						   cap, 1);
}

/*
 * Give back the use this transaction has just taken from the stripe
 * (codes_stripes_take), which it holds: the use was refused after all.
 */
void
codes_stripes_put_back(CodesStmtArgs *args, int stripe)
{
	static SPIPlanPtr plan = NULL;

	codes_set_number(args, stripe);
	codes_set_big(args, -1);
	codes_run_stmt(&plan, change_sql, args, false, SPI_OK_UPDATE);
	if (SPI_processed != 1)
		skipped_write();
}

/*
 * Give one use of the code back (an undo): one use less on some stripe.
 */
void
codes_stripes_give(CodesStmtArgs *args, const CodesBatchInfo *batch)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);
	int			changed;

	if (!known->direct_multi)
		changed = change_by_sql(args, 0, -1);
	else
		changed = change_directly(known, DatumGetUUIDP(args->values[0]),
								  batch->id, 0, -1);
	if (changed < 0)
		elog(ERROR, "no stripe of a code could take back a use");
}

/*
 * The uses on the code's stripes, as the statement's snapshot sees them,
 * or (fresh) as a new statement would, which sees this one's own changes.
 */
int64
codes_stripes_uses(CodesStmtArgs *args, bool fresh)
{
	static SPIPlanPtr plan = NULL;

	codes_run_stmt(&plan, sum_sql, args, !fresh, SPI_OK_SELECT);
	return codes_result_null(1) ? 0 : DatumGetInt64(codes_result(1));
}

/*
 * Delete the code's stripes (code_del), as its row has gone.
 */
void
codes_stripes_delete(CodesStmtArgs *args)
{
	static SPIPlanPtr plan = NULL;

	codes_run_stmt(&plan, delete_sql, args, false, SPI_OK_DELETE);
}

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
 * loser of the last use gets none; but a transaction that holds a stripe
 * of the code already waits only for younger ones (stripes_own.c), so that
 * two cannot wait for each other.  An undo takes one use off any stripe
 * (which may go below zero): a use given back.  Raising max_uses raises
 * every share at once.  The code's standing uses are its row's plus its
 * stripes'.
 *
 * At REPEATABLE READ and SERIALIZABLE a stripe changed since the
 * transaction's snapshot is passed by, as SKIP LOCKED passes a held row;
 * when nothing else is left, that is a serialization failure, as an UPDATE
 * of it would be.
 *
 * Directly (rows.c, here) where the tables run no user's code, else
 * through SQL (stripes_sql.c), which fires what the user attached.  No
 * message contains a code.
 *
 * Calls rows.c, stripes_sql.c, stripes_own.c, tables.c and locks.c;
 * called by store.c.
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
#include "stripes_own.h"
#include "tables.h"

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
	ItemPointerData written;	/* the version last made or written */
} StripePass;

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

/* This transaction's entry for the pass's code (stripes_own.c), or NULL. */
static CodesOwnStripe *
own_stripe(StripePass *pass)
{
	return codes_own_stripe(pass->key);
}

/*
 * Remember that this transaction changed stripe i of the pass's code, at
 * the version it just wrote (codes_own_remember).
 */
static void
own_remember(StripePass *pass, int stripe, int32 delta)
{
	codes_own_remember(pass->key, stripe, delta, &pass->written);
}

/* May a use of the pass's code wait for xid (codes_own_may_wait)? */
static bool
may_wait(StripePass *pass, TransactionId xid)
{
	return codes_own_may_wait(pass->key, xid);
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
		pass->written = w.newslot->tts_tid;
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
	if (res == TM_Ok)
		pass->written = w.newslot->tts_tid;
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
			(!room || slot_uses(pass) < codes_stripe_share(cap, stripe)))
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

		switch (try_stripe(pass, stripe, codes_stripe_share(cap, stripe), delta, LockWaitSkip))
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

	if (held >= 0 && delta > 0 && !may_wait(pass, changer_of(pass, held)))
		held = -1;				/* count it as used */
	else if (held >= 0)
	{
		*busy = true;
		switch (try_stripe(pass, held, codes_stripe_share(cap, held), delta, LockWaitBlock))
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
	if (held < 0 && again && (delta < 0 || may_wait(pass, pass->maker)))
	{
		/* wait for the maker of a stripe, if any, then look again */
		*busy = true;
		if (TransactionIdIsValid(pass->maker))
			XactLockTableWait(pass->maker, NULL, NULL, XLTW_None);
	}
	return -1;
}

/*
 * Take a use from the stripe of the pass's code that this transaction
 * took one from last, if it still has room under cap: found by its newest
 * version's TID, or, if that is not known or not visible (a
 * subtransaction that wrote it rolled back), through the index.  The
 * stripe, or -1: none with room (the entry stays: this transaction still
 * holds that stripe, which may_wait must know), or one gone or held by
 * another transaction (then the entry is forgotten).
 */
static int
take_own(StripePass *pass, int64 cap)
{
	CodesOwnStripe *own = own_stripe(pass);
	TM_FailureData tmfd;
	int			taken = -1;
	bool		found;
	bool		isnull;

	if (own == NULL)
		return -1;
	begin_round(pass);
	found = ItemPointerIsValid(&own->tid) &&
		table_tuple_fetch_row_version(pass->rel, &own->tid, pass->snapshot,
									  pass->slot) &&
		codes_holds_key(pass->slot, CODES_STRIPE_COL_CODE, pass->key) &&
		DatumGetInt16(slot_getattr(pass->slot, CODES_STRIPE_COL_STRIPE,
								   &isnull)) == own->stripe;
	if (!found)
		found = fetch_stripe(pass, pass->snapshot, own->stripe);
	if (!found)
		codes_own_forget(own);
	else if (slot_uses(pass) < codes_stripe_share(cap, own->stripe))
	{
		if (write_uses(pass, slot_uses(pass) + 1, false, &tmfd) == TM_Ok)
		{
			taken = own->stripe;
			own->tid = pass->written;
		}
		else
			codes_own_forget(own);
	}
	end_round(pass);
	return taken;
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
	if (delta > 0 && (changed = take_own(&pass, cap)) >= 0)
	{
		close_pass(&pass);
		return changed;
	}
	for (;;)
	{
		bool		busy = false;
		bool		stale = false;

		begin_round(&pass);
		if (delta > 0)
		{
			/* a use tries the stripes with a share first */
			norder = codes_stripes_with_room(cap);
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
		{
			own_remember(&pass, changed, delta);
			break;
		}
		if (busy)
			continue;			/* waited: look again */
		if (stale)
			codes_serialization_failure("update");
		break;
	}
	close_pass(&pass);
	return changed;
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

	const pg_uuid_t *key = DatumGetUUIDP(args->values[0]);
	int			stripe;

	if (known->direct_multi)
		return change_directly(known, key, batch->id, cap, 1);

	/*
	 * Through SQL the holder of a stripe is not known: a transaction that
	 * holds one of the code's stripes already waits for none (see
	 * may_wait).
	 */
	stripe = codes_stripes_change_by_sql(args, cap, 1, !codes_own_holds(key));
	if (stripe >= 0)
		codes_own_remember(key, stripe, 1, NULL);
	return stripe;
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
		changed = codes_stripes_change_by_sql(args, 0, -1, true);
	else
		changed = change_directly(known, DatumGetUUIDP(args->values[0]),
								  batch->id, 0, -1);
	if (changed < 0)
		elog(ERROR, "no stripe of a code could take back a use");
}


/*-------------------------------------------------------------------------
 *
 * stripes_own.c
 *	  The stripes this transaction took uses from last, one per code, and
 *	  whom a use that holds one may wait for.
 *
 * A use takes from the stripe it holds first: a transaction of many uses
 * of one code then holds few of its stripes, and leaves the others to
 * other customers; and it finds that stripe by its newest version's TID
 * rather than through the index, whose walk through the versions this
 * transaction made (which cannot be pruned before it ends) would grow
 * with every use.  The entries last as long as the transaction.
 *
 * Calls nothing of codes; called by stripes.c, and by _PG_init
 * (codes_init_stripes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/subtrans.h"
#include "access/transam.h"
#include "access/xact.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "stripes_own.h"

/*
 * This transaction's own stripes, one entry per code, in
 * TopTransactionContext (NULL until its first use of a stripe, and again
 * once it ends).  An entry is never dropped before the transaction ends:
 * whether a transaction holds a stripe of a code decides whom it may wait
 * for (codes_own_may_wait), and forgetting it could let two transactions
 * wait for each other.
 */
static HTAB *own_stripes = NULL;

/*
 * Transaction callback: the table went with TopTransactionContext.
 */
static void
forget_own_stripes(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			own_stripes = NULL;
			break;
		default:
			break;
	}
}

/*
 * Subtransaction callback: when a subtransaction rolls back, the stripe
 * versions it wrote are gone (and a VACUUM may truncate their pages once
 * its locks are released), so the TIDs this transaction remembered may
 * point nowhere.  It keeps which stripe of each code it took from, and
 * the next use finds that stripe through the index.
 */
static void
forget_own_tids(SubXactEvent event, SubTransactionId mySubid,
				SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS status;
	CodesOwnStripe *own;

	if (event != SUBXACT_EVENT_ABORT_SUB || own_stripes == NULL)
		return;
	hash_seq_init(&status, own_stripes);
	while ((own = hash_seq_search(&status)) != NULL)
		ItemPointerSetInvalid(&own->tid);
}

/*
 * Register the callbacks; called from _PG_init.
 */
void
codes_init_stripes(void)
{
	RegisterXactCallback(forget_own_stripes, NULL);
	RegisterSubXactCallback(forget_own_tids, NULL);
}

/*
 * This transaction's entry for the code with this key, or NULL.
 */
static CodesOwnStripe *
own_entry(const pg_uuid_t *key)
{
	if (own_stripes == NULL)
		return NULL;
	return hash_search(own_stripes, key, HASH_FIND, NULL);
}

/*
 * The stripe of the code with this key that this transaction took a use
 * from last and may take from again, or NULL.
 */
CodesOwnStripe *
codes_own_stripe(const pg_uuid_t *key)
{
	CodesOwnStripe *own = own_entry(key);

	return (own != NULL && own->stripe >= 0) ? own : NULL;
}

/*
 * Does this transaction hold a stripe of the code with this key (it took a
 * use from one)?
 */
bool
codes_own_holds(const pg_uuid_t *key)
{
	return own_entry(key) != NULL;
}

/*
 * Stop taking from the entry's stripe first (full, gone, or held by
 * another); the transaction is still known to hold a stripe of the code.
 */
void
codes_own_forget(CodesOwnStripe *own)
{
	own->stripe = -1;
	ItemPointerSetInvalid(&own->tid);
}

/*
 * Remember that this transaction changed stripe i of the code with this
 * key, whose newest version is at tid (invalid: not known, through SQL):
 * for a use, as the stripe to take from first; for an undo, only if it is
 * that stripe (its newest version moved).
 */
void
codes_own_remember(const pg_uuid_t *key, int stripe, int32 delta,
				   ItemPointer tid)
{
	CodesOwnStripe *own = own_entry(key);
	bool		found;

	if (own == NULL)
	{
		if (delta < 0)
			return;
		if (own_stripes == NULL)
		{
			HASHCTL		ctl;

			ctl.keysize = sizeof(pg_uuid_t);
			ctl.entrysize = sizeof(CodesOwnStripe);
			ctl.hcxt = TopTransactionContext;
			own_stripes = hash_create("codes own stripes", 16, &ctl,
									  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		}
		own = hash_search(own_stripes, key, HASH_ENTER, &found);
	}
	else if (delta < 0 && own->stripe != stripe)
		return;
	own->stripe = stripe;
	if (tid)
		own->tid = *tid;
	else
		ItemPointerSetInvalid(&own->tid);
}

/*
 * May a use of the code with this key wait for xid, which holds (or
 * makes) one of its stripes?  A use of a transaction that already holds
 * one of the code's stripes waits only for a younger transaction than
 * itself (wait-die): two transactions each holding a stripe and waiting
 * for the other's would deadlock (near a code's cap, when every other
 * stripe is full), and waits that only ever go from older to younger
 * cannot close a circle.  The older waits, so a transaction that has
 * waited longest is served; the younger does not, and the stripes others
 * hold count as used for it.
 */
bool
codes_own_may_wait(const pg_uuid_t *key, TransactionId xid)
{
	if (!TransactionIdIsValid(xid) || own_entry(key) == NULL)
		return true;
	return TransactionIdPrecedes(GetTopTransactionId(),
								 SubTransGetTopmostTransaction(xid));
}

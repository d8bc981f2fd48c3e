/*-------------------------------------------------------------------------
 *
 * stripes_own.c
 *	  The stripes this transaction took uses from last, of up to
 *	  OWN_STRIPES codes, and whom a use that holds one may wait for.
 *
 * A use takes from the stripe it holds first: a transaction of many uses
 * of one code then holds few of its stripes, and leaves the others to
 * other customers; and it finds that stripe by its newest version's TID
 * rather than through the index, whose walk through the versions this
 * transaction made (which cannot be pruned before it ends) would grow
 * with every use.  An entry of another transaction is stale.
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

#include "stripes_own.h"

#define OWN_STRIPES 8

static CodesOwnStripe own_stripes[OWN_STRIPES];
static int	own_next = 0;

/*
 * Subtransaction callback: when a subtransaction rolls back, the stripe
 * versions it wrote are gone (and a VACUUM may truncate their pages once
 * its locks are released), so the TIDs this transaction remembered may
 * point nowhere.  It keeps which stripe of each code it took from, and
 * the next use finds that stripe through the index.
 */
static void
forget_own_stripes(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	int			i;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	for (i = 0; i < OWN_STRIPES; i++)
		ItemPointerSetInvalid(&own_stripes[i].tid);
}

/*
 * Register forget_own_stripes; called from _PG_init.
 */
void
codes_init_stripes(void)
{
	RegisterSubXactCallback(forget_own_stripes, NULL);
}

/*
 * This transaction's entry for the code with this key, or NULL.
 */
CodesOwnStripe *
codes_own_stripe(const pg_uuid_t *key)
{
	TransactionId xid = GetTopTransactionIdIfAny();
	int			i;

	if (!TransactionIdIsValid(xid))
		return NULL;
	for (i = 0; i < OWN_STRIPES; i++)
		if (own_stripes[i].xid == xid &&
			memcmp(own_stripes[i].key.data, key->data, UUID_LEN) == 0)
			return &own_stripes[i];
	return NULL;
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
	CodesOwnStripe *own = codes_own_stripe(key);

	if (own == NULL)
	{
		if (delta < 0)
			return;
		own = &own_stripes[own_next];
		own_next = (own_next + 1) % OWN_STRIPES;
		own->xid = GetTopTransactionId();
		own->key = *key;
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
	if (!TransactionIdIsValid(xid) || codes_own_stripe(key) == NULL)
		return true;
	return TransactionIdPrecedes(GetTopTransactionId(),
								 SubTransGetTopmostTransaction(xid));
}

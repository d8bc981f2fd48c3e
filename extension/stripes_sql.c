/*-------------------------------------------------------------------------
 *
 * stripes_sql.c
 *	  A code's stripes (see stripes.c) through SQL: where a table runs a
 *	  user's code (triggers, row security) or on Citus, a use or an undo
 *	  changes a stripe with SELECT ... FOR NO KEY UPDATE and UPDATE, which
 *	  fire what the user attached; and the statements both ways share:
 *	  a use given back at once, the sum of a code's stripes, their delete.
 *
 * No message contains a code.
 *
 * Calls statements.c and locks.c; called by stripes.c (the changes) and
 * store.c (the rest, through stripes.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "executor/spi.h"

#include "locks.h"
#include "statements.h"
#include "stripes_sql.h"

/*
 * Lock one stripe if it has fewer uses than $5, skipping it if another
 * transaction holds it.  A stripe without room is not locked (unless its
 * room went between the snapshot and the lock: then it stays locked, as
 * rows a locking clause did not return may).
 */
static const char *const lock_skip_sql =
"SELECT FROM codes.use_stripes AS s "
"WHERE s.code" EQ "$1 AND s.stripe" EQ "$4 AND s.uses" LT "$5 "
"FOR NO KEY UPDATE SKIP LOCKED";

/* The same, waiting for its holder. */
static const char *const lock_wait_sql =
"SELECT FROM codes.use_stripes AS s "
"WHERE s.code" EQ "$1 AND s.stripe" EQ "$4 AND s.uses" LT "$5 "
"FOR NO KEY UPDATE";

static const char *const uses_sql =
"SELECT s.uses FROM codes.use_stripes AS s WHERE s.code" EQ "$1 AND s.stripe" EQ "$4";

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
 * of it if it has room (SKIP LOCKED unless wait), then UPDATE; a missing
 * stripe is made by INSERT ... ON CONFLICT DO NOTHING, under a lock on making
 * it (codes_lock_stripe_make): one that another transaction holds makes the
 * stripe busy, so no INSERT waits for another's; a use that waits (wait)
 * waits for that lock, then tries the stripe again.  A stripe found full is
 * left unlocked: a use that held full stripes while it waited for another
 * could deadlock with a use doing the same.  At REPEATABLE READ or
 * SERIALIZABLE the executor raises the serialization failure of a stripe
 * changed since the snapshot.
 */
static StripeTry
try_by_sql(CodesStmtArgs *args, int stripe, int32 share, int32 delta, bool wait)
{
	static SPIPlanPtr skip_plan = NULL;
	static SPIPlanPtr wait_plan = NULL;
	static SPIPlanPtr uses_plan = NULL;
	static SPIPlanPtr change_plan = NULL;
	static SPIPlanPtr make_plan = NULL;

	codes_set_number(args, stripe);
	/* the bound: room for a use; any stripe for an undo */
	codes_set_big(args, delta > 0 ? share : PG_INT32_MAX);
	if (wait)
		codes_run_stmt(&wait_plan, lock_wait_sql, args, false, SPI_OK_SELECT);
	else
		codes_run_stmt(&skip_plan, lock_skip_sql, args, false, SPI_OK_SELECT);
	codes_set_big(args, delta);
	if (SPI_processed == 1)
	{
		codes_run_stmt(&change_plan, change_sql, args, false, SPI_OK_UPDATE);
		if (SPI_processed != 1)
			skipped_write();
		return STRIPE_DONE;
	}
	if (wait)
	{
		/*
		 * Not there: being made by another transaction (or gone).  Wait for
		 * its maker, then try it again as it stands now.
		 */
		codes_run_stmt(&uses_plan, uses_sql, args, false, SPI_OK_SELECT);
		if (SPI_processed == 1 || (delta > 0 && share < 1))
			return STRIPE_FULL;	/* full, or gone, once its holder ended */
		(void) codes_lock_stripe_make(DatumGetUUIDP(args->values[0]), stripe,
									  true);
		return try_by_sql(args, stripe, share, delta, false);
	}

	/* not locked: full, held by another transaction, or missing */
	codes_run_stmt(&uses_plan, uses_sql, args, false, SPI_OK_SELECT);
	if (SPI_processed == 1)
		return delta > 0 && DatumGetInt32(codes_result(1)) >= share ?
			STRIPE_FULL : STRIPE_BUSY;
	if (delta > 0 && share < 1)
		return STRIPE_FULL;
	if (!codes_lock_stripe_make(DatumGetUUIDP(args->values[0]), stripe, false))
		return STRIPE_BUSY;		/* another transaction is making it */
	codes_run_stmt(&make_plan, make_sql, args, false, SPI_OK_INSERT);
	if (SPI_processed == 1)
		return STRIPE_DONE;
	/* not made: another transaction made it, or a trigger skipped it */
	codes_run_stmt(&uses_plan, uses_sql, args, false, SPI_OK_SELECT);
	if (SPI_processed == 0)
		skipped_write();
	return STRIPE_BUSY;
}

/*
 * The stripes worth trying, as a new statement sees the code's stripes,
 * into out (CODES_STRIPES entries); their number.  For a use, those below
 * their share of cap, made or not; for an undo, those there are, or where
 * there is none, every one (to make one).  One statement: a use of a code
 * used up costs one read, not one try of each stripe (on Citus, a round
 * trip each).
 */
static int
candidates_by_sql(CodesStmtArgs *args, int64 cap, int32 delta, int *out)
{
	static SPIPlanPtr plan = NULL;
	int32		uses[CODES_STRIPES];
	bool		made[CODES_STRIPES];
	uint64		i;
	int			n = 0;
	int			stripe;

	memset(made, false, sizeof(made));
	codes_run_stmt(&plan, all_sql, args, false, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		stripe = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1, &isnull));
		if (stripe < 0 || stripe >= CODES_STRIPES)
			continue;
		made[stripe] = true;
		uses[stripe] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
												   SPI_tuptable->tupdesc, 2, &isnull));
	}
	for (stripe = 0; stripe < CODES_STRIPES; stripe++)
	{
		if (delta > 0 ?
			(made[stripe] ? uses[stripe] : 0) < codes_stripe_share(cap, stripe) :
			made[stripe])
			out[n++] = stripe;
	}
	if (delta < 0 && n == 0)
	{
		for (stripe = 0; stripe < CODES_STRIPES; stripe++)
			out[n++] = stripe;
	}
	return n;
}

/*
 * stripes.c's change_directly, through SQL.  A use first tries one stripe
 * with a share, at random: while the code has room, most uses end there.
 * Then the stripes worth trying (candidates_by_sql), from a random one
 * on, passing by those others hold; then it waits for the first of those,
 * and looks again.  A use waits only once without getting that stripe:
 * the wait may leave it holding the stripe its holder filled (see
 * lock_skip_sql), and a second wait while it holds one could deadlock;
 * after that, stripes held by others count as used.  (An undo locks any
 * stripe, which never fills.)  Without may_wait (the transaction holds a
 * stripe of the code already), a use does not wait at all.
 */
int
codes_stripes_change_by_sql(CodesStmtArgs *args, int64 cap, int32 delta,
							bool may_wait)
{
	int			n = codes_stripes_with_room(cap);
	bool		waited = !may_wait;

	if (delta > 0 && n > 0)
	{
		int			stripe = (int) pg_prng_uint64_range(&pg_global_prng_state, 0, n - 1);

		if (try_by_sql(args, stripe, codes_stripe_share(cap, stripe), delta,
					   false) == STRIPE_DONE)
			return stripe;
	}
	for (;;)
	{
		int			order[CODES_STRIPES];
		int			norder = candidates_by_sql(args, cap, delta, order);
		int			held = -1;
		int			start;
		int			k;

		start = norder > 1 ?
			(int) pg_prng_uint64_range(&pg_global_prng_state, 0, norder - 1) : 0;
		for (k = 0; k < norder; k++)
		{
			int			stripe = order[(start + k) % norder];

			switch (try_by_sql(args, stripe, codes_stripe_share(cap, stripe), delta, false))
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
		if (held < 0 || (waited && delta > 0))
			return -1;
		if (try_by_sql(args, held, codes_stripe_share(cap, held), delta, true) == STRIPE_DONE)
			return held;
		waited = true;
	}
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

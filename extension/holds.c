/*-------------------------------------------------------------------------
 *
 * holds.c
 *	  Holds of a code's uses, while a customer pays: a hold is an entry of
 *	  the history (codes.redemption_log) with held_until set.  Until it is
 *	  confirmed (held_until cleared: it is a use), released or undone
 *	  (undone_at set), or its time passes, it counts against the code's
 *	  limits as a use does: its use is taken from the code's stripes or
 *	  row when it is made, and the history's counts per redeemer count it.
 *	  Once held_until has passed it counts no more: the counts per redeemer
 *	  leave it out by its time, and the next look at the code that needs
 *	  its use (a use that finds none left) expires it (undone_at =
 *	  held_until) and gives its use back, so no job has to run.
 *
 * Each of these is one statement on the history's rows of one code,
 * found through the index on (code, id) or the partial index of the
 * holds not yet confirmed or released; a row lock decides between a
 * confirm, a release and an expiry of one hold.  Here the statements
 * only: store.c decides, and gives the uses back.
 *
 * Calls statements.c; called by store.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/timestamp.h"

#include "holds.h"
#include "statements.h"

/* The live and the expired holds of code $1, not confirmed or released. */
static const char *const count_sql =
"SELECT pg_catalog.count(*) FILTER (WHERE l.held_until >= pg_catalog.now()), "
"pg_catalog.count(*) FILTER (WHERE l.held_until < pg_catalog.now()) "
"FROM codes.redemption_log AS l "
"WHERE l.code" EQ "$1 AND l.held_until IS NOT NULL AND l.undone_at IS NULL";

/* Expire the holds of code $1 whose time has passed: undone at its end. */
static const char *const expire_sql =
"UPDATE codes.redemption_log AS l SET undone_at = l.held_until "
"WHERE l.code" EQ "$1 AND l.held_until IS NOT NULL "
"AND l.held_until" LT "pg_catalog.now() AND l.undone_at IS NULL";

/*
 * Confirm hold $5 of code $1 while it is live: a use from now on, with
 * the reference and details given ($6, $7), or those of the hold.  Live
 * by the clock ($8, the time now), not by the transaction's start: a use
 * that began after the hold's end no longer counted it for its redeemer,
 * and a confirm in a transaction that began before must not make it a use
 * again.  A parameter, not clock_timestamp(): Citus refuses a volatile
 * function in a distributed UPDATE's WHERE.
 */
static const char *const confirm_sql =
"UPDATE codes.redemption_log AS l SET held_until = NULL, used_at = pg_catalog.now(), "
"reference = COALESCE($6, l.reference), details = COALESCE($7, l.details) "
"WHERE l.code" EQ "$1 AND l.id" EQ "$5 AND l.undone_at IS NULL "
"AND l.held_until IS NOT NULL AND l.held_until >= $8";

/*
 * Whether hold $5 of code $1, not confirmed (confirm_sql found it not
 * live), is one whose time has passed: not released, or expired (undone
 * at its end) by a use that needed its use.
 */
static const char *const expired_sql =
"SELECT FROM codes.redemption_log AS l "
"WHERE l.code" EQ "$1 AND l.id" EQ "$5 AND l.held_until IS NOT NULL "
"AND (l.undone_at IS NULL OR l.undone_at" EQ "l.held_until)";

/* Release hold $5 of code $1, live or expired. */
static const char *const release_sql =
"UPDATE codes.redemption_log AS l SET undone_at = pg_catalog.now() "
"WHERE l.code" EQ "$1 AND l.id" EQ "$5 AND l.undone_at IS NULL "
"AND l.held_until IS NOT NULL";

/*
 * Undo entry $5 of code $1 if it stands and was made with reference $6: a
 * use is undone, a hold (confirmed meanwhile or not) given up.
 */
static const char *const undo_entry_sql =
"UPDATE codes.redemption_log AS l SET undone_at = pg_catalog.now() "
"WHERE l.code" EQ "$1 AND l.id" EQ "$5 AND l.undone_at IS NULL "
"AND l.reference" EQ "$6";

/*
 * Count the code's holds not confirmed or released: *live those whose
 * time has not passed (as of the transaction's start), *expired the
 * others, as the statement's snapshot sees them, or (fresh) as a new
 * statement would, which sees this one's own changes.
 */
void
codes_holds_count(CodesStmtArgs *args, bool fresh, int64 *live, int64 *expired)
{
	static SPIPlanPtr plan = NULL;

	codes_run_stmt(&plan, count_sql, args, !fresh, SPI_OK_SELECT);
	*live = DatumGetInt64(codes_result(1));
	*expired = DatumGetInt64(codes_result(2));
}

/*
 * Expire the code's holds whose time has passed; the number expired,
 * whose uses the caller gives back.
 */
int64
codes_holds_expire(CodesStmtArgs *args)
{
	static SPIPlanPtr plan = NULL;

	codes_run_stmt(&plan, expire_sql, args, false, SPI_OK_UPDATE);
	return (int64) SPI_processed;
}

/*
 * Confirm the hold $5 of the code $1: CODES_OK, or CODES_HOLD_EXPIRED for
 * one whose time has passed (not confirmed: the caller releases it, if a
 * use has not expired it already), or CODES_NOT_FOUND for no such hold
 * (confirmed, released or undone, or never one).
 */
CodesReason
codes_hold_confirm_entry(CodesStmtArgs *args)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr expired_plan = NULL;

	args->values[CODES_ARG_HELD_UNTIL] =
		TimestampTzGetDatum(GetCurrentTimestamp());
	args->nulls[CODES_ARG_HELD_UNTIL] = ' ';
	codes_run_stmt(&plan, confirm_sql, args, false, SPI_OK_UPDATE);
	args->nulls[CODES_ARG_HELD_UNTIL] = 'n';
	if (SPI_processed == 1)
		return CODES_OK;
	codes_run_stmt(&expired_plan, expired_sql, args, false, SPI_OK_SELECT);
	return SPI_processed == 1 ? CODES_HOLD_EXPIRED : CODES_NOT_FOUND;
}

/*
 * Release the hold $5 of the code $1, live or expired; true if there was
 * such a hold, whose use the caller gives back.
 */
bool
codes_hold_release_entry(CodesStmtArgs *args)
{
	static SPIPlanPtr plan = NULL;

	codes_run_stmt(&plan, release_sql, args, false, SPI_OK_UPDATE);
	return SPI_processed == 1;
}

/*
 * Undo the use, or give up the hold, $5 of the code $1 made with the
 * reference $6, if it stands: 1, and the caller gives the use back.
 */
int64
codes_history_undo_entry(CodesStmtArgs *args)
{
	static SPIPlanPtr plan = NULL;

	codes_run_stmt(&plan, undo_entry_sql, args, false, SPI_OK_UPDATE);
	return (int64) SPI_processed;
}

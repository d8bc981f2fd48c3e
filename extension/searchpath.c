/*-------------------------------------------------------------------------
 *
 * searchpath.c
 *	  The search_path every operation on codes pins while it runs.
 *
 * The functions are SECURITY DEFINER: the SQL names every object and
 * operator in full, and every operation pins search_path while it runs,
 * where PostgreSQL has the override search path stack (before 17, see
 * compat.h), to pg_catalog only, not even pg_temp.  Pushed and popped in C
 * rather than by a SET clause on the functions, which costs 7,000
 * instructions a call (callgrind), more than a tenth of a query.  An error
 * pops it with the (sub)transaction.  Where there is no such stack (17
 * on), and where the stack would be wrong (see codes_pin_search_path), it
 * is pinned as a SET clause pins it, to PINNED_SEARCH_PATH.
 *
 * Calls no other file of the extension (compat.h has the version
 * difference); called by the table (store.c) and the SQL entry points.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "compat.h"
#include "searchpath.h"

/* The search_path pinned as a SET clause pins it. */
#define PINNED_SEARCH_PATH	"pg_catalog, pg_temp"

/*
 * Pin search_path as a function's SET clause does, to be undone by
 * codes_unpin_search_path.
 */
void
codes_pin_by_guc(CodesPin *pin)
{
	pin->by_guc = true;
	pin->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", PINNED_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Pin search_path for an operation.  The override stack is cheapest, but
 * it also overrides the SET clause of any function called below it, so
 * that a user's trigger, constraint or index function could not set its
 * own search_path.  So when a write may run a user's code (writes, and
 * CodesTables.user_code, decided with the tables locked), the path is set
 * as a function's SET clause sets it: that code then sees pg_catalog and
 * pg_temp, or the path of its own SET clause, exactly as it would under any
 * SECURITY DEFINER function that pins search_path (store.c calls
 * codes_repin_by_guc then).  PostgreSQL 17 and later have no override
 * stack: there every operation pins search_path as a SET clause does.
 */
void
codes_pin_search_path(CodesPin *pin)
{
	pin->by_guc = !CODES_HAVE_OVERRIDE_SEARCH_PATH;
	if (pin->by_guc)
		codes_pin_by_guc(pin);
	else
		compat_push_catalog_search_path();
}

/*
 * Pin search_path as a SET clause does instead of by the override stack,
 * once an operation has learnt that a write may run a user's code (see
 * codes_pin_search_path); nothing if it is pinned so already.
 */
void
codes_repin_by_guc(CodesPin *pin)
{
	if (pin->by_guc)
		return;
	compat_pop_catalog_search_path();
	codes_pin_by_guc(pin);
}

/*
 * Undo codes_pin_search_path or codes_pin_by_guc.  After an error the
 * (sub)transaction's abort does.
 */
void
codes_unpin_search_path(CodesPin *pin)
{
	if (pin->by_guc)
		AtEOXact_GUC(true, pin->nestlevel);
	else
		compat_pop_catalog_search_path();
}

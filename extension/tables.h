/*-------------------------------------------------------------------------
 *
 * tables.h
 *	  What the operations on codes know of the tables they write (tables.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_TABLES_H
#define CODES_TABLES_H

#include "storage/lockdefs.h"

/*
 * What the operations need to know of the tables they write, looked up
 * with the tables locked (codes_tables) and forgotten when the relcache
 * entry of any of them is invalidated: a DROP and CREATE EXTENSION gives
 * them new OIDs, and CREATE TRIGGER, a new constraint or index invalidates
 * its table, as Citus does when it distributes it.
 */
/* The column of codes.redemption_log that holds the code, as made. */
#define CODES_LOG_COL_CODE	2

typedef struct CodesTables
{
	Oid			codes;			/* codes.codes */
	Oid			key_index;		/* codes.codes_key_fold */
	Oid			log;			/* codes.redemption_log */
	Oid			log_index;		/* its index on code, or InvalidOid */
	bool		rules;			/* either table has rules */
	bool		user_code;		/* a write to either may run a user's code */
	bool		direct;			/* codes_use_directly may write codes.codes */
	bool		direct_delete;	/* codes_delete_directly may delete from both */
} CodesTables;

extern void codes_init_tables(void);
extern const CodesTables *codes_tables(LOCKMODE mode);

#endif							/* CODES_TABLES_H */

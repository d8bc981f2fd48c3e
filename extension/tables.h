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
/* Columns of codes.codes, in the order the install scripts create them. */
#define CODES_COL_BATCH		1
#define CODES_COL_USES		2
#define CODES_COL_CODE		3
#define CODES_COL_USED_AT	4
#define CODES_COL_USED_BY	5
#define CODES_COL_SHOWN		6
#define CODES_COL_DEACTIVATED_AT	7
#define CODES_COL_BOUND_TO	8
#define CODES_COL_METADATA	9

/* Columns of codes.redemption_log. */
#define CODES_LOG_COL_ID		1
#define CODES_LOG_COL_CODE		2
#define CODES_LOG_COL_BATCH		3
#define CODES_LOG_COL_REDEEMER	4
#define CODES_LOG_COL_USED_AT	5
#define CODES_LOG_COL_UNDONE_AT	6
#define CODES_LOG_COL_REFERENCE	7
#define CODES_LOG_COL_DETAILS	8
#define CODES_LOG_COL_HELD_UNTIL	9

/* Columns of codes.use_stripes. */
#define CODES_STRIPE_COL_CODE	1
#define CODES_STRIPE_COL_BATCH	2
#define CODES_STRIPE_COL_USES	3
#define CODES_STRIPE_COL_STRIPE	4

typedef struct CodesTables
{
	Oid			codes;			/* codes.codes */
	Oid			key_index;		/* codes.codes_key_fold */
	Oid			log;			/* codes.redemption_log */
	Oid			log_seq;		/* its id sequence */
	Oid			log_index;		/* its index on (code, id), or InvalidOid */
	Oid			log_redeemer_index; /* on (redeemer, code, id) */
	Oid			log_batch_index;	/* on (batch, redeemer) */
	Oid			stripes;		/* codes.use_stripes */
	Oid			stripes_index;	/* its key, (code, stripe) */
	bool		rules;			/* a table has rules */
	bool		user_code;		/* a write to a table may run a user's code */
	bool		direct;			/* codes_use_directly may write codes.codes */
	bool		direct_delete;	/* codes_delete_directly may delete from all */
	bool		direct_multi;	/* stripes.c and history.c may work directly */
	bool		log_remote;		/* codes.redemption_log is Citus's: its rows
								 * are read in the workers' transactions */
} CodesTables;

extern void codes_init_tables(void);
extern const CodesTables *codes_tables(LOCKMODE mode);

#endif							/* CODES_TABLES_H */

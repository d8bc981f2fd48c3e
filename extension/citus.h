/*-------------------------------------------------------------------------
 *
 * citus.h
 *	  What Citus has done with the extension's tables (citus.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_CITUS_H
#define CODES_CITUS_H

/* Where a table's rows are, as codes_placement finds them. */
typedef enum CodesPlacement
{
	CODES_PLAIN_TABLE,			/* in the table itself: no Citus, or not its */
	CODES_CITUS_WITH_COPY,		/* in shards, one of them on this node */
	CODES_CITUS_ELSEWHERE		/* in shards, none of them on this node */
} CodesPlacement;

extern CodesPlacement codes_placement(Oid relid);
extern bool codes_citus_worker(void);

#endif							/* CODES_CITUS_H */

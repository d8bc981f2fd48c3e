/*-------------------------------------------------------------------------
 *
 * searchpath.h
 *	  The search_path an operation pins while it runs (searchpath.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_SEARCHPATH_H
#define CODES_SEARCHPATH_H

/* How an operation pinned search_path (codes_pin_search_path). */
typedef struct CodesPin
{
	bool		by_guc;			/* as a SET clause; else the override stack */
	int			nestlevel;		/* GUC nest level to return to */
} CodesPin;

extern void codes_pin_search_path(CodesPin *pin);
extern void codes_pin_by_guc(CodesPin *pin);
extern void codes_repin_by_guc(CodesPin *pin);
extern void codes_unpin_search_path(CodesPin *pin);

#endif							/* CODES_SEARCHPATH_H */

/*-------------------------------------------------------------------------
 *
 * serverlog.h
 *	  What the server log may hold of a call of codes (serverlog.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_SERVERLOG_H
#define CODES_SERVERLOG_H

extern void codes_init_serverlog(void);

#endif							/* CODES_SERVERLOG_H */

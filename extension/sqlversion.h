/*-------------------------------------------------------------------------
 *
 * sqlversion.h
 *	  Whether the database's SQL objects are the version this library
 *	  serves (sqlversion.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_SQLVERSION_H
#define CODES_SQLVERSION_H

extern void codes_init_sql_version(void);
extern void codes_require_sql_version(void);

#endif							/* CODES_SQLVERSION_H */

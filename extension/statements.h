/*-------------------------------------------------------------------------
 *
 * statements.h
 *	  The SQL statements of the operations on one code: run a saved one
 *	  with the operation's parameters (statements.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_STATEMENTS_H
#define CODES_STATEMENTS_H

#include "executor/spi.h"

#include "operation.h"			/* CodesStmtArgs */

/* Operators, named in full so that no search_path can replace them. */
#define EQ	" OPERATOR(pg_catalog.=) "
#define GT	" OPERATOR(pg_catalog.>) "
#define LT	" OPERATOR(pg_catalog.<) "
#define PLUS	" OPERATOR(pg_catalog.+) "
#define MINUS	" OPERATOR(pg_catalog.-) "

/*
 * The row c of codes.codes of the code whose key is $1: one probe of the
 * unique index on its fold, then the whole key.
 */
#define CODES_MATCH_SQL \
	"codes.key_fold(c.code)" EQ "codes.key_fold($1) AND c.code" EQ "$1"

extern void codes_run_stmt(SPIPlanPtr *planp, const char *sql,
						   CodesStmtArgs *args, bool read_only, int expected);
extern void codes_run_stmt_snapshot(SPIPlanPtr *planp, const char *sql,
									CodesStmtArgs *args, Snapshot snapshot,
									int expected);
extern void codes_set_number(CodesStmtArgs *args, int32 number);
extern void codes_set_big(CodesStmtArgs *args, int64 big);
extern Datum codes_result(int col);
extern bool codes_result_null(int col);

#endif							/* CODES_STATEMENTS_H */

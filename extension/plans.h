/*-------------------------------------------------------------------------
 *
 * plans.h
 *	  Saved SPI plans (plans.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_PLANS_H
#define CODES_PLANS_H

#include "executor/spi.h"

extern SPIPlanPtr codes_prepare(const char *sql, int nargs, Oid *argtypes);
extern SPIPlanPtr codes_prepare_opts(const char *sql, int nargs, Oid *argtypes,
									 int options);

#endif							/* CODES_PLANS_H */

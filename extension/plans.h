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

#endif							/* CODES_PLANS_H */

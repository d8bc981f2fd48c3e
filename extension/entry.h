/*-------------------------------------------------------------------------
 *
 * entry.h
 *	  What every SQL entry point on a code does first (entry.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_ENTRY_H
#define CODES_ENTRY_H

#include "fmgr.h"

#include "store_open.h"			/* CodesOp, CodesOutcome */

/* Results, as the seed service spelled them. */
#define CODES_SUCCEED			"SUCCEED"
#define CODES_FAILED			"FAILED"
#define CODES_NO_EXISTED		"NO EXISTED"

/* An operation on a code opened by codes_store_open (codes_run_braked). */
typedef void (*CodesAction) (CodesOp *op, CodesOutcome *out);

/*
 * What a use records beside its redeemer: its reference, details, and the
 * end of a hold; each NULL unless given.
 */
typedef struct CodesExtras
{
	Datum		reference;
	bool		reference_null;
	Datum		details;
	bool		details_null;
	Datum		held_until;
	bool		held_until_null;
} CodesExtras;

extern void codes_init_entry(void);
extern void codes_begin_hiding(ErrorContextCallback *callback);
extern void codes_end_hiding(ErrorContextCallback *callback);
extern void codes_require_code(FunctionCallInfo fcinfo);
extern text *codes_redeemer_arg(FunctionCallInfo fcinfo);
extern void codes_extras_args(FunctionCallInfo fcinfo, int refarg,
							  CodesExtras *extras);
extern bool codes_open_code(FunctionCallInfo fcinfo, bool writes, CodesOp *op);
extern void codes_run_braked(FunctionCallInfo fcinfo, bool writes,
							 CodesAction action, const CodesExtras *extras,
							 CodesOutcome *out);
extern void codes_outcome_values(const CodesOutcome *out, Datum *values,
								 bool *nulls);

#endif							/* CODES_ENTRY_H */

/*-------------------------------------------------------------------------
 *
 * code_gen.h
 *	  The SQL entry point code_gen, and the checks of a new batch's
 *	  arguments that batch_create shares (code_gen.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_CODE_GEN_H
#define CODES_CODE_GEN_H

#include "fmgr.h"

#include "gen.h"				/* CodesBatchSpec */
#include "text.h"				/* CodesPattern */

/*
 * Where a function that makes a batch has each of its arguments, by
 * number; -1 where it has none.
 */
typedef struct CodesBatchArgs
{
	int			name;
	int			valid_from;
	int			valid_until;
	int			pattern;
	int			max_uses;
	int			max_uses_per_redeemer;
	int			store;
	int			metadata;
	int			max_batch_uses_per_redeemer;
} CodesBatchArgs;

extern void codes_init_code_gen(void);
extern double codes_guess_chance_limit(void);
extern void codes_check_keyspace(const CodesPattern *pat, int32 num);
extern int32 codes_num_arg(FunctionCallInfo fcinfo, int argno);
extern void codes_batch_args(FunctionCallInfo fcinfo, const CodesBatchArgs *at,
							 CodesBatchSpec *spec);

#endif							/* CODES_CODE_GEN_H */

/*-------------------------------------------------------------------------
 *
 * code_gen.c
 *	  The SQL entry point code_gen: its arguments checked, every one before
 *	  anything is written, then the batch made by gen.c; the checks of what
 *	  a new batch is to be, which batch_create shares (code_add.c); and the
 *	  setting codes.max_guess_chance that it checks a pattern against.
 *
 * The top layer, beside codes.c: calls sqlversion.c, gen.c, searchpath.c,
 * keys.c and text.c; called by code_add.c (the checks), and by codes.c
 * only for its setting (_PG_init).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "batch.h"				/* CODES_MAX_BATCH_NAME */
#include "code_gen.h"
#include "gen.h"
#include "keys.h"
#include "searchpath.h"
#include "sqlversion.h"
#include "text.h"

PG_FUNCTION_INFO_V1(code_gen);

/*
 * codes.max_guess_chance: the largest chance allowed that one random guess
 * matches one of a patterned batch's codes (README.md, Patterns).
 */
static double max_guess_chance = 1e-12;

/*
 * Define codes.max_guess_chance; called from _PG_init.
 */
void
codes_init_code_gen(void)
{
	DefineCustomRealVariable("codes.max_guess_chance",
							 "Largest chance that one random guess matches one of a patterned batch's codes.",
							 "code_gen refuses a pattern whose keyspace is too small for the number of codes.",
							 &max_guess_chance,
							 1e-12, 1e-30, 1.0,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
}

/*
 * codes.max_guess_chance, for generation into an existing batch (gen.c),
 * which weighs the codes the batch has already.
 */
double
codes_guess_chance_limit(void)
{
	return max_guess_chance;
}

/*
 * Refuse a patterned batch whose codes would be too easy to guess: one
 * random guess (which an attacker can give a correct check) must match one
 * of its num codes with a chance of at most max_guess_chance.  The
 * keyspace is 31 codes for each '#' times 10 for each '*'
 * (codes_pattern_keyspace).
 */
void
codes_check_keyspace(const CodesPattern *pat, int32 num)
{
	double		keyspace = codes_pattern_keyspace(pat);
	double		chance = num / keyspace;

	if (chance <= max_guess_chance)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("pattern keyspace of %.4g codes is too small for a batch of %d",
					keyspace, num),
			 pat->ndigits == 0 ?
			 errdetail("With %d random symbols, one guess would match one of %d codes with a chance of %.2g, above the limit codes.max_guess_chance = %.2g.",
					   pat->nrandom, num, chance, max_guess_chance) :
			 pat->ndigits == pat->nrandom ?
			 errdetail("With %d random digits, one guess would match one of %d codes with a chance of %.2g, above the limit codes.max_guess_chance = %.2g.",
					   pat->ndigits, num, chance, max_guess_chance) :
			 errdetail("With %d random symbols and %d random digits, one guess would match one of %d codes with a chance of %.2g, above the limit codes.max_guess_chance = %.2g.",
					   pat->nrandom - pat->ndigits, pat->ndigits, num, chance,
					   max_guess_chance),
			 pat->ndigits == 0 ?
			 errhint("Add random symbols (#) to the pattern, or make fewer codes.") :
			 errhint("Add random symbols (# or *) to the pattern, or make fewer codes.")));
}

/*
 * The number of codes to make, from argument argno: 22004 when NULL,
 * 22023 outside 1 to CODES_MAX_PER_CALL.
 */
int32
codes_num_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		num;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("num must not be null")));
	num = PG_GETARG_INT32(argno);
	if (num < 1 || num > CODES_MAX_PER_CALL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num must be between 1 and %d", CODES_MAX_PER_CALL),
				 errdetail("num was %d.", num)));
	return num;
}

/*
 * Is argument argno there (a function of an older version's SQL may lack
 * it, and at says -1 for one that has none) and not NULL?
 */
static inline bool
arg_given(FunctionCallInfo fcinfo, int argno)
{
	return argno >= 0 && argno < PG_NARGS() && !PG_ARGISNULL(argno);
}

/*
 * Read and check what a new batch is to be, from the arguments of a
 * function that makes one (code_gen, batch_create), found where at says:
 * its period, pattern, uses and limits, store, metadata and name.  Every
 * check comes before anything is written, so a refused call changes
 * nothing; they run in this order, whichever function calls.  When
 * spec->num is set (code_gen), the pattern's keyspace is checked against
 * it.
 */
void
codes_batch_args(FunctionCallInfo fcinfo, const CodesBatchArgs *at,
				 CodesBatchSpec *spec)
{
	spec->batch_id = 0;			/* a new batch */
	spec->guess_chance = 0;
	spec->from_null = !arg_given(fcinfo, at->valid_from);
	spec->valid_from = spec->from_null ? 0 : PG_GETARG_TIMESTAMPTZ(at->valid_from);
	spec->until_null = !arg_given(fcinfo, at->valid_until);
	spec->valid_until = spec->until_null ? 0 : PG_GETARG_TIMESTAMPTZ(at->valid_until);
	if (!spec->from_null && !spec->until_null &&
		spec->valid_until < spec->valid_from)
	{
		/* timestamptz_to_str returns a static buffer: copy the first */
		char	   *from = pstrdup(timestamptz_to_str(spec->valid_from));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must not be before valid_from"),
				 errdetail("valid_from is %s, valid_until is %s.",
						   from, timestamptz_to_str(spec->valid_until))));
	}

	spec->pattern = NULL;
	if (arg_given(fcinfo, at->pattern))
	{
		spec->pattern = text_to_cstring(PG_GETARG_TEXT_PP(at->pattern));
		codes_parse_pattern(spec->pattern, &spec->parsed);
		if (spec->num > 0)
			codes_check_keyspace(&spec->parsed, spec->num);
	}

	/* NULL: no total cap on a code's uses */
	spec->max_uses_null = !arg_given(fcinfo, at->max_uses);
	spec->max_uses = spec->max_uses_null ? 0 : PG_GETARG_INT32(at->max_uses);
	if (!spec->max_uses_null && spec->max_uses < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_uses must be at least 1"),
				 errdetail("max_uses was %d.", spec->max_uses),
				 errhint("Leave max_uses NULL for no limit on a code's uses.")));

	spec->per_redeemer_null = !arg_given(fcinfo, at->max_uses_per_redeemer);
	spec->max_uses_per_redeemer = spec->per_redeemer_null ? 0 :
		PG_GETARG_INT32(at->max_uses_per_redeemer);
	if (!spec->per_redeemer_null && spec->max_uses_null &&
		spec->max_uses_per_redeemer < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_uses_per_redeemer must be at least 1"),
				 errdetail("max_uses_per_redeemer was %d.",
						   spec->max_uses_per_redeemer)));
	if (!spec->per_redeemer_null && !spec->max_uses_null &&
		(spec->max_uses_per_redeemer < 1 ||
		 spec->max_uses_per_redeemer > spec->max_uses))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_uses_per_redeemer must be between 1 and max_uses"),
				 errdetail("max_uses_per_redeemer was %d, max_uses %d.",
						   spec->max_uses_per_redeemer, spec->max_uses)));

	spec->batch_limit_null = !arg_given(fcinfo, at->max_batch_uses_per_redeemer);
	spec->max_batch_uses_per_redeemer = spec->batch_limit_null ? 0 :
		PG_GETARG_INT32(at->max_batch_uses_per_redeemer);
	if (!spec->batch_limit_null && spec->max_batch_uses_per_redeemer < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_batch_uses_per_redeemer must be at least 1"),
				 errdetail("max_batch_uses_per_redeemer was %d.",
						   spec->max_batch_uses_per_redeemer)));

	/* a function without a store argument (1.0's code_gen) makes plain ones */
	spec->hmac_key = NULL;
	if (at->store >= 0 && at->store < PG_NARGS())
	{
		char	   *store;

		if (PG_ARGISNULL(at->store))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("store must not be null")));
		store = text_to_cstring(PG_GETARG_TEXT_PP(at->store));
		if (strcmp(store, "hmac") == 0)
			spec->hmac_key = codes_copy_key(codes_current_key());
		else if (strcmp(store, "plain") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown store \"%s\"", store),
					 errhint("Use 'plain' (the default) or 'hmac'.")));
	}

	spec->metadata_null = !arg_given(fcinfo, at->metadata);
	spec->metadata = spec->metadata_null ? (Datum) 0 : PG_GETARG_DATUM(at->metadata);

	spec->name = NULL;
	if (arg_given(fcinfo, at->name))
	{
		text	   *name = PG_GETARG_TEXT_PP(at->name);
		int			len = VARSIZE_ANY_EXHDR(name);

		if (len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("batch name must not be empty"),
					 errhint("Leave batch NULL to get a generated name.")));
		if (len > CODES_MAX_BATCH_NAME)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("batch name is too long"),
					 errdetail("A batch name has at most %d bytes; this one has %d.",
							   CODES_MAX_BATCH_NAME, len)));
		spec->name = text_to_cstring(name);
	}
}

/*
 * code_gen(num, valid_from, valid_until, pattern, max_uses, batch,
 *			 max_uses_per_redeemer, store, metadata, max_batch_uses_per_redeemer)
 *
 * Check the arguments, then create the batch and return its codes.  Every
 * check comes before anything is written, so a refused call changes nothing.
 * Older versions' SQL declares it with fewer arguments (1.0 without
 * max_uses_per_redeemer and store, 1.1 without metadata, 1.2 without
 * max_batch_uses_per_redeemer): such a database is refused first
 * (codes_require_sql_version), and its missing arguments would be taken
 * as absent.
 */
Datum
code_gen(PG_FUNCTION_ARGS)
{
	static const CodesBatchArgs at = {
		.name = 5,.valid_from = 1,.valid_until = 2,.pattern = 3,.max_uses = 4,
		.max_uses_per_redeemer = 6,.store = 7,.metadata = 8,
		.max_batch_uses_per_redeemer = 9
	};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CodesBatchSpec spec;
	CodesPin	pin;

	/* first: an older version's code_gen has fewer arguments */
	codes_require_sql_version();
	spec.num = codes_num_arg(fcinfo, 0);
	codes_batch_args(fcinfo, &at, &spec);

	/* a batch may well fire a user's trigger: pin as a SET clause does */
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	codes_pin_by_guc(&pin);
	codes_generate(&spec, rsinfo->setResult, rsinfo->setDesc);
	codes_unpin_search_path(&pin);

	return (Datum) 0;
}

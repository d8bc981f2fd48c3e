/*-------------------------------------------------------------------------
 *
 * code_add.c
 *	  The SQL entry points of batches filled by hand: batch_create (an
 *	  empty batch, checked as code_gen checks a new batch), code_add (codes
 *	  a merchant chooses or imports, with their uses so far) and
 *	  batch_generate (more generated codes in an existing batch).  Each
 *	  checks its arguments before anything is written, and calls the layers
 *	  below for the rest.
 *
 * The functions are SECURITY DEFINER and may fire a user's trigger, so
 * each pins search_path as a SET clause does while it works.  code_add's
 * statement may hold codes as literals: it is kept out of the server log
 * for any error raised inside (entry.c), and no message contains a code.
 *
 * The top layer, beside codes.c and code_gen.c: calls sqlversion.c
 * (first), code_gen.c (the checks of a new batch, the guessing guard),
 * entry.c, import.c, gen.c, searchpath.c and text.c; nothing calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "code_gen.h"
#include "entry.h"
#include "gen.h"
#include "import.h"
#include "searchpath.h"
#include "sqlversion.h"
#include "text.h"

PG_FUNCTION_INFO_V1(batch_create);
PG_FUNCTION_INFO_V1(code_add);
PG_FUNCTION_INFO_V1(batch_generate);

/*
 * The name of an existing batch from argument argno: 22004 when NULL.
 */
static char *
batch_name_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch must not be null")));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * batch_create(batch, valid_from, valid_until, max_uses,
 *				max_uses_per_redeemer, store, metadata,
 *				max_batch_uses_per_redeemer, pattern) returns text
 *
 * Create a batch without codes, for code_add and batch_generate, checked
 * as code_gen checks a new batch (pattern: the shape of the codes
 * batch_generate makes; NULL, UUIDs).  Returns its name (batch-<id> when
 * none was given).
 */
Datum
batch_create(PG_FUNCTION_ARGS)
{
	static const CodesBatchArgs at = {
		.name = 0,.valid_from = 1,.valid_until = 2,.max_uses = 3,
		.max_uses_per_redeemer = 4,.store = 5,.metadata = 6,
		.max_batch_uses_per_redeemer = 7,.pattern = 8
	};
	CodesBatchSpec spec;
	CodesPin	pin;
	int32		id;

	codes_require_sql_version();
	/* no codes yet: the guessing guard weighs them as they are made */
	spec.num = 0;
	codes_batch_args(fcinfo, &at, &spec);

	PreventCommandIfReadOnly("batch_create()");
	codes_pin_by_guc(&pin);
	id = codes_create_batch(&spec);
	codes_unpin_search_path(&pin);

	if (spec.name == NULL)
		PG_RETURN_TEXT_P(cstring_to_text(psprintf("batch-%d", id)));
	PG_RETURN_TEXT_P(cstring_to_text(spec.name));
}

/*
 * code_add(batch, codes, uses) returns bigint
 *
 * Add the given texts as codes of an existing batch, each with its uses so
 * far (uses NULL, or an element NULL: 0), plain or hashed as the batch is
 * stored, and return how many were added: all of them, or none and an
 * error (import.c).
 */
Datum
code_add(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	CodesTargetBatch batch;
	CodesPin	pin;
	char	   *name;
	int64		added;

	codes_require_sql_version();
	/* its statement may hold codes as literals */
	codes_begin_hiding(&hiding);
	name = batch_name_arg(fcinfo, 0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("codes must not be null")));
	PreventCommandIfReadOnly("code_add()");

	codes_pin_by_guc(&pin);
	codes_open_batch(name, &batch);
	added = codes_add_given(&batch, PG_GETARG_ARRAYTYPE_P(1),
							PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2));
	codes_unpin_search_path(&pin);

	codes_end_hiding(&hiding);
	PG_RETURN_INT64(added);
}

/*
 * batch_generate(batch, num) returns setof text
 *
 * Generate num more codes into an existing batch, of its pattern (NULL:
 * UUIDs) and store, as code_gen would make them, and return them.  The
 * guessing guard weighs the batch's codes and the new ones together
 * (gen.c), so that a batch grown a call at a time is as hard to guess as
 * one made at once.
 */
Datum
batch_generate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CodesTargetBatch batch;
	CodesBatchSpec spec;
	CodesPin	pin;
	char	   *name;

	codes_require_sql_version();
	name = batch_name_arg(fcinfo, 0);
	memset(&spec, 0, sizeof(spec));
	spec.num = codes_num_arg(fcinfo, 1);
	PreventCommandIfReadOnly("batch_generate()");

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	codes_pin_by_guc(&pin);
	codes_open_batch(name, &batch);
	spec.batch_id = batch.id;
	spec.name = batch.name;
	spec.pattern = batch.pattern;
	if (spec.pattern)
	{
		codes_parse_pattern(spec.pattern, &spec.parsed);
		codes_check_keyspace(&spec.parsed, spec.num);
	}
	spec.hmac_key = codes_batch_key(&batch);
	spec.guess_chance = codes_guess_chance_limit();
	codes_generate(&spec, rsinfo->setResult, rsinfo->setDesc);
	codes_unpin_search_path(&pin);

	return (Datum) 0;
}

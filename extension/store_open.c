/*-------------------------------------------------------------------------
 *
 * store_open.c
 *	  Beginning and ending an operation on one code: pin search_path, take
 *	  in changes to codes.batch, find the keys a text may be stored under
 *	  and the one it is, and set the parameters every statement of the
 *	  operation shares.
 *
 * Calls lookup.c, batch.c, keys.c, tables.c, searchpath.c and
 * statements.c; called by the SQL entry points (codes.c, checkout.c,
 * code_control.c) and the store (store.c, store_undo.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"

#include "batch.h"
#include "lookup.h"
#include "searchpath.h"
#include "statements.h"
#include "store_open.h"
#include "tables.h"

/* Whether a code is stored under the key $1. */
static const char *const exists_sql =
"SELECT FROM codes.codes AS c WHERE " CODES_MATCH_SQL;

/*
 * Whether a code is stored under the key in args, as snapshot sees it
 * (NULL: as a read-only statement now does).
 */
bool
codes_store_exists(CodesStmtArgs *args, Snapshot snapshot)
{
	static SPIPlanPtr plan = NULL;

	codes_run_stmt_snapshot(&plan, exists_sql, args, snapshot, SPI_OK_SELECT);
	return SPI_processed == 1;
}

/*
 * Ready an operation for writes to the tables: lock them, refuse rules,
 * and pin search_path again as a SET clause does if a write may run a
 * user's code (see codes_pin_search_path).  Rules are refused: a plan that
 * a rule rewrote to nothing would stay so after the rule is dropped.
 */
static void
prepare_writes(CodesPin *pin)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);

	if (known->rules)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("rules on the tables of extension codes are not supported"),
				 errhint("Use a trigger instead.")));
	if (known->user_code)
		codes_repin_by_guc(pin);
}

/*
 * Start the parameters of an operation's statements: none set but the
 * code's key ($1) and the redeemer ($2), unless redeemer_null.
 */
static void
start_args(CodesStmtArgs *args, const pg_uuid_t *key, Datum redeemer,
		   bool redeemer_null)
{
	args->connected = false;
	memset(args->nulls, 'n', sizeof(args->nulls));
	args->values[0] = UUIDPGetDatum(key);
	args->nulls[0] = ' ';
	if (!redeemer_null)
	{
		args->values[1] = redeemer;
		args->nulls[1] = ' ';
	}
}

/*
 * Start an operation on a code: pin the search path (codes_pin_search_path:
 * writes tells whether the operation writes to the tables), take in changes
 * to codes.batch, and read the code into the parameters of a statement,
 * its key as $1 and the redeemer (unless redeemer_null) as $2.  Returns
 * true when a code may be stored under that key; false means there is no
 * such code, which callers answer as "not found".  Text of no batch's
 * shape is found so without touching a table.  A code that may be stored
 * under more than one key (plain and hashed batches of one shape) is
 * looked up under each in turn.  A code of a hashed batch whose key is not
 * configured cannot be looked up: not found too (the server log says so,
 * once per key and backend), so plain codes of the same shape work on,
 * and a guess is counted as any guess.  Either way the caller ends with
 * codes_store_close.  writes: the operation writes to the tables; then, if
 * the text may be a code, they are locked first (prepare_writes).
 */
bool
codes_store_open(CodesOp *op, text *code, Datum redeemer, bool redeemer_null,
				 bool writes)
{
	CodesStmtArgs *args = &op->args;
	pg_uuid_t  *keys;
	char		missing_key[CODES_KEY_ID_LEN + 1];
	int			nkeys;
	int			i;

	codes_pin_search_path(&op->pin);
	codes_refresh_batch_cache();
	nkeys = codes_lookup_keys(code, &keys, missing_key);
	if (writes && nkeys > 0)
		prepare_writes(&op->pin);
	start_args(args, &op->key, redeemer, redeemer_null);

	for (i = 0; i < nkeys; i++)
	{
		op->key = keys[i];
		if (nkeys == 1 && missing_key[0] == '\0')
			return true;
		if (codes_store_exists(args, NULL))
			return true;
	}
	if (args->connected)
		SPI_finish();
	args->connected = false;

	if (missing_key[0] != '\0')
		codes_note_missing_key(missing_key);
	return false;
}

/*
 * Start an operation on the code stored under key (found in the history,
 * say), as codes_store_open does, for writes.
 */
void
codes_store_open_key(CodesOp *op, const pg_uuid_t *key)
{
	codes_pin_search_path(&op->pin);
	codes_refresh_batch_cache();
	prepare_writes(&op->pin);
	op->key = *key;
	start_args(&op->args, &op->key, (Datum) 0, true);
}

/*
 * End an operation begun by codes_store_open.
 */
void
codes_store_close(CodesOp *op)
{
	if (op->args.connected)
		SPI_finish();
	op->args.connected = false;
	codes_unpin_search_path(&op->pin);
}

/*
 * Set the statements' parameter $3 to the batch of out's code.
 */
void
codes_store_set_batch(CodesStmtArgs *args, const CodesOutcome *out)
{
	args->values[2] = Int32GetDatum(out->batch.id);
	args->nulls[2] = ' ';
}

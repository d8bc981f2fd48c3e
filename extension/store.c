/*-------------------------------------------------------------------------
 *
 * store.c
 *	  The codes table: find a code by its key, lock it, use it, check it,
 *	  look it up, undo a use, delete it; with the SQL it runs for each,
 *	  through plans prepared once per backend and saved.
 *
 * An operation on a code begins with codes_store_open, which pins
 * search_path and finds the key the code is stored under, and ends with
 * codes_store_close; it connects to SPI only if it runs a statement
 * (run_stmt).  A use, the read of a query or check, and a delete go the
 * direct way (store_direct.c) when they can, and through SQL, side by
 * side in codes_store_use, look_up_code and codes_store_delete, when they
 * cannot.
 *
 * No message raised here contains a code: server logs are read by more
 * people than the codes table.
 *
 * Calls store_direct.c (the fast path), tables.c, searchpath.c, lookup.c,
 * batch.c, plans.c; called by the SQL entry points (codes.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"

#include "batch.h"
#include "lookup.h"
#include "plans.h"
#include "searchpath.h"
#include "store.h"
#include "store_direct.h"
#include "tables.h"

/* Operators, named in full so that no search_path can replace them. */
#define EQ	" OPERATOR(pg_catalog.=) "
#define GT	" OPERATOR(pg_catalog.>) "

/*
 * The row c of the code whose key is $1: one probe of the unique index.
 * Every statement takes the parameters of CodesStmtArgs (store.h).
 */
#define MATCH_SQL \
	"codes.key_fold(c.code)" EQ "codes.key_fold($1) AND c.code" EQ "$1"

/*
 * Lock the code's row and read its batch and uses.  At READ COMMITTED a
 * concurrent use is waited for and its result seen.
 */
static const char *const lock_sql =
"SELECT c.batch, c.uses FROM codes.codes AS c WHERE " MATCH_SQL " FOR UPDATE";

/* Standing uses of the code by the redeemer (multi-use codes only). */
static const char *const count_sql =
"SELECT pg_catalog.count(*) FROM codes.redemption_log AS l "
"WHERE l.code" EQ "$1 AND l.redeemer" EQ "$2 AND l.undone_at IS NULL";

/* A use of a code whose row we hold locked and have checked. */
static const char *const apply_sql =
"UPDATE codes.codes AS c "
"SET uses = c.uses OPERATOR(pg_catalog.+) 1, used_at = pg_catalog.now(), used_by = $2 "
"WHERE " MATCH_SQL;

/* The history entry of a use of a multi-use code. */
static const char *const log_sql =
"INSERT INTO codes.redemption_log (code, batch, redeemer, used_at) "
"VALUES ($1, $3, $2, pg_catalog.now())";

/*
 * Undo the standing use of a single-use code (by $2, if given): move it
 * from the row into the history, marked undone.
 */
static const char *const undo_single_sql =
"WITH moved AS ("
" INSERT INTO codes.redemption_log (code, batch, redeemer, used_at, undone_at)"
" SELECT c.code, c.batch, c.used_by, c.used_at, pg_catalog.now()"
" FROM codes.codes AS c"
" WHERE " MATCH_SQL " AND c.uses" GT "0 AND ($2 IS NULL OR c.used_by" EQ "$2)"
" RETURNING 1) "
"UPDATE codes.codes AS c SET uses = 0, used_at = NULL, used_by = NULL "
"WHERE " MATCH_SQL " AND EXISTS (SELECT FROM moved)";

/* Undo the latest standing use of a multi-use code (by $2, if given). */
static const char *const undo_multi_sql =
"WITH undone AS ("
" UPDATE codes.redemption_log AS l SET undone_at = pg_catalog.now()"
" WHERE l.id" EQ "(SELECT h.id FROM codes.redemption_log AS h"
"  WHERE h.code" EQ "$1 AND h.undone_at IS NULL AND ($2 IS NULL OR h.redeemer" EQ "$2)"
"  ORDER BY h.id DESC LIMIT 1)"
" RETURNING 1) "
"UPDATE codes.codes AS c SET uses = c.uses OPERATOR(pg_catalog.-) 1 "
"WHERE " MATCH_SQL " AND EXISTS (SELECT FROM undone)";

/* Whether a code is stored under the key $1. */
static const char *const exists_sql =
"SELECT FROM codes.codes AS c WHERE " MATCH_SQL;

/* The code's batch and uses; no row if it does not exist. */
static const char *const query_sql =
"SELECT c.batch, c.uses FROM codes.codes AS c WHERE " MATCH_SQL;

/* The name and metadata of batch $3. */
static const char *const details_sql =
"SELECT b.name, b.metadata FROM codes.batch AS b WHERE b.id" EQ "$3";

/*
 * Delete the code, and then its history: a statement of its own, so that
 * at READ COMMITTED its snapshot, taken after the code's row was locked,
 * sees the history of a use that the delete waited for.
 */
static const char *const del_sql =
"DELETE FROM codes.codes AS c WHERE " MATCH_SQL;
static const char *const del_history_sql =
"DELETE FROM codes.redemption_log AS l WHERE l.code" EQ "$1";

/*
 * Run a saved statement, preparing it on first use, and check that SPI
 * reports the expected kind of statement.  Results are left in
 * SPI_processed and SPI_tuptable.  Connects to SPI on the operation's
 * first statement (codes_store_close finishes): the direct paths need no
 * SPI, and the common use, query and delete run no statement.
 */
static void
run_stmt(SPIPlanPtr *planp, const char *sql, CodesStmtArgs *args,
		 bool read_only, int expected)
{
	int			ret;

	if (!args->connected)
	{
		if ((ret = SPI_connect()) != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
		args->connected = true;
	}
	if (*planp == NULL)
	{
		Oid			argtypes[CODES_STMT_NARGS] = {UUIDOID, TEXTOID, INT4OID};

		*planp = codes_prepare(sql, CODES_STMT_NARGS, argtypes);
	}

	ret = SPI_execute_plan(*planp, args->values, args->nulls, read_only, 0);
	if (ret != expected)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
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
				 errmsg("rules on codes.codes or codes.redemption_log are not supported"),
				 errhint("Use a trigger instead.")));
	if (known->user_code)
		codes_repin_by_guc(pin);
}

/*
 * Start an operation on a code: pin the search path (codes_pin_search_path:
 * writes tells whether the operation writes to the tables), take in changes
 * to codes.batch, and read the code into the parameters of a statement,
 * its key as $1 and the redeemer (unless redeemer_null) as $2.  Returns
 * true when a code may be stored under that key; false means there is no
 * such code, which callers answer as "not found".  Text
 * of no batch's shape is found so without touching a table.  A code that
 * may be stored under more than one key (plain and hashed batches of one
 * shape) is looked up under each in turn.  A code not found that may
 * belong to a hashed batch whose key is not configured is an error.
 * Either way the caller ends with codes_store_close.  writes: the operation
 * writes to the tables; then, if the text may be a code, they are locked
 * first (prepare_writes).
 */
bool
codes_store_open(CodesOp *op, text *code, Datum redeemer, bool redeemer_null,
				 bool writes)
{
	static SPIPlanPtr exists_plan = NULL;
	CodesPin   *pin = &op->pin;
	pg_uuid_t  *key = &op->key;
	CodesStmtArgs *args = &op->args;
	pg_uuid_t  *keys;
	char		missing_key[CODES_KEY_ID_LEN + 1];
	int			nkeys;
	int			i;

	args->connected = false;
	codes_pin_search_path(pin);
	codes_refresh_batch_cache();
	nkeys = codes_lookup_keys(code, &keys, missing_key);
	if (writes && nkeys > 0)
		prepare_writes(pin);

	memset(args->nulls, 'n', sizeof(args->nulls));
	args->nulls[0] = ' ';
	if (!redeemer_null)
	{
		args->values[1] = redeemer;
		args->nulls[1] = ' ';
	}

	for (i = 0; i < nkeys; i++)
	{
		*key = keys[i];
		args->values[0] = UUIDPGetDatum(key);
		if (nkeys == 1 && missing_key[0] == '\0')
			return true;
		run_stmt(&exists_plan, exists_sql, args, true, SPI_OK_SELECT);
		if (SPI_processed == 1)
			return true;
	}
	if (args->connected)
		SPI_finish();
	args->connected = false;

	if (missing_key[0] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key %s of hashed codes is not configured", missing_key),
				 errdetail("The code may belong to a batch stored with that key, which cannot be looked up without it."),
				 errhint("Name the key's file in codes.key_file or codes.old_key_files; the server log tells of key files that could not be used.")));
	return false;
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
 * Column col of the first result row, which must not be NULL.
 */
static Datum
result_value(int col)
{
	bool		isnull;
	Datum		value;

	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
						  col, &isnull);
	if (isnull)
		elog(ERROR, "unexpected null in column %d", col);
	return value;
}

/*
 * What the batch of the first result row (column 1) allows.  False if the
 * batch is gone: a batch_del that committed after this statement's
 * snapshot was taken, whose code is then treated as gone too.
 */
static bool
result_batch(CodesBatchInfo *batch)
{
	return codes_batch_info(DatumGetInt32(result_value(1)), batch);
}

/*
 * Read the code's row with a saved statement that returns its batch and
 * uses (lock_sql or query_sql) and fill out with them; false if there is
 * no such code or batch.  A row found is no guess, even if its batch is
 * gone.
 */
static bool
read_code(SPIPlanPtr *planp, const char *sql, bool read_only,
		  CodesStmtArgs *args, CodesOutcome *out)
{
	run_stmt(planp, sql, args, read_only, SPI_OK_SELECT);
	if (SPI_processed != 1)
		return false;
	out->guess = false;
	if (!result_batch(&out->batch))
		return false;
	out->uses = DatumGetInt32(result_value(2));
	return true;
}

/*
 * Lock the code's row (lock_sql) and fill out with its batch and uses;
 * false if there is no such code or batch.
 */
static bool
lock_code(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;

	return read_code(&plan, lock_sql, false, args, out);
}

/*
 * Read the code's row without locking it, as lock_code does: directly
 * (codes_read_directly) where it can, else with query_sql.
 */
static bool
look_up_code(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;
	bool		found;

	if (codes_read_directly(args, out, &found))
		return found;
	return read_code(&plan, query_sql, true, args, out);
}

/*
 * Record a use of a multi-use code in the history, whose rows the code's
 * own row cannot hold.
 */
static void
log_use(CodesStmtArgs *args, Datum batch_id)
{
	static SPIPlanPtr plan = NULL;

	args->values[2] = batch_id;
	args->nulls[2] = ' ';
	run_stmt(&plan, log_sql, args, false, SPI_OK_INSERT);
}

/*
 * Whether the code whose batch and uses are in out may be used now, by the
 * redeemer in args: CODES_OK, or why not.  A batch that limits the uses
 * per redeemer needs a redeemer (else 22004) and, for a multi-use code,
 * the redeemer's standing uses are counted; the caller holds the code's
 * row locked when it is about to use it.
 */
static CodesReason
judge(CodesStmtArgs *args, const CodesOutcome *out)
{
	static SPIPlanPtr count_plan = NULL;
	CodesReason reason = codes_refusal(&out->batch, out->uses);

	if (reason != CODES_OK || out->batch.per_redeemer_null)
		return reason;
	if (args->nulls[1] == 'n')
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("redeemer must not be null for this code"),
				 errdetail("Its batch allows each redeemer at most %d of its uses.",
						   out->batch.per_redeemer)));
	if (out->batch.max_uses > 1)
	{
		run_stmt(&count_plan, count_sql, args, false, SPI_OK_SELECT);
		if (DatumGetInt64(result_value(1)) >= out->batch.per_redeemer)
			return CODES_REDEEMER_LIMIT;
	}
	return CODES_OK;
}

/*
 * Use the code, if it can be used now, and say what happened in out:
 * code_use's operation.
 *
 * Most uses are codes_use_directly's.  When it cannot decide (the table has
 * triggers; the code's batch limits the uses per redeemer; or, seen from
 * this statement's snapshot, the code cannot be used, which a concurrent
 * undo may be changing), the use is decided again with the row locked by
 * SQL, which at READ COMMITTED waits for any concurrent use or undo and
 * then sees its result, so that the redeemer's uses counted are all the
 * committed ones.  The UPDATE then fires every trigger an UPDATE fires; if
 * a BEFORE trigger skips it, nothing was used (reported as used up).
 */
void
codes_store_use(CodesOp *op, CodesOutcome *out)
{
	static SPIPlanPtr apply_plan = NULL;
	CodesStmtArgs *args = &op->args;

	if (!codes_use_directly(args, out))
	{
		if (!lock_code(args, out))
		{
			out->reason = CODES_NOT_FOUND;
			return;
		}
		out->reason = judge(args, out);
		if (out->reason != CODES_OK)
			return;

		run_stmt(&apply_plan, apply_sql, args, false, SPI_OK_UPDATE);
		if (SPI_processed != 1)
		{
			out->reason = CODES_USED_UP;
			return;
		}
		out->uses++;
	}

	if (out->reason == CODES_OK && out->batch.max_uses > 1)
		log_use(args, Int32GetDatum(out->batch.id));
}

/*
 * Add to out, for a code that was found, the name and metadata of its
 * batch, copied out of SPI's memory.
 */
static void
add_details(CodesStmtArgs *args, CodesOutcome *out)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;

	if (out->reason == CODES_NOT_FOUND)
		return;
	args->values[2] = Int32GetDatum(out->batch.id);
	args->nulls[2] = ' ';
	/* a new snapshot, as the use had: it sees the batch the use saw */
	run_stmt(&plan, details_sql, args, false, SPI_OK_SELECT);
	if (SPI_processed != 1)
	{
		/* the batch went since; a use made stands, with no details */
		if (out->reason != CODES_OK)
			out->reason = CODES_NOT_FOUND;
		return;
	}
	out->have_details = true;
	out->batch_name = SPI_datumTransfer(result_value(1), false, -1);
	out->metadata = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  2, &isnull);
	out->metadata_null = isnull;
	if (!isnull)
		out->metadata = SPI_datumTransfer(out->metadata, false, -1);
}

/*
 * Undo the latest standing use of the code (by the redeemer, if given);
 * true when there was one.  The row is locked first, so an undo and a use
 * of one code take turns.
 */
bool
codes_store_undo(CodesOp *op)
{
	static SPIPlanPtr single_plan = NULL;
	static SPIPlanPtr multi_plan = NULL;
	CodesStmtArgs *args = &op->args;
	CodesOutcome found;

	if (!lock_code(args, &found))
		return false;

	if (found.batch.max_uses == 1)
		run_stmt(&single_plan, undo_single_sql, args, false, SPI_OK_UPDATE);
	else
		run_stmt(&multi_plan, undo_multi_sql, args, false, SPI_OK_UPDATE);
	return SPI_processed == 1;
}

/*
 * Use the code, and tell its batch: code_redeem's operation.
 */
void
codes_store_redeem(CodesOp *op, CodesOutcome *out)
{
	codes_store_use(op, out);
	add_details(&op->args, out);
}

/*
 * Whether the code could be used now, without using it or locking it, and
 * its batch: code_check's operation.
 */
void
codes_store_check(CodesOp *op, CodesOutcome *out)
{
	if (look_up_code(&op->args, out))
		out->reason = judge(&op->args, out);
	else
		out->reason = CODES_NOT_FOUND;
	add_details(&op->args, out);
}

/*
 * The code's batch and uses, without a judgement of the redeemer:
 * code_query's operation.
 */
void
codes_store_query(CodesOp *op, CodesOutcome *out)
{
	if (look_up_code(&op->args, out))
		out->reason = codes_refusal(&out->batch, out->uses);
	else
		out->reason = CODES_NOT_FOUND;
}

/*
 * Delete the code and its history: code_del's operation.  Directly
 * (codes_delete_directly) where it can, else with del_sql and
 * del_history_sql.
 */
void
codes_store_delete(CodesOp *op)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr history_plan = NULL;

	if (codes_delete_directly(&op->args))
		return;
	run_stmt(&plan, del_sql, &op->args, false, SPI_OK_DELETE);
	if (SPI_processed > 0)
		run_stmt(&history_plan, del_history_sql, &op->args, false, SPI_OK_DELETE);
}

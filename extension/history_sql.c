/*-------------------------------------------------------------------------
 *
 * history_sql.c
 *	  The history of uses (see history.c) through SQL: where a table runs
 *	  a user's code (triggers, row security) or on Citus, a use under its
 *	  batch's limits per redeemer locks the redeemer's bucket (one of 64
 *	  per code or batch) to the end of its transaction, counts the
 *	  redeemer's standing uses with the latest snapshot and inserts its
 *	  entry with SQL, which fires what the user attached.
 *
 * Calls statements.c, locks.c and rows.c; called by history.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "history_sql.h"
#include "locks.h"
#include "rows.h"				/* codes_serialization_failure */
#include "statements.h"

/* Standing uses of redeemer $2 of code $1, and in batch $3. */
#define STANDING_SQL \
	"l.undone_at IS NULL AND (l.held_until IS NULL OR l.held_until >= pg_catalog.now())"
static const char *const count_code_sql =
"SELECT pg_catalog.count(*) FROM codes.redemption_log AS l "
"WHERE l.redeemer" EQ "$2 AND l.code" EQ "$1 AND " STANDING_SQL;
static const char *const count_batch_sql =
"SELECT pg_catalog.count(*) FROM codes.redemption_log AS l "
"WHERE l.batch" EQ "$3 AND l.redeemer" EQ "$2 AND " STANDING_SQL;

/* The history entry of a use (or a hold), with its id. */
static const char *const insert_sql =
"INSERT INTO codes.redemption_log (code, batch, redeemer, used_at, reference, details, held_until) "
"VALUES ($1, $3, $2, pg_catalog.now(), $6, $7, $8) RETURNING id";

/*
 * Count the redeemer's standing uses against the batch's limits with
 * SQL, as snapshot sees them (NULL: the statement's).
 */
CodesReason
codes_history_judge_by_sql(CodesStmtArgs *args, const CodesBatchInfo *batch,
						   Snapshot snapshot, int64 *counts)
{
	static SPIPlanPtr code_plan = NULL;
	static SPIPlanPtr batch_plan = NULL;

	counts[0] = counts[1] = 0;
	args->values[2] = Int32GetDatum(batch->id);
	args->nulls[2] = ' ';
	if (CODES_MULTI_USE(batch) && !batch->per_redeemer_null)
	{
		codes_run_stmt_snapshot(&code_plan, count_code_sql, args, snapshot,
								SPI_OK_SELECT);
		counts[0] = DatumGetInt64(codes_result(1));
		if (counts[0] >= batch->per_redeemer)
			return CODES_REDEEMER_LIMIT;
	}
	if (!batch->batch_limit_null)
	{
		codes_run_stmt_snapshot(&batch_plan, count_batch_sql, args, snapshot,
								SPI_OK_SELECT);
		counts[1] = DatumGetInt64(codes_result(1));
		if (counts[1] >= batch->batch_limit)
			return CODES_BATCH_REDEEMER_LIMIT;
	}
	return CODES_OK;
}

/*
 * Lock the redeemer of the use until the transaction ends, for the SQL
 * path: its bucket (locks.c) of the code, then of the batch, as the
 * batch's limits need.
 */
static void
lock_redeemer_bucket(CodesStmtArgs *args, const CodesBatchInfo *batch)
{
	text	   *redeemer = codes_args_redeemer(args);
	uint32		fold = (uint32) codes_key_fold(DatumGetUUIDP(args->values[0]));

	if (CODES_MULTI_USE(batch) && !batch->per_redeemer_null)
		codes_lock_redeemer_bucket(CODES_LOCK_CODE_REDEEMER, fold, redeemer);
	if (!batch->batch_limit_null)
		codes_lock_redeemer_bucket(CODES_LOCK_BATCH_REDEEMER, (uint32) batch->id,
								   redeemer);
}

/*
 * Record the use with SQL, under the batch's limits per redeemer: the
 * redeemer's bucket locks are held to the end of the transaction, so a
 * use of the same redeemer in progress has committed or rolled back when
 * the count is read, with the latest snapshot, after a command counter
 * increment (so that it sees the transaction's own uses, those of the
 * same statement included).  At REPEATABLE READ or SERIALIZABLE a refusal
 * is a serialization failure when the transaction's snapshot, as a new
 * statement would see it (its own uses too), counts otherwise: when it
 * rests on uses or undos of other transactions that committed after it.
 */
CodesReason
codes_history_record_by_sql(CodesStmtArgs *args, const CodesBatchInfo *batch,
							int64 *id)
{
	static SPIPlanPtr plan = NULL;
	CodesReason reason = CODES_OK;
	int64		latest[2];
	int64		own[2];

	if (codes_history_guarded(batch))
	{
		lock_redeemer_bucket(args, batch);
		CommandCounterIncrement();
		reason = codes_history_judge_by_sql(args, batch, GetLatestSnapshot(), latest);
		if (reason != CODES_OK && IsolationUsesXactSnapshot())
		{
			(void) codes_history_judge_by_sql(args, batch, GetTransactionSnapshot(), own);
			if (own[0] != latest[0] || own[1] != latest[1])
				codes_serialization_failure("update");
		}
		else if (IsolationIsSerializable())
		{
			/* the predicate locks of the reads */
			(void) codes_history_judge_by_sql(args, batch, GetTransactionSnapshot(), own);
		}
	}
	if (reason == CODES_OK)
	{
		args->values[2] = Int32GetDatum(batch->id);
		args->nulls[2] = ' ';
		codes_run_stmt(&plan, insert_sql, args, false, SPI_OK_INSERT_RETURNING);
		if (SPI_processed == 1)
			*id = DatumGetInt64(codes_result(1));
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
					 errmsg("a trigger on codes.redemption_log skipped the history of a use"),
					 errdetail("A multi-use code's uses, and the uses a batch limits per redeemer, are counted in codes.redemption_log; a BEFORE trigger there must not skip its rows.")));
	}
	return reason;
}

/*-------------------------------------------------------------------------
 *
 * codes.c
 *	  The operations on codes: code_gen, code_use, code_redeem, code_check,
 *	  code_undo, code_query, code_normalize and code_del; the direct use
 *	  path; and the module's initialization.
 *
 * Each works through SPI with plans prepared once per backend and saved.
 * They are SECURITY DEFINER: the SQL names every object and operator in
 * full, and every operation pins search_path while it runs
 * (pin_search_path).
 *
 * No message raised here contains a code: server logs are read by more
 * people than the codes table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "batch.h"
#include "brake.h"
#include "citus.h"
#include "compat.h"
#include "gen.h"
#include "keys.h"
#include "lookup.h"
#include "plans.h"
#include "progress.h"
#include "text.h"

PG_MODULE_MAGIC;

/*
 * codes.max_guess_chance: the largest chance allowed that one random guess
 * matches one of a patterned batch's codes (README.md, Patterns).
 */
static double max_guess_chance = 1e-12;

/*
 * What the operations need to know of the tables they write, looked up
 * with the tables locked (codes_tables) and forgotten when the relcache
 * entry of any of them is invalidated (codes_rel_invalidate): a DROP and
 * CREATE EXTENSION gives them new OIDs, and CREATE TRIGGER, a new
 * constraint or index invalidates its table, as Citus does when it
 * distributes it.  Current while tables_read equals tables_changes.
 */
typedef struct CodesTables
{
	Oid			codes;			/* codes.codes */
	Oid			key_index;		/* codes.codes_key_fold */
	Oid			log;			/* codes.redemption_log */
	bool		rules;			/* either table has rules */
	bool		user_code;		/* a write to either may run a user's code */
	bool		direct;			/* use_directly may write codes.codes */
} CodesTables;

static CodesTables tables;
static uint64 tables_changes = 1;
static uint64 tables_read = 0;

/* The columns of codes.codes, in the order the install scripts make them. */
static const char *const codes_columns[] = {
	"batch", "uses", "code", "used_at", "used_by", "shown"
};

/* Results, as the seed service spelled them. */
#define CODES_SUCCEED			"SUCCEED"
#define CODES_FAILED			"FAILED"
#define CODES_NO_EXISTED		"NO EXISTED"

void		_PG_init(void);

PG_FUNCTION_INFO_V1(code_gen);
PG_FUNCTION_INFO_V1(code_use);
PG_FUNCTION_INFO_V1(code_redeem);
PG_FUNCTION_INFO_V1(code_check);
PG_FUNCTION_INFO_V1(code_normalize);
PG_FUNCTION_INFO_V1(code_undo);
PG_FUNCTION_INFO_V1(code_query);
PG_FUNCTION_INFO_V1(code_del);
PG_FUNCTION_INFO_V1(code_valid);
PG_FUNCTION_INFO_V1(key_fold);
PG_FUNCTION_INFO_V1(code_status);

/* Operators, named in full so that no search_path can replace them. */
#define EQ	" OPERATOR(pg_catalog.=) "
#define GT	" OPERATOR(pg_catalog.>) "

/*
 * Every statement below takes the same three parameters, whether it uses
 * them or not: $1 the code's key, $2 the redeemer (may be NULL), $3 a batch
 * id.  c is the code's row.
 */
#define NARGS	3

/* The row of the code whose key is $1: one probe of the unique index. */
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

/* Delete the code and its history. */
static const char *const del_sql =
"WITH gone AS (DELETE FROM codes.codes AS c WHERE " MATCH_SQL " RETURNING c.code) "
"DELETE FROM codes.redemption_log AS l USING gone WHERE l.code" EQ "gone.code";

/*
 * What a use found: CODES_OK when the code was used, else why not; for
 * any code that was found, its batch and its uses (after the use).
 */
typedef struct UseOutcome
{
	CodesReason reason;
	bool		guess;			/* not found, and no row was: a guess */
	CodesBatchInfo batch;		/* unless reason is CODES_NOT_FOUND */
	int32		uses;
	bool		have_details;	/* batch_name and metadata are set */
	Datum		batch_name;		/* with details (add_details): text */
	Datum		metadata;		/* jsonb */
	bool		metadata_null;
} UseOutcome;


/* The parameters of a statement, as SPI_execute_plan takes them. */
typedef struct StmtArgs
{
	Datum		values[NARGS];
	char		nulls[NARGS];
} StmtArgs;

/* An operation on a code found by begin_op (run_braked). */
typedef void (*CodeAction) (StmtArgs *args, UseOutcome *out);

/*
 * Relcache callback: forget what codes_tables knows when one of the tables
 * changes, or when the whole relcache is reset.
 */
static void
codes_rel_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == tables.codes ||
		relid == tables.key_index || relid == tables.log)
		tables_changes++;
}

/*
 * Error context callback of every function that takes a code: keep the
 * statement out of the server log for any error raised while it runs, its
 * own and PostgreSQL's (a serialization failure, a lock timeout), since
 * the statement may well hold the code as a literal.
 */
static void
hide_statement(void *arg)
{
	errhidestmt(true);
}

/*
 * Install hide_statement for the rest of a call; end_hiding removes it.
 */
static void
begin_hiding(ErrorContextCallback *callback)
{
	callback->callback = hide_statement;
	callback->arg = NULL;
	callback->previous = error_context_stack;
	error_context_stack = callback;
}

/*
 * Remove the callback installed by begin_hiding.
 */
static void
end_hiding(ErrorContextCallback *callback)
{
	error_context_stack = callback->previous;
}

/*
 * Module load: the settings, and the invalidation of cached patterns.
 */
void
_PG_init(void)
{
	DefineCustomRealVariable("codes.max_guess_chance",
							 "Largest chance that one random guess matches one of a patterned batch's codes.",
							 "code_gen refuses a pattern whose keyspace is too small for the number of codes.",
							 &max_guess_chance,
							 1e-12, 1e-30, 1.0,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(codes_rel_invalidate, (Datum) 0);
	codes_init_batch_cache();
	codes_init_brake();
	codes_init_progress();
	codes_init_keys();

	/* after every codes.* setting is defined, or theirs would be dropped */
	MarkGUCPrefixReserved("codes");
}

/*
 * Refuse a patterned batch whose codes would be too easy to guess: one
 * random guess (which an attacker can give a correct check symbol) must
 * match one of its num codes with a chance of at most max_guess_chance.
 */
static void
check_keyspace(const CodesPattern *pat, int32 num)
{
	double		keyspace = pow(CODES_ALPHABET_SIZE, pat->nrandom);
	double		chance = num / keyspace;

	if (chance > max_guess_chance)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pattern keyspace of %.4g codes is too small for a batch of %d",
						keyspace, num),
				 errdetail("With %d random symbols, one guess would match one of %d codes with a chance of %.2g, above the limit codes.max_guess_chance = %.2g.",
						   pat->nrandom, num, chance, max_guess_chance),
				 errhint("Add random symbols (#) to the pattern, or make fewer codes.")));
}

/*
 * Run a saved statement, preparing it on first use, and check that SPI
 * reports the expected kind of statement.  Results are left in
 * SPI_processed and SPI_tuptable.
 */
static void
run_stmt(SPIPlanPtr *planp, const char *sql, StmtArgs *args, bool read_only,
		 int expected)
{
	int			ret;

	if (*planp == NULL)
	{
		Oid			argtypes[NARGS] = {UUIDOID, TEXTOID, INT4OID};

		*planp = codes_prepare(sql, NARGS, argtypes);
	}

	ret = SPI_execute_plan(*planp, args->values, args->nulls, read_only, 0);
	if (ret != expected)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
}

/*
 * The search_path every operation pins while it runs, where PostgreSQL
 * has the override search path stack (before 17, see compat.h):
 * pg_catalog only, not even pg_temp.  Pushed and popped in C rather than
 * by a SET clause on the functions, which costs 7,000 instructions a call
 * (callgrind), more than a tenth of a query.  An error pops it with the
 * (sub)transaction.  Where there is no such stack (17 on), and where the
 * stack would be wrong (see pin_search_path), it is pinned as a SET
 * clause pins it, to PINNED_SEARCH_PATH.
 */
/* The search_path pinned as a SET clause pins it. */
#define PINNED_SEARCH_PATH	"pg_catalog, pg_temp"

/* How an operation pinned search_path (pin_search_path). */
typedef struct Pin
{
	bool		by_guc;			/* as a SET clause; else the override stack */
	int			nestlevel;		/* GUC nest level to return to */
} Pin;

/*
 * Can a write to the table run a user's code, which must then see the
 * search_path its own SET clause gives it (pin_search_path)?  It can if
 * the table has triggers (a foreign key's too), rules, row security,
 * CHECK constraints, generated columns, columns of domain or other
 * non-base types, or more indexes or defaults than the extension made.
 */
static bool
runs_user_code(Relation rel, int own_indexes, int own_defaults)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleConstr *constr = desc->constr;
	List	   *indexes = RelationGetIndexList(rel);
	bool		runs;
	int			i;

	runs = rel->trigdesc != NULL || rel->rd_rules != NULL ||
		rel->rd_rel->relrowsecurity || list_length(indexes) != own_indexes ||
		(constr != NULL && (constr->num_check > 0 || constr->has_generated_stored ||
							constr->num_defval != own_defaults));
	for (i = 0; i < desc->natts && !runs; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && get_typtype(att->atttypid) != TYPTYPE_BASE)
			runs = true;
	}
	list_free(indexes);
	return runs;
}

/*
 * Are the columns of codes.codes the ones write_use writes, where it
 * writes them, and its key index one a scan may use?
 */
static bool
layout_as_made(Relation rel, Oid indexoid)
{
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	tuple;
	bool		usable;
	int			i;

	if (desc->natts != (int) lengthof(codes_columns))
		return false;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), codes_columns[i]) != 0)
			return false;
	}

	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	if (!HeapTupleIsValid(tuple))
		return false;
	usable = ((Form_pg_index) GETSTRUCT(tuple))->indisvalid &&
		((Form_pg_index) GETSTRUCT(tuple))->indisready &&
		((Form_pg_index) GETSTRUCT(tuple))->indislive;
	ReleaseSysCache(tuple);
	return usable;
}

/*
 * Lock codes.codes and codes.redemption_log (mode: RowExclusiveLock for
 * an operation that writes, AccessShareLock for one that reads) and
 * return what the operations need to know of them (see CodesTables).
 * Locking first takes in any change committed before, and keeps CREATE
 * TRIGGER, RULE or INDEX from changing them until the transaction ends.
 */
static const CodesTables *
codes_tables(LOCKMODE mode)
{
	for (;;)
	{
		uint64		changes = tables_changes;
		Relation	codes;
		Relation	log;

		if (tables_read != changes)
		{
			Oid			nsp = get_namespace_oid("codes", false);

			tables.codes = get_relname_relid("codes", nsp);
			tables.key_index = get_relname_relid("codes_key_fold", nsp);
			tables.log = get_relname_relid("redemption_log", nsp);
			if (!OidIsValid(tables.codes) || !OidIsValid(tables.key_index) ||
				!OidIsValid(tables.log))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("a table or index of extension codes is missing"),
						 errdetail("Schema codes must hold the tables codes and redemption_log and the index codes_key_fold."),
						 errhint("Reinstall the extension: DROP EXTENSION codes; CREATE EXTENSION codes.")));
		}

		/* takes in invalidations: if the tables changed meanwhile, again */
		LockRelationOid(tables.codes, mode);
		LockRelationOid(tables.log, mode);
		if (tables_changes != changes)
			continue;
		if (tables_read == changes)
			return &tables;

		codes = table_open(tables.codes, NoLock);
		log = table_open(tables.log, NoLock);
		tables.rules = codes->rd_rules != NULL || log->rd_rules != NULL;
		tables.user_code = runs_user_code(codes, 1, 1) ||
			runs_user_code(log, 3, 1);
		tables.direct = !runs_user_code(codes, 1, 1) &&
			layout_as_made(codes, tables.key_index) &&
			codes_placement(tables.codes) == CODES_PLAIN_TABLE &&
			codes_placement(tables.log) == CODES_PLAIN_TABLE;
		table_close(log, NoLock);
		table_close(codes, NoLock);

		if (tables_changes == changes)
		{
			tables_read = changes;
			return &tables;
		}
	}
}

/*
 * Pin search_path as a function's SET clause does, to be undone by
 * unpin_search_path.
 */
static void
pin_by_guc(Pin *pin)
{
	pin->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", PINNED_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Pin search_path for an operation.  The override stack is cheapest, but
 * it also overrides the SET clause of any function called below it, so
 * that a user's trigger, constraint or index function could not set its
 * own search_path.  So when a write may run a user's code (writes, and
 * CodesTables.user_code, decided with the tables locked), the path is set
 * as a function's SET clause sets it: that code then sees pg_catalog and
 * pg_temp, or the path of its own SET clause, exactly as it would under any
 * SECURITY DEFINER function that pins search_path (prepare_writes).  Rules
 * are refused: a plan that a rule rewrote to nothing would stay so after
 * the rule is dropped.  PostgreSQL 17 and later have no override stack:
 * there every operation pins search_path as a SET clause does.
 */
static void
pin_search_path(Pin *pin)
{
	pin->by_guc = !CODES_HAVE_OVERRIDE_SEARCH_PATH;
	if (pin->by_guc)
		pin_by_guc(pin);
	else
		compat_push_catalog_search_path();
}

/*
 * Ready an operation for writes to the tables: lock them, refuse rules,
 * and pin search_path again as a SET clause does if a write may run a
 * user's code (see pin_search_path).
 */
static void
prepare_writes(Pin *pin)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);

	if (known->rules)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("rules on codes.codes or codes.redemption_log are not supported"),
				 errhint("Use a trigger instead.")));
	if (known->user_code && !pin->by_guc)
	{
		compat_pop_catalog_search_path();
		pin->by_guc = true;
		pin_by_guc(pin);
	}
}

/*
 * Undo pin_search_path.  After an error the (sub)transaction's abort does.
 */
static void
unpin_search_path(Pin *pin)
{
	if (pin->by_guc)
		AtEOXact_GUC(true, pin->nestlevel);
	else
		compat_pop_catalog_search_path();
}

/*
 * Start an operation on the code argument (argument 0): pin the search
 * path (pin_search_path: writes tells whether the operation writes to the
 * tables), take in changes to codes.batch, and read the code into the
 * parameters of a statement, its key as $1 and the redeemer (argument 1,
 * where the function has one) as $2.  Returns true, connected to SPI, when
 * a code may be stored under that key; false means there is no such code,
 * which callers answer as "not found".  Text of no batch's shape is found
 * so without touching a table.  A code that may be stored under more than
 * one key (plain and hashed batches of one shape) is looked up under each
 * in turn.  A NULL code is an error, and so is a code not found that may
 * belong to a hashed batch whose key is not configured.  Either way the
 * caller ends with end_op.  writes: the operation writes to the tables;
 * then, if the text may be a code, they are locked first (prepare_writes).
 */
static bool
begin_op(FunctionCallInfo fcinfo, bool writes, Pin *pin, pg_uuid_t *key,
		 StmtArgs *args)
{
	static SPIPlanPtr exists_plan = NULL;
	pg_uuid_t  *keys;
	char		missing_key[CODES_KEY_ID_LEN + 1];
	int			nkeys;
	int			i;
	int			ret;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("code must not be null")));

	pin_search_path(pin);
	codes_refresh_batch_cache();
	nkeys = codes_lookup_keys(PG_GETARG_TEXT_PP(0), &keys, missing_key);
	if (writes && nkeys > 0)
		prepare_writes(pin);

	memset(args->nulls, 'n', sizeof(args->nulls));
	args->nulls[0] = ' ';
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
	{
		args->values[1] = PG_GETARG_DATUM(1);
		args->nulls[1] = ' ';
	}

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
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
	SPI_finish();

	if (missing_key[0] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key %s of hashed codes is not configured", missing_key),
				 errdetail("The code may belong to a batch stored with that key, which cannot be looked up without it."),
				 errhint("Name the key's file in codes.key_file or codes.old_key_files; the server log tells of key files that could not be used.")));
	return false;
}

/*
 * End an operation begun by begin_op, which returned connected.
 */
static void
end_op(bool connected, Pin *pin)
{
	if (connected)
		SPI_finish();
	unpin_search_path(pin);
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
read_code(SPIPlanPtr *planp, const char *sql, bool read_only, StmtArgs *args,
		  UseOutcome *out)
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
lock_code(StmtArgs *args, UseOutcome *out)
{
	static SPIPlanPtr plan = NULL;

	return read_code(&plan, lock_sql, false, args, out);
}

/*
 * Read the code's row without locking it (query_sql), as lock_code does.
 */
static bool
look_up_code(StmtArgs *args, UseOutcome *out)
{
	static SPIPlanPtr plan = NULL;

	return read_code(&plan, query_sql, true, args, out);
}

/*
 * Record a use of a multi-use code in the history, whose rows the code's
 * own row cannot hold.
 */
static void
log_use(StmtArgs *args, Datum batch_id)
{
	static SPIPlanPtr plan = NULL;

	args->values[2] = batch_id;
	args->nulls[2] = ' ';
	run_stmt(&plan, log_sql, args, false, SPI_OK_INSERT);
}

/* Columns of codes.codes, in the order the install scripts create them. */
#define COL_BATCH		1
#define COL_USES		2
#define COL_CODE		3
#define COL_USED_AT		4
#define COL_USED_BY		5

/*
 * The row of the code with this key, visible to snapshot, into slot;
 * false if there is none.  One probe of the unique index on key_fold,
 * whose lock is kept to the end of the transaction, as a statement keeps
 * it.
 */
static bool
find_code(Relation rel, Oid indexoid, Snapshot snapshot, const pg_uuid_t *key,
		  TupleTableSlot *slot)
{
	Relation	index = index_open(indexoid, AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData skey;
	bool		found = false;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(codes_key_fold(key)));

	scan = compat_index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	while (!found && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		code = slot_getattr(slot, COL_CODE, &isnull);

		found = !isnull &&
			memcmp(DatumGetUUIDP(code)->data, key->data, UUID_LEN) == 0;
	}
	index_endscan(scan);
	index_close(index, NoLock);
	return found;
}

/*
 * Write the use into the locked row in slot: one more use, the
 * transaction's time, the redeemer.  The index entries are added as an
 * UPDATE statement adds them (none for a HOT update).  Only for a table
 * that runs no user's code (CodesTables.direct): ExecSimpleRelationUpdate fires no
 * statement triggers, and its AFTER ROW triggers need a query around them.
 */
static void
write_use(Relation rel, Snapshot snapshot, TupleTableSlot *locked,
		  StmtArgs *args)
{
	EState	   *estate = CreateExecutorState();
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *newslot;
	int			natts = RelationGetDescr(rel)->natts;
	Bitmapset  *updated = NULL;

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	updated = bms_add_member(updated, COL_USES - FirstLowInvalidHeapAttributeNumber);
	updated = bms_add_member(updated, COL_USED_AT - FirstLowInvalidHeapAttributeNumber);
	updated = bms_add_member(updated, COL_USED_BY - FirstLowInvalidHeapAttributeNumber);
	compat_init_range_table(estate, rte, updated);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	estate->es_output_cid = GetCurrentCommandId(true);
	estate->es_snapshot = snapshot;
	ExecOpenIndices(rri, false);

	newslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel),
									 &TTSOpsVirtual);
	slot_getallattrs(locked);
	ExecClearTuple(newslot);
	memcpy(newslot->tts_values, locked->tts_values, natts * sizeof(Datum));
	memcpy(newslot->tts_isnull, locked->tts_isnull, natts * sizeof(bool));
	newslot->tts_values[COL_USES - 1] =
		Int32GetDatum(DatumGetInt32(locked->tts_values[COL_USES - 1]) + 1);
	newslot->tts_values[COL_USED_AT - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	newslot->tts_isnull[COL_USED_AT - 1] = false;
	newslot->tts_values[COL_USED_BY - 1] = args->values[1];
	newslot->tts_isnull[COL_USED_BY - 1] = (args->nulls[1] == 'n');
	ExecStoreVirtualTuple(newslot);

	ExecSimpleRelationUpdate(rri, estate, NULL, locked, newslot);

	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);	/* releases the slot */
	FreeExecutorState(estate);
}

/*
 * Lock the row in slot, found with snapshot and checked usable, and write
 * the use into it, unless a concurrent change that the lock waited for
 * makes the code unusable; out says which.  At READ COMMITTED the lock
 * follows the row to its newest version (a concurrent use's) and checks
 * that again; at REPEATABLE READ or SERIALIZABLE a concurrent change is a
 * serialization failure, as it is for an UPDATE.
 */
static void
lock_and_write(Relation rel, Snapshot snapshot, TupleTableSlot *slot,
			   StmtArgs *args, UseOutcome *out)
{
	TM_FailureData tmfd;
	TM_Result	res;
	bool		isnull;

	res = table_tuple_lock(rel, &slot->tts_tid, snapshot, slot,
						   GetCurrentCommandId(false),
						   LockTupleNoKeyExclusive, LockWaitBlock,
						   IsolationUsesXactSnapshot() ? 0 :
						   TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
						   &tmfd);
	switch (res)
	{
		case TM_Ok:
			out->uses = DatumGetInt32(slot_getattr(slot, COL_USES, &isnull));
			/* a newer version, after waiting: check it again */
			out->reason = tmfd.traversed ?
				codes_refusal(&out->batch, out->uses) : CODES_OK;
			if (out->reason == CODES_OK)
			{
				write_use(rel, snapshot, slot, args);
				out->uses++;
			}
			break;
		case TM_Updated:
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
			out->reason = (res == TM_Deleted) ? CODES_NOT_FOUND : CODES_USED_UP;
			break;
		case TM_SelfModified:
			/* changed since this statement began: by a trigger, say */
			out->reason = CODES_USED_UP;
			break;
		default:
			elog(ERROR, "unexpected table_tuple_lock result %d", (int) res);
	}
}

/*
 * The common use, without SPI or the executor: find the code's row, check
 * it may be used (it has uses left, now lies in its period, and its batch
 * sets no limit per redeemer), lock it, and write the use.  This is what
 * the conditional UPDATE of a use does, at a third of the cost: when two
 * transactions use the same code, the second waits for the first's row
 * lock; at READ COMMITTED it then checks the new row version (and so finds
 * no use left), at REPEATABLE READ or SERIALIZABLE it raises a
 * serialization failure.  Uses of different codes of one batch never wait
 * for each other.  Under SERIALIZABLE the index probe and the row read
 * take the predicate locks a SELECT takes.
 *
 * Returns false, undecided, when the table has triggers, rules or row
 * security, or anything else that runs a user's code (CodesTables.direct:
 * then only SQL does what SQL would), when Citus keeps the rows in shards
 * (citus.c), and when
 * the code exists but this statement's snapshot says it cannot be used or
 * its batch limits uses per redeemer: use_code decides those with SQL.
 * Else true, with out filled.
 */
static bool
use_directly(StmtArgs *args, UseOutcome *out)
{
	const CodesTables *known = codes_tables(RowExclusiveLock);
	Oid			indexoid = known->key_index;
	Relation	rel;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	bool		decided = true;
	bool		isnull;

	if (!known->direct)
		return false;
	rel = table_open(known->codes, NoLock);

	/* as a statement of its own: see this transaction's earlier work */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(snapshot);
	slot = table_slot_create(rel, NULL);

	if (!find_code(rel, indexoid, snapshot, DatumGetUUIDP(args->values[0]), slot))
		out->reason = CODES_NOT_FOUND;
	else
	{
		out->guess = false;
		if (codes_batch_info(DatumGetInt32(slot_getattr(slot, COL_BATCH, &isnull)),
							 &out->batch) &&
			out->batch.per_redeemer_null &&
			codes_usable(&out->batch,
						 DatumGetInt32(slot_getattr(slot, COL_USES, &isnull))))
			lock_and_write(rel, snapshot, slot, args, out);
		else
			decided = false;
	}

	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	PopActiveSnapshot();
	UnregisterSnapshot(snapshot);
	return decided;
}

/*
 * Whether the code whose batch and uses are in out may be used now, by the
 * redeemer in args: CODES_OK, or why not.  A batch that limits the uses
 * per redeemer needs a redeemer (else 22004) and, for a multi-use code,
 * the redeemer's standing uses are counted; the caller holds the code's
 * row locked when it is about to use it.
 */
static CodesReason
judge(StmtArgs *args, const UseOutcome *out)
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
 * Use the code, if it can be used now, and say what happened in out.
 *
 * Most uses are use_directly's.  When it cannot decide (the table has
 * triggers; the code's batch limits the uses per redeemer; or, seen from
 * this statement's snapshot, the code cannot be used, which a concurrent
 * undo may be changing), the use is decided again with the row locked by
 * SQL, which at READ COMMITTED waits for any concurrent use or undo and
 * then sees its result, so that the redeemer's uses counted are all the
 * committed ones.  The UPDATE then fires every trigger an UPDATE fires; if
 * a BEFORE trigger skips it, nothing was used (reported as used up).
 */
static void
use_code(StmtArgs *args, UseOutcome *out)
{
	static SPIPlanPtr apply_plan = NULL;

	if (!use_directly(args, out))
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
 * Whether the code could be used now, without using it or locking it;
 * code_check's answer.
 */
static void
check_code(StmtArgs *args, UseOutcome *out)
{
	if (look_up_code(args, out))
		out->reason = judge(args, out);
	else
		out->reason = CODES_NOT_FOUND;
}

/*
 * Undo the latest standing use of the code (by the redeemer, if given);
 * true when there was one.  The row is locked first, so an undo and a use
 * of one code take turns.
 */
static bool
undo_code(StmtArgs *args)
{
	static SPIPlanPtr single_plan = NULL;
	static SPIPlanPtr multi_plan = NULL;
	UseOutcome	found;

	if (!lock_code(args, &found))
		return false;

	if (found.batch.max_uses == 1)
		run_stmt(&single_plan, undo_single_sql, args, false, SPI_OK_UPDATE);
	else
		run_stmt(&multi_plan, undo_multi_sql, args, false, SPI_OK_UPDATE);
	return SPI_processed == 1;
}

/*
 * A copy of a server key, in the current memory context, for the length of
 * a call: keys.c frees its keys when the key settings change, which a
 * user's trigger could do while a batch is being made.
 */
static const CodesKey *
copy_key(const CodesKey *key)
{
	CodesKey   *copy = palloc(sizeof(CodesKey));

	*copy = *key;
	copy->data = palloc(key->len);
	memcpy(copy->data, key->data, key->len);
	return copy;
}

/*
 * code_gen(num, valid_from, valid_until, pattern, max_uses, batch,
 *			 max_uses_per_redeemer, store, metadata)
 *
 * Check the arguments, then create the batch and return its codes.  Every
 * check comes before anything is written, so a refused call changes nothing.
 */
Datum
code_gen(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CodesBatchSpec spec;
	int			nestlevel;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("num must not be null")));
	spec.num = PG_GETARG_INT32(0);
	if (spec.num < 1 || spec.num > CODES_MAX_PER_CALL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num must be between 1 and %d", CODES_MAX_PER_CALL),
				 errdetail("num was %d.", spec.num)));

	spec.from_null = PG_ARGISNULL(1);
	spec.valid_from = spec.from_null ? 0 : PG_GETARG_TIMESTAMPTZ(1);
	spec.until_null = PG_ARGISNULL(2);
	spec.valid_until = spec.until_null ? 0 : PG_GETARG_TIMESTAMPTZ(2);
	if (!spec.from_null && !spec.until_null &&
		spec.valid_until < spec.valid_from)
	{
		/* timestamptz_to_str returns a static buffer: copy the first */
		char	   *from = pstrdup(timestamptz_to_str(spec.valid_from));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must not be before valid_from"),
				 errdetail("valid_from is %s, valid_until is %s.",
						   from, timestamptz_to_str(spec.valid_until))));
	}

	spec.pattern = NULL;
	if (!PG_ARGISNULL(3))
	{
		spec.pattern = text_to_cstring(PG_GETARG_TEXT_PP(3));
		codes_parse_pattern(spec.pattern, &spec.parsed);
		check_keyspace(&spec.parsed, spec.num);
	}

	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_uses must not be null")));
	spec.max_uses = PG_GETARG_INT32(4);
	if (spec.max_uses < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_uses must be at least 1"),
				 errdetail("max_uses was %d.", spec.max_uses)));

	/* 1.0 declares code_gen without max_uses_per_redeemer */
	spec.per_redeemer_null = PG_NARGS() < 7 || PG_ARGISNULL(6);
	spec.max_uses_per_redeemer = spec.per_redeemer_null ? 0 : PG_GETARG_INT32(6);
	if (!spec.per_redeemer_null &&
		(spec.max_uses_per_redeemer < 1 ||
		 spec.max_uses_per_redeemer > spec.max_uses))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_uses_per_redeemer must be between 1 and max_uses"),
				 errdetail("max_uses_per_redeemer was %d, max_uses %d.",
						   spec.max_uses_per_redeemer, spec.max_uses)));

	/* 1.0 declares code_gen without store */
	spec.hmac_key = NULL;
	if (PG_NARGS() > 7)
	{
		char	   *store;

		if (PG_ARGISNULL(7))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("store must not be null")));
		store = text_to_cstring(PG_GETARG_TEXT_PP(7));
		if (strcmp(store, "hmac") == 0)
			spec.hmac_key = copy_key(codes_current_key());
		else if (strcmp(store, "plain") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown store \"%s\"", store),
					 errhint("Use 'plain' (the default) or 'hmac'.")));
	}

	/* 1.1 declares code_gen without metadata */
	spec.metadata_null = PG_NARGS() < 9 || PG_ARGISNULL(8);
	spec.metadata = spec.metadata_null ? (Datum) 0 : PG_GETARG_DATUM(8);

	spec.name = NULL;
	if (!PG_ARGISNULL(5))
	{
		text	   *name = PG_GETARG_TEXT_PP(5);
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
		spec.name = text_to_cstring(name);
	}

	/* a batch may well fire a user's trigger: pin as a SET clause does */
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", PINNED_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	codes_generate(&spec, rsinfo->setResult, rsinfo->setDesc);
	AtEOXact_GUC(true, nestlevel);
	if (spec.hmac_key)
		explicit_bzero(spec.hmac_key->data, spec.hmac_key->len);

	return (Datum) 0;
}

/*
 * Add to out, for a code that was found, the name and metadata of its
 * batch, copied out of SPI's memory.
 */
static void
add_details(StmtArgs *args, UseOutcome *out)
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
 * code_redeem's action: use the code, and tell its batch.
 */
static void
redeem_action(StmtArgs *args, UseOutcome *out)
{
	use_code(args, out);
	add_details(args, out);
}

/*
 * code_check's action: whether the code could be used, and its batch.
 */
static void
check_action(StmtArgs *args, UseOutcome *out)
{
	check_code(args, out);
	add_details(args, out);
}

/*
 * code_query's action: the code's batch and uses, without a judgement of
 * the redeemer.
 */
static void
query_action(StmtArgs *args, UseOutcome *out)
{
	if (look_up_code(args, out))
		out->reason = codes_refusal(&out->batch, out->uses);
	else
		out->reason = CODES_NOT_FOUND;
}

/*
 * Run an action on the code argument (0) for the redeemer argument (1,
 * which may be NULL or missing), under the brake: a braked redeemer gets
 * CODES_BRAKED without a look-up, and a redeemer's guess, a code of which
 * no row is found, is counted (brake.c).  A code that exists but cannot be
 * used now (used up, out of its period, a lost race, even with a delete of
 * its batch) is no guess.  writes: the
 * action writes (see pin_search_path).
 */
static void
run_braked(FunctionCallInfo fcinfo, bool writes, CodeAction action,
		   UseOutcome *out)
{
	text	   *redeemer = (PG_NARGS() < 2 || PG_ARGISNULL(1)) ? NULL :
		PG_GETARG_TEXT_PP(1);
	Pin			pin;
	pg_uuid_t	key;
	StmtArgs	args;
	bool		connected;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("code must not be null")));
	memset(out, 0, sizeof(*out));
	out->reason = CODES_NOT_FOUND;
	out->guess = true;
	if (redeemer != NULL && codes_braked(redeemer))
	{
		out->reason = CODES_BRAKED;
		return;
	}

	connected = begin_op(fcinfo, writes, &pin, &key, &args);
	if (connected)
		action(&args, out);
	end_op(connected, &pin);

	if (out->guess && redeemer != NULL)
		codes_count_failure(redeemer);
}

/*
 * code_use(code, redeemer)
 *
 * SUCCEED when the code exists, has uses left (for this redeemer too, if
 * its batch limits that) and the transaction's time is inside its period;
 * the use, its time and the redeemer are recorded with it.  FAILED in
 * every other case, and for a redeemer braked for too many guesses,
 * without a look-up (run_braked).
 */
Datum
code_use(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	UseOutcome	out;

	begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_use()");
	run_braked(fcinfo, true, use_code, &out);
	end_hiding(&hiding);

	PG_RETURN_TEXT_P(cstring_to_text(out.reason == CODES_OK ?
									 CODES_SUCCEED : CODES_FAILED));
}

/*
 * The row that code_redeem and code_check return: (ok, reason, batch,
 * metadata, uses_left, valid_until).  For a code not found, and for a
 * braked redeemer, only ok and reason: a guesser learns nothing more.
 */
static Datum
outcome_row(FunctionCallInfo fcinfo, const UseOutcome *out)
{
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {false, false, true, true, true, true};
	const char *reason = codes_reason_name(out->reason);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);

	values[0] = BoolGetDatum(out->reason == CODES_OK);
	values[1] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[1] = (reason == NULL);
	if (out->reason != CODES_NOT_FOUND && out->reason != CODES_BRAKED)
	{
		values[2] = out->batch_name;
		nulls[2] = !out->have_details;
		values[3] = out->metadata;
		nulls[3] = !out->have_details || out->metadata_null;
		values[4] = Int32GetDatum(Max(out->batch.max_uses - out->uses, 0));
		nulls[4] = false;
		values[5] = TimestampTzGetDatum(out->batch.valid_until);
		nulls[5] = out->batch.until_null;
	}
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/*
 * Run a braked action (run_braked) for code_redeem or code_check, and
 * return its outcome as their row.  writer: the function's name if the
 * action writes, which a read-only transaction refuses; else NULL.
 */
static Datum
outcome_call(FunctionCallInfo fcinfo, const char *writer, CodeAction action)
{
	ErrorContextCallback hiding;
	UseOutcome	out;
	Datum		row;

	begin_hiding(&hiding);
	if (writer)
		PreventCommandIfReadOnly(writer);
	run_braked(fcinfo, writer != NULL, action, &out);
	row = outcome_row(fcinfo, &out);
	end_hiding(&hiding);
	return row;
}

/*
 * code_redeem(code, redeemer) returns (ok, reason, batch, metadata,
 * uses_left, valid_until)
 *
 * Use the code exactly as code_use does, and tell in the same call why it
 * failed, or which batch it belonged to and what that batch grants.
 */
Datum
code_redeem(PG_FUNCTION_ARGS)
{
	return outcome_call(fcinfo, "code_redeem()", redeem_action);
}

/*
 * code_check(code, redeemer) returns (ok, reason, batch, metadata,
 * uses_left, valid_until)
 *
 * code_redeem's answer without using the code: for a "check my code"
 * button.  Braked and counted as code_use is.  Read-only.
 */
Datum
code_check(PG_FUNCTION_ARGS)
{
	return outcome_call(fcinfo, NULL, check_action);
}

/*
 * code_undo(code, redeemer)
 *
 * Undo the latest standing use of the code (by that redeemer, if given):
 * the use counts again, and the history keeps it, marked undone.  SUCCEED,
 * or FAILED when there was no such use.
 */
Datum
code_undo(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	Pin			pin;
	pg_uuid_t	key;
	StmtArgs	args;
	bool		connected;
	bool		undone = false;

	begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_undo()");
	connected = begin_op(fcinfo, true, &pin, &key, &args);
	if (connected)
		undone = undo_code(&args);
	end_op(connected, &pin);
	end_hiding(&hiding);

	PG_RETURN_TEXT_P(cstring_to_text(undone ? CODES_SUCCEED : CODES_FAILED));
}

/*
 * code_query(code, redeemer)
 *
 * The code's status now.  With a redeemer, braked and counted as code_use
 * is: a braked redeemer gets NO EXISTED without a look-up.  Read-only, so
 * it runs on a hot standby (where the brake counts per server).
 */
Datum
code_query(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	UseOutcome	out;
	const char *status = CODES_NO_EXISTED;

	begin_hiding(&hiding);
	run_braked(fcinfo, false, query_action, &out);
	if (out.reason != CODES_NOT_FOUND && out.reason != CODES_BRAKED)
		status = codes_status(&out.batch, out.uses);
	end_hiding(&hiding);

	PG_RETURN_TEXT_P(cstring_to_text(status));
}

/*
 * code_normalize(code) returns text
 *
 * The code as it is handed out, for text as a person may have typed it;
 * NULL when the text has the shape of no batch's codes.  Whether such a
 * code exists is not looked up: the answer tells no more than code_valid.
 */
Datum
code_normalize(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hiding;
	Pin			pin;
	const CodesShape *shapes;
	int			nshapes;
	char	   *normal;

	begin_hiding(&hiding);
	pin_search_path(&pin);
	codes_refresh_batch_cache();
	shapes = codes_known_shapes(&nshapes);
	normal = codes_normal_form(PG_GETARG_TEXT_PP(0), shapes, nshapes);
	unpin_search_path(&pin);
	end_hiding(&hiding);

	if (normal == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(normal));
}

/*
 * code_del(code)
 *
 * Delete the code and its history.  SUCCEED whether or not it existed:
 * afterwards it does not.  A concurrent use holding the row makes the
 * delete wait for it.
 */
Datum
code_del(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	ErrorContextCallback hiding;
	Pin			pin;
	pg_uuid_t	key;
	StmtArgs	args;
	bool		connected;

	begin_hiding(&hiding);
	PreventCommandIfReadOnly("code_del()");
	connected = begin_op(fcinfo, true, &pin, &key, &args);
	if (connected)
		run_stmt(&plan, del_sql, &args, false, SPI_OK_DELETE);
	end_op(connected, &pin);
	end_hiding(&hiding);

	PG_RETURN_TEXT_P(cstring_to_text(CODES_SUCCEED));
}

/*
 * code_valid(code text, pattern text) returns boolean
 *
 * True when the code, read as input is, has the pattern's shape and, if
 * the pattern has one, a correct check symbol.  Touches no table, so a web
 * form may call it before a code is ever looked up.
 */
Datum
code_valid(PG_FUNCTION_ARGS)
{
	char		canon[CODES_MAX_PATTERN + 1];
	int			len = codes_canonical_form(PG_GETARG_TEXT_PP(0), canon);
	CodesPattern pat;

	codes_parse_pattern(text_to_cstring(PG_GETARG_TEXT_PP(1)), &pat);
	PG_RETURN_BOOL(len >= 0 && codes_pattern_matches(&pat, canon, len));
}

/*
 * key_fold(uuid) returns bigint
 *
 * codes_key_fold, for the index expression.
 */
Datum
key_fold(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(codes_key_fold(PG_GETARG_UUID_P(0)));
}

/*
 * code_status(batch integer, uses integer) returns text
 *
 * The status of a code of that batch with that many uses, as code_query
 * reports it; for batch_codes.  Reads codes.batch with the latest snapshot,
 * so it is VOLATILE and PARALLEL UNSAFE.
 */
Datum
code_status(PG_FUNCTION_ARGS)
{
	CodesBatchInfo batch;

	if (!codes_batch_info(PG_GETARG_INT32(0), &batch))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(codes_status(&batch, PG_GETARG_INT32(1))));
}

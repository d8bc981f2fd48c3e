/*-------------------------------------------------------------------------
 *
 * tables.c
 *	  What the operations on codes know of the tables they write,
 *	  codes.codes, codes.redemption_log and codes.use_stripes: their OIDs
 *	  and those of the indexes the direct paths scan, whether a write to
 *	  them may run a user's code, and whether the direct paths
 *	  (store_direct.c, stripes.c, history.c) may write them.
 *
 * Looked up with the tables locked (codes_tables) and forgotten when the
 * relcache entry of a table or of one of those indexes is invalidated.
 * Current while tables_read equals tables_changes.
 *
 * Calls citus.c (where the tables' rows are); called by the table
 * (store.c, store_direct.c, stripes.c, history.c), and by codes.c to
 * register its relcache callback (_PG_init).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "citus.h"
#include "tables.h"

static CodesTables tables;
static uint64 tables_changes = 1;
static uint64 tables_read = 0;

/* The columns of each table, in the order the install scripts make them. */
static const char *const codes_columns[] = {
	"batch", "uses", "code", "used_at", "used_by", "shown", "deactivated_at",
	"bound_to", "metadata"
};
static const char *const log_columns[] = {
	"id", "code", "batch", "redeemer", "used_at", "undone_at", "reference",
	"details", "held_until"
};
static const char *const stripes_columns[] = {
	"code", "batch", "uses", "stripe"
};

/*
 * Relcache callback: forget what codes_tables knows when one of the tables
 * or indexes changes, or when the whole relcache is reset.
 */
static void
codes_rel_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == tables.codes ||
		relid == tables.key_index || relid == tables.log ||
		relid == tables.log_index || relid == tables.log_redeemer_index ||
		relid == tables.log_batch_index || relid == tables.stripes ||
		relid == tables.stripes_index)
		tables_changes++;
}

/*
 * Register codes_rel_invalidate; called from _PG_init.
 */
void
codes_init_tables(void)
{
	CacheRegisterRelcacheCallback(codes_rel_invalidate, (Datum) 0);
}

/*
 * Can a write to the table run a user's code, which must then see the
 * search_path its own SET clause gives it (codes_pin_search_path)?  It can if
 * the table has triggers (a foreign key's too), rules, row security,
 * CHECK constraints, generated columns,
 * columns of domain or other non-base types, or more indexes or defaults
 * than the extension made.
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
 * May a scan use this index: is it valid, ready and live (not one that a
 * failed CREATE INDEX CONCURRENTLY left behind, say)?
 */
static bool
index_usable(Form_pg_index index)
{
	return index->indisvalid && index->indisready && index->indislive;
}

/*
 * Are the columns of the table the ones the direct paths write, where
 * they write them: names, in order, none dropped?
 */
static bool
columns_as_made(Relation rel, const char *const *names, int n)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (desc->natts != n)
		return false;
	for (i = 0; i < n; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), names[i]) != 0)
			return false;
	}
	return true;
}

/*
 * Is the index as an install script made it, so that a direct path may
 * scan it: usable (valid, ready, live), on exactly these columns
 * (attribute numbers) of rel, with their types' default btree operator
 * classes (so a btree),
 * without expressions or a predicate?  A partial one would hide rows, and
 * one left by a cancelled CREATE INDEX CONCURRENTLY cannot be scanned.
 * Unique indexes (keys) are given with unique.
 */
static bool
index_as_made(Relation rel, Oid indexoid, int ncols, const AttrNumber *cols,
			  bool unique)
{
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	tuple;
	Form_pg_index index;
	Datum		indclass;
	bool		isnull;
	bool		usable;
	int			i;

	if (!OidIsValid(indexoid))
		return false;
	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	if (!HeapTupleIsValid(tuple))
		return false;
	index = (Form_pg_index) GETSTRUCT(tuple);
	usable = index->indrelid == RelationGetRelid(rel) && index_usable(index) &&
		index->indnatts == ncols && index->indnkeyatts == ncols &&
		index->indisunique == unique &&
		heap_attisnull(tuple, Anum_pg_index_indexprs, NULL) &&
		heap_attisnull(tuple, Anum_pg_index_indpred, NULL);
	if (usable)
		indclass = SysCacheGetAttr(INDEXRELID, tuple, Anum_pg_index_indclass,
								   &isnull);
	for (i = 0; usable && i < ncols; i++)
		usable = !isnull && index->indkey.values[i] == cols[i] &&
			((oidvector *) DatumGetPointer(indclass))->values[i] ==
			GetDefaultOpClass(TupleDescAttr(desc, cols[i] - 1)->atttypid,
							  BTREE_AM_OID);
	ReleaseSysCache(tuple);
	return usable;
}

/*
 * After a change to the tables: look up their OIDs again; error if one of
 * what every operation needs is missing.
 */
static void
look_up_tables(void)
{
	Oid			nsp = get_namespace_oid("codes", false);

	tables.codes = get_relname_relid("codes", nsp);
	tables.key_index = get_relname_relid("codes_key_fold", nsp);
	tables.log = get_relname_relid("redemption_log", nsp);
	tables.log_seq = get_relname_relid("redemption_log_id_seq", nsp);
	tables.log_index = get_relname_relid("redemption_log_code", nsp);
	tables.log_redeemer_index = get_relname_relid("redemption_log_redeemer", nsp);
	tables.log_batch_index = get_relname_relid("redemption_log_batch", nsp);
	tables.stripes = get_relname_relid("use_stripes", nsp);
	tables.stripes_index = get_relname_relid("use_stripes_pkey", nsp);
	if (!OidIsValid(tables.codes) || !OidIsValid(tables.key_index) ||
		!OidIsValid(tables.log) || !OidIsValid(tables.stripes))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("a table or index of extension codes is missing"),
				 errdetail("Schema codes must hold the tables codes, redemption_log and use_stripes and the index codes_key_fold."),
				 errhint("Reinstall the extension: DROP EXTENSION codes; CREATE EXTENSION codes.")));
}

/*
 * With the tables locked: what the operations need to know of them (see
 * CodesTables).  The direct paths need every table as the install scripts
 * made it, running no user's code, and kept by this server itself (not
 * Citus's shards).
 */
static void
judge_tables(void)
{
	static const AttrNumber key_cols[] = {CODES_STRIPE_COL_CODE, CODES_STRIPE_COL_STRIPE};
	static const AttrNumber code_id[] = {CODES_LOG_COL_CODE, CODES_LOG_COL_ID};
	static const AttrNumber redeemer_code_id[] = {CODES_LOG_COL_REDEEMER,
	CODES_LOG_COL_CODE, CODES_LOG_COL_ID};
	static const AttrNumber batch_redeemer[] = {CODES_LOG_COL_BATCH, CODES_LOG_COL_REDEEMER};
	Relation	codes = table_open(tables.codes, NoLock);
	Relation	log = table_open(tables.log, NoLock);
	Relation	stripes = table_open(tables.stripes, NoLock);
	bool		codes_plain;
	bool		log_plain;
	bool		stripes_plain;
	bool		usable;
	HeapTuple	tuple;

	tables.rules = codes->rd_rules != NULL || log->rd_rules != NULL ||
		stripes->rd_rules != NULL;
	codes_plain = !runs_user_code(codes, 2, 1);
	log_plain = !runs_user_code(log, 5, 1);
	stripes_plain = !runs_user_code(stripes, 1, 0);
	tables.user_code = !codes_plain || !log_plain || !stripes_plain;

	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(tables.key_index));
	usable = HeapTupleIsValid(tuple) &&
		index_usable((Form_pg_index) GETSTRUCT(tuple));
	if (HeapTupleIsValid(tuple))
		ReleaseSysCache(tuple);

	tables.log_remote = codes_placement(tables.log) != CODES_PLAIN_TABLE;
	tables.direct = codes_plain && usable &&
		columns_as_made(codes, codes_columns, lengthof(codes_columns)) &&
		codes_placement(tables.codes) == CODES_PLAIN_TABLE &&
		!tables.log_remote &&
		codes_placement(tables.stripes) == CODES_PLAIN_TABLE;
	tables.direct_multi = tables.direct && log_plain && stripes_plain &&
		OidIsValid(tables.log_seq) &&
		columns_as_made(log, log_columns, lengthof(log_columns)) &&
		columns_as_made(stripes, stripes_columns, lengthof(stripes_columns)) &&
		index_as_made(log, tables.log_index, 2, code_id, true) &&
		index_as_made(log, tables.log_redeemer_index, 3, redeemer_code_id, false) &&
		index_as_made(log, tables.log_batch_index, 2, batch_redeemer, false) &&
		index_as_made(stripes, tables.stripes_index, 2, key_cols, true);
	tables.direct_delete = tables.direct_multi && !tables.user_code;

	table_close(stripes, NoLock);
	table_close(log, NoLock);
	table_close(codes, NoLock);
}

/*
 * Lock codes.codes, codes.redemption_log and codes.use_stripes (mode:
 * RowExclusiveLock for an operation that writes, AccessShareLock for one
 * that reads) and return what the operations need to know of them (see
 * CodesTables).  Locking first takes in any change committed before, and
 * keeps CREATE TRIGGER, RULE or INDEX from changing them until the
 * transaction ends.  A read locks codes.codes and codes.use_stripes only,
 * as the SELECTs it stands for do (so it never waits for a VACUUM FULL of
 * the log), unless what is known of the tables must be looked up again.
 */
const CodesTables *
codes_tables(LOCKMODE mode)
{
	for (;;)
	{
		uint64		changes = tables_changes;

		if (tables_read != changes)
			look_up_tables();

		/* takes in invalidations: if the tables changed meanwhile, again */
		LockRelationOid(tables.codes, mode);
		LockRelationOid(tables.stripes, mode);
		if (mode != AccessShareLock || tables_read != changes)
			LockRelationOid(tables.log, mode);
		if (tables_changes != changes)
			continue;
		if (tables_read == changes)
			return &tables;

		judge_tables();
		if (tables_changes == changes)
		{
			tables_read = changes;
			return &tables;
		}
	}
}

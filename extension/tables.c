/*-------------------------------------------------------------------------
 *
 * tables.c
 *	  What the operations on codes know of the tables they write,
 *	  codes.codes and codes.redemption_log: their OIDs, whether a write to
 *	  them may run a user's code, and whether the direct paths
 *	  (store_direct.c) may write them.
 *
 * Looked up with the tables locked (codes_tables) and forgotten when the
 * relcache entry of either table or of their indexes on the code is
 * invalidated.
 * Current while tables_read equals tables_changes.
 *
 * Calls citus.c (where the tables' rows are); called by the table
 * (store.c, store_direct.c), and by codes.c to register its relcache
 * callback (_PG_init).
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

/* The columns of codes.codes, in the order the install scripts make them. */
static const char *const codes_columns[] = {
	"batch", "uses", "code", "used_at", "used_by", "shown"
};
/*
 * Relcache callback: forget what codes_tables knows when one of the tables
 * changes, or when the whole relcache is reset.
 */
static void
codes_rel_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == tables.codes ||
		relid == tables.key_index || relid == tables.log ||
		relid == tables.log_index)
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
 * May a scan use this index: is it valid, ready and live (not one that a
 * failed CREATE INDEX CONCURRENTLY left behind, say)?
 */
static bool
index_usable(Form_pg_index index)
{
	return index->indisvalid && index->indisready && index->indislive;
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
	usable = index_usable((Form_pg_index) GETSTRUCT(tuple));
	ReleaseSysCache(tuple);
	return usable;
}

/*
 * Is the index of codes.redemption_log on code as the install script made
 * it, so that the direct delete may scan it for a code's history: usable
 * (valid, ready, live), a btree on that column alone, with the default
 * operator class of uuid, without expressions or a predicate?  A partial
 * one would hide history, and one left by a cancelled CREATE INDEX
 * CONCURRENTLY cannot be scanned.
 */
static bool
log_index_as_made(Relation log, Oid indexoid)
{
	TupleDesc	desc = RelationGetDescr(log);
	HeapTuple	tuple;
	Form_pg_index index;
	Datum		indclass;
	bool		isnull;
	bool		usable;

	if (!OidIsValid(indexoid) || desc->natts < CODES_LOG_COL_CODE)
		return false;
	if (TupleDescAttr(desc, CODES_LOG_COL_CODE - 1)->attisdropped ||
		TupleDescAttr(desc, CODES_LOG_COL_CODE - 1)->atttypid != UUIDOID ||
		strcmp(NameStr(TupleDescAttr(desc, CODES_LOG_COL_CODE - 1)->attname), "code") != 0)
		return false;

	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	if (!HeapTupleIsValid(tuple))
		return false;
	index = (Form_pg_index) GETSTRUCT(tuple);
	usable = index->indrelid == RelationGetRelid(log) && index_usable(index) &&
		index->indnatts == 1 && index->indkey.values[0] == CODES_LOG_COL_CODE &&
		heap_attisnull(tuple, Anum_pg_index_indexprs, NULL) &&
		heap_attisnull(tuple, Anum_pg_index_indpred, NULL);
	if (usable)
	{
		indclass = SysCacheGetAttr(INDEXRELID, tuple, Anum_pg_index_indclass,
								   &isnull);
		usable = !isnull &&
			((oidvector *) DatumGetPointer(indclass))->values[0] ==
			GetDefaultOpClass(UUIDOID, BTREE_AM_OID);
	}
	ReleaseSysCache(tuple);
	return usable;
}

/*
 * Lock codes.codes and codes.redemption_log (mode: RowExclusiveLock for
 * an operation that writes, AccessShareLock for one that reads) and
 * return what the operations need to know of them (see CodesTables).
 * Locking first takes in any change committed before, and keeps CREATE
 * TRIGGER, RULE or INDEX from changing them until the transaction ends.
 * A read locks codes.codes only, as the SELECT it stands for does (so it
 * never waits for a VACUUM FULL of the log), unless what is known of the
 * tables must be looked up again.
 */
const CodesTables *
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
			tables.log_index = get_relname_relid("redemption_log_code", nsp);
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
		if (mode != AccessShareLock || tables_read != changes)
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
		tables.direct_delete = tables.direct && !tables.user_code &&
			log_index_as_made(log, tables.log_index);
		table_close(log, NoLock);
		table_close(codes, NoLock);

		if (tables_changes == changes)
		{
			tables_read = changes;
			return &tables;
		}
	}
}

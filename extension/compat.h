/*
 * compat.h: every PG_VERSION_NUM difference, and nothing else.
 *
 * codes builds from one source tree against PostgreSQL 15 to 18.  Each
 * difference between those versions' server APIs that codes meets is
 * here, behind a PG_VERSION_NUM check whose comment names the version it
 * is for; the rest of the code calls these names and has no version
 * checks of its own.  15, 17 and 18 are built and tested
 * (scripts/test.sh); 16 takes the same branches as 17, as each change
 * below came in 16, 17 or 18 and is still in 18.
 */
#ifndef CODES_COMPAT_H
#define CODES_COMPAT_H

#include "access/genam.h"
#include "access/tableam.h"		/* TU_UpdateIndexes, 16 */
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "nodes/bitmapset.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"	/* addRTEPermissionInfo, 16 */
#endif

/*
 * PostgreSQL 16 moved the varlena macros (VARDATA_ANY, VARSIZE_ANY_EXHDR)
 * out of postgres.h into varatt.h, which postgres.h does not include; a
 * file that includes no header that does (text.c) includes it from here.
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * PostgreSQL 17 removed the override search path stack
 * (PushOverrideSearchPath, PopOverrideSearchPath; the OverrideSearchPath
 * struct became SearchPathMatcher).  On 15 and 16 an operation may push
 * a path of pg_catalog alone; from 17 on, CODES_HAVE_OVERRIDE_SEARCH_PATH
 * is false and the caller pins search_path as a function's SET clause
 * does (NewGUCNestLevel, set_config_option, AtEOXact_GUC), and must not
 * call these two.
 */
#if PG_VERSION_NUM < 170000
#define CODES_HAVE_OVERRIDE_SEARCH_PATH true

static inline void
compat_push_catalog_search_path(void)
{
	/* PushOverrideSearchPath copies what it needs of this */
	static OverrideSearchPath catalog_only = {
		.schemas = NIL,
		.addCatalog = true,
		.addTemp = false,
	};

	PushOverrideSearchPath(&catalog_only);
}

static inline void
compat_pop_catalog_search_path(void)
{
	PopOverrideSearchPath();
}
#else
#define CODES_HAVE_OVERRIDE_SEARCH_PATH false

static inline void
compat_push_catalog_search_path(void)
{
	elog(ERROR, "the override search path stack is gone in PostgreSQL 17");
}

static inline void
compat_pop_catalog_search_path(void)
{
	elog(ERROR, "the override search path stack is gone in PostgreSQL 17");
}
#endif

/*
 * Set up an EState's range table of one relation, rte (a table the
 * caller updates through ExecSimpleRelationUpdate), whose updated
 * columns are updated_cols (attribute numbers offset by
 * FirstLowInvalidHeapAttributeNumber).  The executor reads them, for
 * instance to tell index_insert whether an index's columns changed on a
 * non-HOT update (ExecGetUpdatedCols).
 *
 * PostgreSQL 16 moved the permission fields (and so updatedCols) of a
 * RangeTblEntry into an RTEPermissionInfo, which ExecInitRangeTable takes
 * in a list of its own; without one, any non-HOT update fails ("invalid
 * perminfoindex 0").  PostgreSQL 18 adds the set of range table indexes
 * that survived initial pruning (all of them, here).  This is what
 * PostgreSQL's logical replication worker does in create_edata_for_relation.
 */
static inline void
compat_init_range_table(EState *estate, RangeTblEntry *rte,
						Bitmapset *updated_cols)
{
#if PG_VERSION_NUM >= 160000
	List	   *perminfos = NIL;
	RTEPermissionInfo *perminfo;

	/* 16: permissions and updated columns in an RTEPermissionInfo */
	perminfo = addRTEPermissionInfo(&perminfos, rte);
	perminfo->requiredPerms = ACL_UPDATE;
	perminfo->updatedCols = updated_cols;
#if PG_VERSION_NUM >= 180000
	/* 18: and the unpruned relations */
	ExecInitRangeTable(estate, list_make1(rte), perminfos,
					   bms_make_singleton(1));
#else
	ExecInitRangeTable(estate, list_make1(rte), perminfos);
#endif
#else
	/* 15: in the RangeTblEntry */
	rte->requiredPerms = ACL_UPDATE;
	rte->updatedCols = updated_cols;
	ExecInitRangeTable(estate, list_make1(rte));
#endif
}

/*
 * PostgreSQL 18 gave index_beginscan an IndexScanInstrumentation * (for
 * EXPLAIN ANALYZE's index search counts), before nkeys; codes has none.
 */
#if PG_VERSION_NUM >= 180000
#define compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

/*
 * PostgreSQL 16 made table_tuple_update's update_indexes a TU_UpdateIndexes
 * (none, all, or only summarizing indexes, whose updates stay HOT), which
 * ExecInsertIndexTuples takes as its onlySummarizing; 15 has a boolean.
 * compat_update_index_tuples adds the index entries of a row that
 * table_tuple_update replaced, as an UPDATE does; compat_insert_index_tuples
 * those of a new row (not summarizing only), as an INSERT does.
 */
#if PG_VERSION_NUM >= 160000
typedef TU_UpdateIndexes CompatUpdateIndexes;

static inline void
compat_update_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot,
						   EState *estate, CompatUpdateIndexes update_indexes)
{
	if (update_indexes != TU_None)
		list_free(ExecInsertIndexTuples(rri, slot, estate, true, false, NULL,
										NIL, update_indexes == TU_Summarizing));
}

/* The index entries of a new row, as an INSERT adds them. */
static inline void
compat_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot,
						   EState *estate)
{
	list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL,
									NIL, false));
}
#else
typedef bool CompatUpdateIndexes;

static inline void
compat_update_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot,
						   EState *estate, CompatUpdateIndexes update_indexes)
{
	if (update_indexes)
		list_free(ExecInsertIndexTuples(rri, slot, estate, true, false, NULL,
										NIL));
}

static inline void
compat_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot,
						   EState *estate)
{
	list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL,
									NIL));
}
#endif

#endif							/* CODES_COMPAT_H */

/*-------------------------------------------------------------------------
 *
 * sqlversion.c
 *	  Whether the database's SQL objects of codes are the version this
 *	  library serves: every entry point that reads or writes the
 *	  extension's tables calls codes_require_sql_version first.
 *
 * The library serves one version of the extension's SQL, CODES_VERSION
 * (the Makefile's EXTVERSION).  Between installing a new version's files
 * and ALTER EXTENSION codes UPDATE in a database, the database's tables
 * and functions are still the old version's, and the new library's
 * statements would fail on them in ways that say nothing of the cause
 * (column b.pattern does not exist).  So each such call is refused first,
 * with an error that names the fix.  The functions that touch no table
 * (key_fold, which the unique index calls, code_valid, the trigger
 * batch_changed, which the update scripts fire, and those of the brake
 * and of progress) work with any version.
 *
 * pg_extension is read once per backend, and again after any change to a
 * schema (the catcache invalidation of pg_namespace): DROP EXTENSION drops
 * schema codes, so a backend that outlives a drop and a CREATE EXTENSION
 * of an older version reads the version again.  A refused call reads it
 * again each time, so the first call after the update succeeds.
 *
 * The same first call checks that the roles of codes in this database
 * were chosen for it: a copy of another database that has codes refuses
 * every call until it has roles of its own (require_own_roles).
 *
 * Beside the layers: calls no other file of the extension; called by the
 * SQL entry points (codes.c, code_gen.c, code_control.c, code_add.c,
 * checkout.c, and lock_batch_rules in batch_rules.c), and set up by
 * codes.c (_PG_init).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "sqlversion.h"

#ifndef CODES_VERSION
#error "CODES_VERSION must be defined (the Makefile passes its EXTVERSION)"
#endif

/* Was the installed version read as CODES_VERSION since the last change? */
static bool sql_current = false;

/*
 * Syscache callback: a schema changed, which DROP EXTENSION does; read
 * the installed version again.
 */
static void
namespace_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	sql_current = false;
}

/*
 * Register namespace_changed; called from _PG_init.
 */
void
codes_init_sql_version(void)
{
	CacheRegisterSyscacheCallback(NAMESPACEOID, namespace_changed, (Datum) 0);
}

/*
 * The version of extension codes installed in this database, palloc'd, or
 * NULL if it is not installed.
 */
static char *
installed_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("codes"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		datum = heap_getattr(tuple, Anum_pg_extension_extversion,
										 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(datum));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * Is version a older than version b?  Both are "major.minor"; a version
 * of another form is taken for neither older nor newer.
 */
static bool
older_than(const char *a, const char *b)
{
	int			amajor,
				aminor,
				bmajor,
				bminor;

	if (sscanf(a, "%d.%d", &amajor, &aminor) != 2 ||
		sscanf(b, "%d.%d", &bmajor, &bminor) != 2)
		return false;
	return amajor < bmajor || (amajor == bmajor && aminor < bminor);
}

/*
 * Refuse a database copied from another that has codes (CREATE DATABASE
 * ... TEMPLATE, or from a template1 that has it): its codes.roles name
 * that one's roles, so an admin of one would be an admin of the other,
 * until codes.set_privileges gives the copy roles of its own.  The rule
 * and its error (55000) are codes.roles_are_own()'s, which the admin
 * views call too; called here through fmgr, which checks no right of the
 * caller's.
 */
static void
require_own_roles(void)
{
	Oid			fn = LookupFuncName(list_make2(makeString("codes"),
											   makeString("roles_are_own")),
									0, NULL, false);

	(void) OidFunctionCall0(fn);
}

/*
 * Raise an error unless the extension's SQL objects in this database are
 * the version this library serves: 55000 with a hint to run ALTER
 * EXTENSION codes UPDATE when they are older, or to install the library
 * of their version when they are newer.
 */
void
codes_require_sql_version(void)
{
	char	   *installed;

	if (sql_current)
		return;

	installed = installed_version();
	if (installed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"codes\" is not installed in this database")));
	if (strcmp(installed, CODES_VERSION) == 0)
	{
		pfree(installed);
		require_own_roles();
		sql_current = true;
		return;
	}
	if (older_than(installed, CODES_VERSION))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"codes\" must be updated in this database"),
				 errdetail("The extension's objects are version %s; its library is version %s, which serves version %s only.",
						   installed, CODES_VERSION, CODES_VERSION),
				 errhint("Run ALTER EXTENSION codes UPDATE in this database.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the library of extension \"codes\" is older than the extension in this database"),
			 errdetail("The extension's objects are version %s; its library is version %s.",
					   installed, CODES_VERSION),
			 errhint("Install version %s of codes on this server, and restart it.",
					 installed)));
}

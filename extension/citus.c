/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  What Citus has done with the extension's tables.
 *
 * On Citus the tables may be distributed (codes.distribute() makes
 * codes.codes and codes.redemption_log hash-distributed by code and
 * codes.batch a reference table).  The coordinator's own relation of such
 * a table is then an empty shell; its rows live in shards, which Citus
 * reaches when a statement names the table.  So the direct use path,
 * which reads and writes the relation itself, must step aside for the
 * SQL path; and the batch cache may be trusted only where a change to
 * codes.batch fires its triggers in this server, that is where this node
 * holds a copy (placement) of the reference table.
 *
 * The functions run on the coordinator only: a worker's sequences would
 * give batch and history ids that the coordinator has given too, and its
 * brake would count apart (codes_citus_worker).
 *
 * Callers ask once per relcache invalidation of the table (Citus
 * invalidates a table's relcache entry when it distributes the table or
 * moves its placements), so a server without Citus pays one syscache
 * look-up per invalidation and nothing per call.  Reads only Citus's
 * catalogs; touches no table of the extension.
 *
 * The bottom layer, beside text.c: calls no other file of the extension;
 * called by tables.c, batch.c and gen_insert.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "citus.h"

/* Is the table in Citus's metadata, and does this node hold a copy of it? */
static const char *const placement_sql =
"SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p "
"               WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1), "
"       EXISTS (SELECT FROM pg_catalog.pg_dist_shard AS s "
"               JOIN pg_catalog.pg_dist_placement AS pl "
"                 ON pl.shardid OPERATOR(pg_catalog.=) s.shardid "
"               JOIN pg_catalog.pg_dist_local_group AS g "
"                 ON g.groupid OPERATOR(pg_catalog.=) pl.groupid "
"               WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1)";

/*
 * Run a read of Citus's catalogs connected to SPI, with the latest
 * snapshot rather than the caller's: the answer is kept until the next
 * relcache invalidation, which this backend may have taken in under a
 * snapshot older than the change it announces (a REPEATABLE READ
 * transaction, or a lock wait).  The caller reads SPI_tuptable and calls
 * SPI_finish.
 */
static void
read_citus_catalog(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	SPIPlanPtr	plan;
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	ret = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading Citus's catalogs failed: %s",
			 SPI_result_code_string(ret));
}

/*
 * Where Citus keeps the rows of the table relid: CODES_PLAIN_TABLE for a
 * table Citus does not manage (or no Citus at all), else
 * CODES_CITUS_WITH_COPY when this node holds a copy of one of its shards
 * and CODES_CITUS_ELSEWHERE when it holds none.
 */
CodesPlacement
codes_placement(Oid relid)
{
	Oid			argtype = REGCLASSOID;
	Datum		arg = ObjectIdGetDatum(relid);
	CodesPlacement placement = CODES_PLAIN_TABLE;
	bool		isnull;

	if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
		return CODES_PLAIN_TABLE;

	read_citus_catalog(placement_sql, 1, &argtype, &arg);
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
								   SPI_tuptable->tupdesc, 1, &isnull)))
		placement = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull)) ?
			CODES_CITUS_WITH_COPY : CODES_CITUS_ELSEWHERE;
	SPI_finish();
	return placement;
}

/*
 * Is this node a Citus worker (in a cluster, and not its coordinator)?
 * False where Citus is absent.  Told by the node's group, not by the
 * extension's tables, so that a worker is recognized whether or not it
 * holds Citus's metadata of them.
 */
bool
codes_citus_worker(void)
{
	bool		worker;
	bool		isnull;

	if (!OidIsValid(get_relname_relid("pg_dist_local_group", PG_CATALOG_NAMESPACE)))
		return false;
	read_citus_catalog("SELECT g.groupid OPERATOR(pg_catalog.<>) 0 "
					   "FROM pg_catalog.pg_dist_local_group AS g", 0, NULL, NULL);
	worker = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return worker;
}

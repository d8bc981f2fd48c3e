/*-------------------------------------------------------------------------
 *
 * brake.c
 *	  A brake on guessing: failed uses are counted per redeemer in shared
 *	  memory, and a redeemer with too many of them gets FAILED for every
 *	  use, without a look-up, until its window has passed.
 *
 * Shared memory, because the count must survive the caller's rollback (a
 * guesser's transaction may well roll back after FAILED) and be seen by
 * every backend; so the brake needs codes in shared_preload_libraries.
 * Without it, code_use works unbraked.  A restart forgets the counts, and
 * so does the crash of any backend (the server then makes its shared
 * memory anew).
 *
 * Redeemers are kept by database and a 128-bit hash of their text, with
 * the text's first bytes for the codes.throttled view.  One LWLock guards
 * the table; it is held for a hash look-up (or a copy) only, never across
 * a statement nor while a result set is built, so two redeemers never wait
 * for each other's transactions.
 *
 * The table holds at most codes.max_redeemers entries (the shared memory
 * is sized for that), and junk redeemers cost a guesser nothing, so a full
 * table must not let a new redeemer go uncounted.  The table is shared by
 * every database, and a flood of junk in one must neither lift a brake
 * nor hide a bot in another: each database in the table is guaranteed an
 * equal share of it, codes.max_redeemers divided by the number of
 * databases with entries (counted in a second table, by database).  When
 * the table is full, one sweep makes room for 1/16 of it at once, so that
 * the next new redeemers go in without a scan: it forgets every entry
 * whose window has passed and that is not braked (or whose brake has
 * ended).  If that is not enough, a database that holds its share or more
 * makes room among its own entries only: the unbraked ones with the
 * fewest failures, oldest window first among equals, never a braked one.
 * A database below its share takes the room from the databases above
 * theirs, down to their share: their unbraked entries first, as above,
 * then their braked ones, the brake that ends first first; so a flood can
 * take from another database only what that database holds beyond its
 * share.  When a sweep of a database at its share cannot free 1/16 of the
 * table (nearly every entry of it is braked), that database's new
 * redeemers go uncounted, with a warning, without another sweep until as
 * many have been turned away or the first of its brakes has ended; so the
 * cost of a sweep is shared by at least 1/16 of the table's worth of new
 * redeemers.
 *
 * Beside the layers: calls no other file of the extension, and is called
 * by the SQL entry points (codes.c), which brake and count before and after
 * the table's work, and set it up (_PG_init); its own SQL functions,
 * throttled and throttle_reset, read and reset its shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "brake.h"

PG_FUNCTION_INFO_V1(throttled);
PG_FUNCTION_INFO_V1(throttle_reset);

/* Bytes of a redeemer's text kept for the view. */
#define REDEEMER_SHOWN	64

/* A redeemer of one database, by the hash of its text. */
typedef struct BrakeKey
{
	Oid			dbid;
	uint64		h1;
	uint64		h2;
} BrakeKey;

/* What the brake knows of one redeemer. */
typedef struct BrakeEntry
{
	BrakeKey	key;
	char		redeemer[REDEEMER_SHOWN + 1];
	int32		failures;		/* in the current window */
	TimestampTz window_end;		/* end of the window of the first failure */
	TimestampTz until;			/* braked until then; 0 if not braked */
} BrakeEntry;

/*
 * A database with entries in the table, and its sweeps; guarded by
 * brake_lock.  A database whose last entry goes is forgotten.
 */
typedef struct BrakeDb
{
	Oid			dbid;
	int32		entries;		/* its entries in the table */
	int32		misses_left;	/* new redeemers to turn away without a sweep */
	TimestampTz next_sweep;		/* ... unless now has reached this */
} BrakeDb;

/* One of the redeemers codes.throttled lists, copied out of the table. */
typedef struct BrakeRow
{
	char		redeemer[REDEEMER_SHOWN + 1];
	int32		failures;
	TimestampTz until;			/* 0 if not braked */
} BrakeRow;

/* Settings (README.md, A brake on guessing). */
static int	max_failures = 10;
static int	failure_window = 15 * 60;	/* seconds */
static int	max_redeemers = 10000;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static LWLock *brake_lock = NULL;
static HTAB *brake_table = NULL;
static HTAB *brake_dbs = NULL;
static bool brake_loaded = false;

/*
 * Reserve the shared memory for max_redeemers entries, as many databases
 * (and one more) and one lock.
 */
static void
brake_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(hash_estimate_size(max_redeemers,
													   sizeof(BrakeEntry)),
									hash_estimate_size(max_redeemers + 1,
													   sizeof(BrakeDb))));
	RequestNamedLWLockTranche("codes", 1);
}

/*
 * Attach to (or create) the shared tables of redeemers and databases.
 */
static void
brake_shmem_startup(void)
{
	HASHCTL		info;
	HASHCTL		dbinfo;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	brake_lock = &(GetNamedLWLockTranche("codes"))->lock;
	info.keysize = sizeof(BrakeKey);
	info.entrysize = sizeof(BrakeEntry);
	brake_table = ShmemInitHash("codes brake", max_redeemers, max_redeemers,
								&info, HASH_ELEM | HASH_BLOBS);
	dbinfo.keysize = sizeof(Oid);
	dbinfo.entrysize = sizeof(BrakeDb);
	brake_dbs = ShmemInitHash("codes brake databases", max_redeemers + 1,
							  max_redeemers + 1, &dbinfo, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Define the settings, and the shared memory when loaded by
 * shared_preload_libraries; called from _PG_init.
 */
void
codes_init_brake(void)
{
	DefineCustomIntVariable("codes.max_failures",
							"Failed uses after which a redeemer's uses all fail for a while.",
							NULL, &max_failures,
							10, 1, INT_MAX, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("codes.failure_window",
							"Window in which failed uses are counted, and how long a redeemer stays braked.",
							NULL, &failure_window,
							15 * 60, 1, INT_MAX / 1000, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	/* the rest sizes shared memory, which only a preloaded library gets */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("codes.max_redeemers",
							"Redeemers the brake on guessing can follow at once.",
							NULL, &max_redeemers,
							10000, 100, INT_MAX / 1024, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	brake_loaded = true;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = brake_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = brake_shmem_startup;
}

/*
 * The key of a redeemer's text.
 */
static BrakeKey
brake_key(text *redeemer)
{
	const unsigned char *data = (const unsigned char *) VARDATA_ANY(redeemer);
	int			len = VARSIZE_ANY_EXHDR(redeemer);
	BrakeKey	key;

	memset(&key, 0, sizeof(key));	/* no padding bytes in the hash key */
	key.dbid = MyDatabaseId;
	key.h1 = hash_bytes_extended(data, len, 0x636f646573);
	key.h2 = hash_bytes_extended(data, len, 0x6272616b65);
	return key;
}

/*
 * Now plus codes.failure_window.
 */
static TimestampTz
after_window(TimestampTz now)
{
	return TimestampTzPlusMilliseconds(now, (int64) failure_window * 1000);
}

/*
 * Is the redeemer braked now?  Then its use answers FAILED without a
 * look-up.  Always false without shared memory.
 */
bool
codes_braked(text *redeemer)
{
	BrakeKey	key;
	BrakeEntry *entry;
	bool		braked = false;

	if (brake_table == NULL)
		return false;

	key = brake_key(redeemer);
	LWLockAcquire(brake_lock, LW_SHARED);
	entry = hash_search(brake_table, &key, HASH_FIND, NULL);
	if (entry && entry->until != 0 && GetCurrentTimestamp() < entry->until)
		braked = true;
	LWLockRelease(brake_lock);
	return braked;
}

/*
 * Is the entry braked at now?
 */
static inline bool
is_braked(const BrakeEntry *entry, TimestampTz now)
{
	return entry->until != 0 && now < entry->until;
}

/* The record of database dbid, or NULL if it has no entry. */
static BrakeDb *
find_db(Oid dbid)
{
	return hash_search(brake_dbs, &dbid, HASH_FIND, NULL);
}

/*
 * Count a new entry of database dbid (false if its record finds no room,
 * which the size of brake_dbs rules out).
 */
static bool
db_entry_added(Oid dbid)
{
	bool		found;
	BrakeDb    *db = hash_search(brake_dbs, &dbid, HASH_ENTER_NULL, &found);

	if (db == NULL)
		return false;
	if (!found)
	{
		db->entries = 0;
		db->misses_left = 0;
		db->next_sweep = 0;
	}
	db->entries++;
	return true;
}

/* Forget an entry, counting it out of its database's record. */
static void
forget_entry(BrakeEntry *entry)
{
	Oid			dbid = entry->key.dbid;
	BrakeDb    *db = find_db(dbid);

	hash_search(brake_table, &entry->key, HASH_REMOVE, NULL);
	if (db != NULL && --db->entries <= 0)
		hash_search(brake_dbs, &dbid, HASH_REMOVE, NULL);
}

/*
 * The share of the table that each database is guaranteed: the table's
 * size over the number of databases with entries, database dbid counted
 * in whether it has one or not.
 */
static int
db_share(Oid dbid)
{
	long		ndbs = hash_get_num_entries(brake_dbs) + (find_db(dbid) ? 0 : 1);

	return Max(max_redeemers / ndbs, 1);
}

/* The entries of a database, 0 if it has none. */
static int
db_entries(Oid dbid)
{
	BrakeDb    *db = find_db(dbid);

	return db ? db->entries : 0;
}

/*
 * qsort_arg comparator of entries to forget, the one that matters least
 * first: unbraked before braked (at now, the argument); among unbraked,
 * the one with the fewest failures, and among equals the one whose window
 * began first; among braked, the one whose brake ends first.
 */
static int
compare_victims(const void *a, const void *b, void *arg)
{
	const BrakeEntry *ea = *(BrakeEntry *const *) a;
	const BrakeEntry *eb = *(BrakeEntry *const *) b;
	TimestampTz now = *(TimestampTz *) arg;
	bool		ba = is_braked(ea, now);
	bool		bb = is_braked(eb, now);

	if (ba != bb)
		return ba ? 1 : -1;
	if (ba)
	{
		if (ea->until != eb->until)
			return ea->until < eb->until ? -1 : 1;
		return 0;
	}
	if (ea->failures != eb->failures)
		return ea->failures < eb->failures ? -1 : 1;
	if (ea->window_end != eb->window_end)
		return ea->window_end < eb->window_end ? -1 : 1;
	return 0;
}

/*
 * Make room in the full table for a new redeemer of this database, with
 * the lock held exclusively, as the comment at the top says; victims has
 * room for max_redeemers pointers.
 */
static void
make_room(TimestampTz now, BrakeEntry **victims)
{
	HASH_SEQ_STATUS status;
	BrakeEntry *entry;
	BrakeDb    *own;
	int			want = Max(max_redeemers / 16, 1);
	int			freed = 0;
	int			nvictims = 0;
	int			share;
	bool		over;
	int			i;
	TimestampTz first_end = DT_NOEND;

	hash_seq_init(&status, brake_table);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!is_braked(entry, now) && now >= entry->window_end)
		{
			/* removing the entry just returned is safe during the scan */
			forget_entry(entry);
			freed++;
			continue;
		}
		if (entry->key.dbid == MyDatabaseId && is_braked(entry, now) &&
			entry->until < first_end)
			first_end = entry->until;
		if (nvictims < max_redeemers)
			victims[nvictims++] = entry;
	}

	share = db_share(MyDatabaseId);
	over = db_entries(MyDatabaseId) >= share;
	if (freed < want && nvictims > 0)
	{
		qsort_arg(victims, nvictims, sizeof(BrakeEntry *), compare_victims, &now);
		for (i = 0; i < nvictims && freed < want; i++)
		{
			entry = victims[i];
			if (over ? (entry->key.dbid != MyDatabaseId || is_braked(entry, now)) :
				(entry->key.dbid == MyDatabaseId ||
				 db_entries(entry->key.dbid) <= share))
				continue;
			forget_entry(entry);
			freed++;
		}
	}

	own = find_db(MyDatabaseId);
	if (own != NULL)
	{
		own->misses_left = (freed < want && over) ? want - freed : 0;
		own->next_sweep = first_end;
	}
}

/*
 * Count a failed use by the redeemer, and brake it once it has max_failures
 * in its window.  Not transactional: it stays counted if the caller rolls
 * back.  A new redeemer finding the table full makes room (make_room); only
 * when nearly every entry of its database's share is braked does it go
 * uncounted, with a warning, rather than lift the brake of a redeemer who
 * earned it.
 */
void
codes_count_failure(text *redeemer)
{
	BrakeKey	key;
	BrakeEntry *entry;
	BrakeDb    *db;
	BrakeEntry **victims = NULL;
	bool		found = false;
	TimestampTz now;

	if (brake_table == NULL)
		return;

	key = brake_key(redeemer);
	now = GetCurrentTimestamp();
	for (;;)
	{
		LWLockAcquire(brake_lock, LW_EXCLUSIVE);
		entry = hash_search(brake_table, &key, HASH_FIND, &found);
		if (entry != NULL || hash_get_num_entries(brake_table) < max_redeemers)
			break;
		db = find_db(MyDatabaseId);
		if (db != NULL && db->entries >= db_share(MyDatabaseId) &&
			db->misses_left > 0 && now < db->next_sweep)
		{
			db->misses_left--;
			break;
		}
		if (victims != NULL)
		{
			make_room(now, victims);
			break;
		}

		/* a sweep is due: get its memory without the lock, then look again */
		LWLockRelease(brake_lock);
		victims = palloc(sizeof(BrakeEntry *) * (Size) max_redeemers);
	}
	if (entry == NULL && hash_get_num_entries(brake_table) < max_redeemers &&
		db_entry_added(MyDatabaseId))
	{
		entry = hash_search(brake_table, &key, HASH_ENTER_NULL, &found);
		if (entry == NULL)
		{
			db = find_db(MyDatabaseId);
			if (db != NULL && --db->entries <= 0)
				hash_search(brake_dbs, &key.dbid, HASH_REMOVE, NULL);
		}
	}
	if (entry == NULL)
	{
		LWLockRelease(brake_lock);
		if (victims != NULL)
			pfree(victims);
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not count a failed use"),
				 errdetail("The brake on guessing follows codes.max_redeemers = %d redeemers for all databases together, and nearly all of this database's share of them are braked.",
						   max_redeemers),
				 errhint("Raise codes.max_redeemers.")));
		return;
	}

	if (!found || now >= entry->window_end)
	{
		if (!found)
		{
			const char *data = VARDATA_ANY(redeemer);
			int			len = pg_mbcliplen(data, VARSIZE_ANY_EXHDR(redeemer),
										   REDEEMER_SHOWN);

			memcpy(entry->redeemer, data, len);
			entry->redeemer[len] = '\0';
		}
		/*
		 * A new window.  A brake still on stays on: a guess that passed the
		 * brake check before the brake came on may be counted only now.
		 */
		entry->failures = 0;
		entry->window_end = after_window(now);
		if (!found || !is_braked(entry, now))
			entry->until = 0;
	}
	entry->failures++;
	if (entry->failures >= max_failures && !is_braked(entry, now))
		entry->until = after_window(now);
	LWLockRelease(brake_lock);
	if (victims != NULL)
		pfree(victims);
}

/*
 * Raise an error unless the brake has its shared memory.
 */
static void
require_brake(void)
{
	if (brake_table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the brake on guessing is off"),
				 errhint(brake_loaded ? "Restart the server." :
						 "Add codes to shared_preload_libraries and restart the server.")));
}

/*
 * throttled() returns setof (redeemer, failures, until)
 *
 * The redeemers with failed uses in their current window, and until when
 * each is braked (NULL if it is not); for view codes.throttled.
 */
Datum
throttled(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	BrakeEntry *entry;
	BrakeRow   *rows;
	int64		nrows = 0;
	int64		i;
	TimestampTz now;

	require_brake();
	InitMaterializedSRF(fcinfo, 0);
	now = GetCurrentTimestamp();

	/*
	 * Copy the rows out under the lock, sized by the entries counted under
	 * it, and build the result set (which may write to disk) without it.
	 */
	LWLockAcquire(brake_lock, LW_SHARED);
	rows = palloc_extended(sizeof(BrakeRow) *
						   (Size) Max(hash_get_num_entries(brake_table), 1),
						   MCXT_ALLOC_HUGE);
	hash_seq_init(&status, brake_table);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		bool		braked = is_braked(entry, now);

		if (entry->key.dbid != MyDatabaseId ||
			(!braked && now >= entry->window_end))
			continue;
		memcpy(rows[nrows].redeemer, entry->redeemer, sizeof(entry->redeemer));
		rows[nrows].failures = entry->failures;
		rows[nrows].until = braked ? entry->until : 0;
		nrows++;
	}
	LWLockRelease(brake_lock);

	for (i = 0; i < nrows; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(rows[i].redeemer);
		values[1] = Int32GetDatum(rows[i].failures);
		values[2] = TimestampTzGetDatum(rows[i].until);
		nulls[2] = rows[i].until == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(rows);

	return (Datum) 0;
}

/*
 * throttle_reset(redeemer text) returns boolean
 *
 * Forget a redeemer's failed uses and lift its brake; true if there was
 * anything to forget.
 */
Datum
throttle_reset(PG_FUNCTION_ARGS)
{
	BrakeKey	key;
	BrakeEntry *entry;
	BrakeDb    *db;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("redeemer must not be null")));
	require_brake();

	key = brake_key(PG_GETARG_TEXT_PP(0));
	LWLockAcquire(brake_lock, LW_EXCLUSIVE);
	entry = hash_search(brake_table, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		forget_entry(entry);
		/* that made room: a new redeemer need not wait for the next sweep */
		if ((db = find_db(MyDatabaseId)) != NULL)
			db->misses_left = 0;
	}
	LWLockRelease(brake_lock);

	PG_RETURN_BOOL(entry != NULL);
}

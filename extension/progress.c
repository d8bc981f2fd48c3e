/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  How far the running code_gen calls are, for other sessions to see
 *	  (view codes.generations).
 *
 * One slot per backend in shared memory, so the view needs codes in
 * shared_preload_libraries, as the brake does.  A generating backend takes
 * a free slot when its batch row is written, sets how many codes it has
 * written after each chunk, and gives the slot back when the call ends; a
 * transaction's end and the backend's exit give it back too, so that an
 * error or a cancel never leaves a generation that is not running.  One
 * LWLock guards the slots; it is held for a few stores, never across a
 * statement, and the view copies the slots out before it builds its rows.
 *
 * Beside the layers: calls no other file of the extension (its slots take
 * the longest batch name from batch.h), and is called by generation
 * (gen.c), and by codes.c for its set-up (_PG_init); its own SQL
 * function, generations, reads its shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "batch.h"				/* CODES_MAX_BATCH_NAME */
#include "progress.h"

PG_FUNCTION_INFO_V1(generations);

/* One running code_gen call. */
typedef struct GenSlot
{
	int			pid;			/* 0: the slot is free */
	Oid			dbid;
	int32		batch_id;
	char		batch[CODES_MAX_BATCH_NAME + 1];
	int64		total;
	int64		done;
	TimestampTz started;
} GenSlot;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static LWLock *progress_lock = NULL;
static GenSlot *slots = NULL;
static int	num_slots = 0;
static bool progress_loaded = false;

/*
 * This backend's slot, or -1 while it generates nothing, and the
 * subtransaction that took it.
 */
static int	my_slot = -1;
static SubTransactionId my_subid = InvalidSubTransactionId;

/*
 * Reserve one slot per backend and a lock.
 */
static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mul_size(MaxBackends, sizeof(GenSlot)));
	RequestNamedLWLockTranche("codes progress", 1);
}

/*
 * Attach to (or create) the slots.
 */
static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	progress_lock = &(GetNamedLWLockTranche("codes progress"))->lock;
	num_slots = MaxBackends;
	slots = ShmemInitStruct("codes generations",
							mul_size(num_slots, sizeof(GenSlot)), &found);
	if (!found)
		memset(slots, 0, mul_size(num_slots, sizeof(GenSlot)));
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Give this backend's slot back, if it holds one.
 */
static void
release_slot(void)
{
	if (my_slot < 0 || slots == NULL)
		return;
	LWLockAcquire(progress_lock, LW_EXCLUSIVE);
	slots[my_slot].pid = 0;
	LWLockRelease(progress_lock);
	my_slot = -1;
}

/*
 * Transaction callback: a transaction that ends ends its generations.
 */
static void
progress_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		release_slot();
}

/*
 * Subtransaction callback: rolling back the subtransaction that began a
 * generation ends it (not so one that the generation began itself).
 */
static void
progress_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && mySubid == my_subid)
		release_slot();
}

/*
 * Backend exit: give the slot back.
 */
static void
progress_exit(int code, Datum arg)
{
	release_slot();
}

/*
 * Set up the slots when loaded by shared_preload_libraries; called from
 * _PG_init.  Each backend registers its own callbacks.
 */
void
codes_init_progress(void)
{
	RegisterXactCallback(progress_xact_callback, NULL);
	RegisterSubXactCallback(progress_subxact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	progress_loaded = true;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

/*
 * A generation of total codes into the batch with this id and name (NULL:
 * the generated name) begins.  Without the shared memory, nothing is
 * shown; with every slot taken (it cannot be: there is one per backend),
 * neither.
 */
void
codes_progress_begin(int32 batch_id, const char *name, int64 total)
{
	static bool exit_registered = false;
	int			i;

	if (slots == NULL)
		return;
	if (!exit_registered)
	{
		before_shmem_exit(progress_exit, (Datum) 0);
		exit_registered = true;
	}
	release_slot();

	LWLockAcquire(progress_lock, LW_EXCLUSIVE);
	for (i = 0; i < num_slots; i++)
	{
		GenSlot    *slot = &slots[i];

		if (slot->pid != 0)
			continue;
		slot->pid = MyProcPid;
		slot->dbid = MyDatabaseId;
		slot->batch_id = batch_id;
		if (name)
			strlcpy(slot->batch, name, sizeof(slot->batch));
		else
			snprintf(slot->batch, sizeof(slot->batch), "batch-%d", batch_id);
		slot->total = total;
		slot->done = 0;
		slot->started = GetCurrentTimestamp();
		my_slot = i;
		my_subid = GetCurrentSubTransactionId();
		break;
	}
	LWLockRelease(progress_lock);
}

/*
 * So many codes of the running generation are written.
 */
void
codes_progress_update(int64 done)
{
	if (my_slot < 0)
		return;
	LWLockAcquire(progress_lock, LW_EXCLUSIVE);
	slots[my_slot].done = done;
	LWLockRelease(progress_lock);
}

/*
 * The running generation ended.
 */
void
codes_progress_end(void)
{
	release_slot();
}

/*
 * generations() returns setof (pid, batch, codes_done, codes_total,
 * started)
 *
 * The code_gen calls running in this database; for view codes.generations.
 */
Datum
generations(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	GenSlot    *copy;
	int			n = 0;
	int			i;

	if (slots == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the progress of generations is not shown"),
				 errhint(progress_loaded ? "Restart the server." :
						 "Add codes to shared_preload_libraries and restart the server.")));

	InitMaterializedSRF(fcinfo, 0);
	copy = palloc(mul_size(num_slots, sizeof(GenSlot)));

	LWLockAcquire(progress_lock, LW_SHARED);
	for (i = 0; i < num_slots; i++)
		if (slots[i].pid != 0 && slots[i].dbid == MyDatabaseId)
			copy[n++] = slots[i];
	LWLockRelease(progress_lock);

	for (i = 0; i < n; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = Int32GetDatum(copy[i].pid);
		values[1] = CStringGetTextDatum(copy[i].batch);
		values[2] = Int64GetDatum(copy[i].done);
		values[3] = Int64GetDatum(copy[i].total);
		values[4] = TimestampTzGetDatum(copy[i].started);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

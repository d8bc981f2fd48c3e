/*-------------------------------------------------------------------------
 *
 * serverlog.c
 *	  What the server log may hold of a call of codes: a deadlock report
 *	  raised inside a call that takes a code, or that names a function of
 *	  codes in a process's statement, is logged without the statements of
 *	  the processes in the deadlock.
 *
 * The functions that take a code keep their statement out of the server
 * log for any error they raise (hide_statement in entry.c sets the error's
 * hide_stmt), as it may hold the code as a literal.  A deadlock report
 * holds more statements than its own: PostgreSQL writes each process's
 * current statement into the detail it logs (and only there: the client's
 * detail names processes and locks), and two sessions using two codes in
 * opposite order are each inside such a call.  So, for a deadlock error
 * whose statement is hidden, the log gets the client's detail, which names
 * the processes, the locks and the transactions but no statement; the hint
 * that sends the reader to the server log for the statements goes too.
 * So it does for a deadlock detected by another statement (an
 * application's UPDATE, waiting for a transaction that waits inside
 * code_use) when a process's statement names schema codes ("codes."), in
 * a backend that has loaded the library (every one, with codes in
 * shared_preload_libraries).  A call of codes that names no schema is not
 * seen there: README.md tells to pass codes as bind parameters, so that
 * statements show $1.
 *
 * Beside the layers: calls no other file of the extension, and is set up
 * by codes.c (_PG_init); entry.c's hide_statement marks the errors it
 * treats.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "serverlog.h"

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * emit_log_hook: a deadlock report raised inside a call of codes, whose
 * statement is hidden, or whose processes' statements name schema codes,
 * loses those statements (and the hint that points to them) before it is
 * logged.
 */
static void
hide_deadlock_statements(ErrorData *edata)
{
	if (edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED &&
		(edata->hide_stmt ||
		 (edata->detail_log != NULL && strstr(edata->detail_log, "codes.") != NULL)))
	{
		edata->detail_log = NULL;
		edata->hint = NULL;
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * Install the hook; called from _PG_init.
 */
void
codes_init_serverlog(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = hide_deadlock_statements;
}

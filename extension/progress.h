/*-------------------------------------------------------------------------
 *
 * progress.h
 *	  How far the running code_gen calls are (progress.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_PROGRESS_H
#define CODES_PROGRESS_H

extern void codes_init_progress(void);
extern void codes_progress_begin(int32 batch_id, const char *name, int64 total);
extern void codes_progress_update(int64 done);
extern void codes_progress_end(void);

#endif							/* CODES_PROGRESS_H */

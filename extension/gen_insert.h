/*-------------------------------------------------------------------------
 *
 * gen_insert.h
 *	  Inserting new codes into codes.codes (gen_insert.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_GEN_INSERT_H
#define CODES_GEN_INSERT_H

#include "access/tupdesc.h"
#include "utils/elog.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#include "gen_chunk.h"			/* CodesChunk */
#include "text.h"				/* CodesPattern */

extern void codes_prepare_code_inserts(void);
extern int	codes_insert_chunk(int32 batch_id, CodesChunk *chunk, bool skipping,
							   Tuplestorestate *out, TupleDesc outdesc);
extern void codes_mark_taken(const pg_uuid_t *keys, const int *owners, int n,
							 bool *taken);
extern void codes_insert_given(int32 batch_id, int n, Datum keys, Datum shown,
							   bool shown_null, Datum uses, bool uses_null);
extern int64 codes_count_batch_codes(int32 batch_id);
extern int64 codes_count_pattern_codes(const CodesPattern *pat);
extern double codes_table_rows_bound(void);
extern ErrorData *codes_insert_or_collision(void (*insert) (void *arg),
											 void *arg);

#endif							/* CODES_GEN_INSERT_H */

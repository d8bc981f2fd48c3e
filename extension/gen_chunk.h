/*-------------------------------------------------------------------------
 *
 * gen_chunk.h
 *	  A chunk of new codes (gen_chunk.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_GEN_CHUNK_H
#define CODES_GEN_CHUNK_H

#include "access/tupdesc.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#include "keys.h"				/* CodesKey */
#include "text.h"				/* CodesPattern */

/*
 * One chunk of new codes: the keys they are stored under, and their text
 * as handed out unless that is their key written out (plain UUID codes).
 */
typedef struct CodesChunk
{
	int			n;
	int			size;			/* codes there is room for */
	pg_uuid_t  *keys;			/* size + 1 */
	char	  **display;		/* NULL for plain UUID codes */
	char	  **canon;			/* canonical text, if needed; else NULL */
	bool		store_display;	/* kept in codes.shown (plain patterns) */
	Datum	   *elems;			/* size: room to make arrays of them */
} CodesChunk;

/* Strong random bytes, taken from pg_strong_random a buffer at a time. */
typedef struct RandomBytes RandomBytes;

extern void codes_chunk_alloc(CodesChunk *chunk, int size, bool with_display,
							  bool with_canon);
extern RandomBytes *codes_random_bytes(void);
extern void codes_random_uuids(CodesChunk *chunk, const CodesKey *hmac_key);
extern void codes_random_pattern_codes(CodesChunk *chunk,
									   const CodesPattern *pat,
									   const CodesKey *hmac_key,
									   RandomBytes *rnd);
extern int	codes_chunk_key_cmp(const void *a, const void *b, void *arg);
extern void codes_chunk_keep(CodesChunk *chunk, const bool *drop);
extern void codes_chunk_keep_distinct(CodesChunk *chunk, int want);
extern void codes_chunk_sort(CodesChunk *chunk);
extern void codes_chunk_put_code(Tuplestorestate *out, TupleDesc outdesc,
								 const CodesChunk *chunk, int i);

#endif							/* CODES_GEN_CHUNK_H */

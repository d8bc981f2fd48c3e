/*-------------------------------------------------------------------------
 *
 * lookup.h
 *	  The keys a code is looked up under (lookup.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_LOOKUP_H
#define CODES_LOOKUP_H

#include "keys.h"				/* CodesKey */
#include "text.h"

extern int	codes_canonical_keys(const char *canon, int len,
								 const CodesShape *shapes, int nshapes,
								 pg_uuid_t *keys, char *missing_key);
extern void codes_text_key(const CodesKey *server_key, const char *canon,
						   int len, pg_uuid_t *key);
extern int	codes_lookup_keys(text *code, pg_uuid_t **keys, char *missing_key);
extern void codes_note_missing_key(const char *key_id);
extern bool codes_other_stores(const CodesShape *own, const CodesShape *shapes,
							   int nshapes, char *missing_key);

#endif							/* CODES_LOOKUP_H */

/*-------------------------------------------------------------------------
 *
 * keys.h
 *	  Server keys and the HMAC of hashed codes (keys.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_KEYS_H
#define CODES_KEYS_H

#include "utils/uuid.h"

#include "text.h"				/* CODES_KEY_ID_LEN */

/* A server key for hashed codes. */
typedef struct CodesKey
{
	char		id[CODES_KEY_ID_LEN + 1];
	uint8	   *data;
	int			len;			/* 0: no key */
} CodesKey;

extern void codes_init_keys(void);
extern const CodesKey *codes_current_key(void);
extern const CodesKey *codes_find_key(const char *id);
extern void codes_hmac_key(const CodesKey *key, const char *canon, int len,
						   pg_uuid_t *out);

#endif							/* CODES_KEYS_H */

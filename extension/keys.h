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

/* The HMAC of a key, half done (keys.c). */
typedef struct CodesHmacPads CodesHmacPads;

/* A server key for hashed codes. */
typedef struct CodesKey
{
	char		id[CODES_KEY_ID_LEN + 1];
	uint8	   *data;
	int			len;			/* 0: no key */
	CodesHmacPads *pads;		/* made with the key */
} CodesKey;

extern void codes_init_keys(void);
extern const CodesKey *codes_current_key(void);
extern const CodesKey *codes_find_key(const char *id);
extern const CodesKey *codes_copy_key(const CodesKey *key);
extern void codes_hmac_key(const CodesKey *key, const char *canon, int len,
						   pg_uuid_t *out);

#endif							/* CODES_KEYS_H */

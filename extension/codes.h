/*-------------------------------------------------------------------------
 *
 * codes.h
 *	  What the C files of the codes extension share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_H
#define CODES_H

#include "executor/spi.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

/* Largest batch one code_gen call may create (documented in README.md). */
#define CODES_MAX_PER_CALL		10000000

/* Longest batch name, in bytes. */
#define CODES_MAX_BATCH_NAME	200

/* Length of a UUID code's text form, with hyphens. */
#define CODES_TEXT_LEN			36

/* The random symbols of patterned codes: no 0/O, no 1/I/L. */
#define CODES_ALPHABET			"23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#define CODES_ALPHABET_SIZE		31
StaticAssertDecl(sizeof(CODES_ALPHABET) == CODES_ALPHABET_SIZE + 1,
				 "CODES_ALPHABET_SIZE must be the length of CODES_ALPHABET");

/* Longest pattern, in characters (documented in README.md). */
#define CODES_MAX_PATTERN		64

/* Most random symbols a check symbol can cover: weights 1..30 mod 31. */
#define CODES_MAX_CHECKED		29

/* Length of a key id, in hex digits. */
#define CODES_KEY_ID_LEN		16

/* A server key for hashed codes (keys.c). */
typedef struct CodesKey
{
	char		id[CODES_KEY_ID_LEN + 1];
	uint8	   *data;
	int			len;			/* 0: no key */
} CodesKey;

/* A parsed pattern (see codes_parse_pattern). */
typedef struct CodesPattern
{
	char		layout[CODES_MAX_PATTERN + 1];	/* the pattern, upper case */
	int			layout_len;
	char		canon[CODES_MAX_PATTERN + 1];	/* without spaces, hyphens */
	int			canon_len;
	int			nrandom;		/* number of '#' */
	bool		has_check;		/* ends its symbols with '^' */
} CodesPattern;

/* What code_gen was asked for, once its arguments have been checked. */
typedef struct CodesBatchSpec
{
	int32		num;			/* number of codes */
	bool		from_null;		/* valid_from is NULL (open) */
	TimestampTz valid_from;
	bool		until_null;		/* valid_until is NULL (open) */
	TimestampTz valid_until;
	int32		max_uses;		/* uses allowed per code */
	bool		per_redeemer_null;	/* no per-redeemer limit */
	int32		max_uses_per_redeemer;
	char	   *name;			/* batch name, or NULL to generate one */
	char	   *pattern;		/* pattern, or NULL for UUID codes */
	CodesPattern parsed;		/* the pattern, parsed */
	const CodesKey *hmac_key;	/* store => 'hmac': the key; else NULL */
	bool		metadata_null;	/* no metadata */
	Datum		metadata;		/* jsonb: what the batch's codes grant */
} CodesBatchSpec;

/* Results and statuses, as the seed service spelled them. */
#define CODES_SUCCEED			"SUCCEED"
#define CODES_FAILED			"FAILED"
#define CODES_NO_EXISTED		"NO EXISTED"
#define CODES_TIMEINVALID		"TIMEINVALID"
#define CODES_UNACTIVED			"UNACTIVED"
#define CODES_ACTIVED			"ACTIVED"

/* A shape of codes that some batch has (batch.c). */
typedef struct CodesShape
{
	bool		is_uuid;		/* UUID codes; else codes of pat */
	CodesPattern pat;
	char		key_id[CODES_KEY_ID_LEN + 1];	/* hashed under; "" if plain */
} CodesShape;

/* What a batch allows, as batch.c remembers it. */
typedef struct CodesBatchInfo
{
	int32		id;				/* hash key: the batch id */
	bool		from_null;
	TimestampTz valid_from;
	bool		until_null;
	TimestampTz valid_until;
	bool		revoked;
	int32		max_uses;
	bool		per_redeemer_null;
	int32		per_redeemer;
} CodesBatchInfo;

/*
 * Why a code cannot be used now (code_redeem's reason), or CODES_OK.  The
 * names are in codes_reason_name.
 */
typedef enum CodesReason
{
	CODES_OK,
	CODES_NOT_FOUND,			/* no such code: a guess */
	CODES_USED_UP,
	CODES_NOT_YET_VALID,
	CODES_EXPIRED,
	CODES_REVOKED,
	CODES_REDEEMER_LIMIT,		/* this redeemer has used its share */
	CODES_BRAKED				/* the redeemer is braked for guessing */
} CodesReason;

/* codes.c */
extern SPIPlanPtr codes_prepare(const char *sql, int nargs, Oid *argtypes);

/* gen.c */
extern void codes_generate(const CodesBatchSpec *spec,
						   Tuplestorestate *out, TupleDesc outdesc);

/* batch.c */
extern void codes_init_batch_cache(void);
extern void codes_refresh_batch_cache(void);
extern bool codes_batch_info(int32 id, CodesBatchInfo *info);
extern CodesReason codes_refusal(const CodesBatchInfo *batch, int32 uses);
extern const char *codes_reason_name(CodesReason reason);
extern const char *codes_status(const CodesBatchInfo *batch, int32 uses);
extern bool codes_usable(const CodesBatchInfo *batch, int32 uses);
extern const CodesShape *codes_known_shapes(int *n);

/* brake.c */
extern void codes_init_brake(void);
extern bool codes_braked(text *redeemer);
extern void codes_count_failure(text *redeemer);

/* progress.c */
extern void codes_init_progress(void);
extern void codes_progress_begin(int32 batch_id, const char *name, int64 total);
extern void codes_progress_update(int64 done);
extern void codes_progress_end(void);

/* keys.c */
extern void codes_init_keys(void);
extern const CodesKey *codes_current_key(void);
extern const CodesKey *codes_find_key(const char *id);
extern void codes_hmac_key(const CodesKey *key, const char *canon, int len,
						   pg_uuid_t *out);

/* alphabet.c */
extern int	codes_canonical_keys(const char *canon, int len,
								 const CodesShape *shapes, int nshapes,
								 pg_uuid_t *keys, char *missing_key);
extern int	codes_lookup_keys(text *code, pg_uuid_t **keys, char *missing_key);
extern char *codes_normal_form(text *code, const CodesShape *shapes,
							   int nshapes);
extern bool codes_other_stores(const CodesShape *own, const CodesShape *shapes,
							   int nshapes, char *missing_key);
extern void codes_key_to_cstring(const pg_uuid_t *key, char *buf);
extern int64 codes_key_fold(const pg_uuid_t *key);
extern void codes_parse_pattern(const char *pattern, CodesPattern *pat);
extern void codes_pattern_write(const CodesPattern *pat, const char *symbols,
								char *display, char *canon);
extern void codes_pattern_key(const char *canon, int len, pg_uuid_t *key);
extern bool codes_canonical_is_uuid(const char *canon, int len);
extern void codes_uuid_canonical(const pg_uuid_t *key, char *buf);
extern int	codes_check_value(const int *values, int n);
extern char codes_symbol(int value);

#endif							/* CODES_H */

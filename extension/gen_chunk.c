/*-------------------------------------------------------------------------
 *
 * gen_chunk.c
 *	  A chunk of new codes: drawn at random (version 4 UUIDs, or codes of a
 *	  pattern: symbols of the alphabet, digits, and the check), each with
 *	  the key it is stored
 *	  under; thinned out (codes taken, codes drawn twice); put in the
 *	  order of the key index; and put out.
 *
 * Calls keys.c (the HMAC of hashed codes) and text.c; called by gen.c and
 * gen_insert.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "gen_chunk.h"
#include "keys.h"
#include "text.h"

/* Strong random bytes, taken from pg_strong_random a buffer at a time. */
struct RandomBytes
{
	unsigned char buf[4096];
	int			used;
};

/*
 * Make room in the chunk for size codes.
 */
void
codes_chunk_alloc(CodesChunk *chunk, int size, bool with_display, bool with_canon)
{
	/* one key more than codes, for insert_chunk_skipping's look-ups */
	chunk->keys = palloc(sizeof(pg_uuid_t) * (size + 1));
	chunk->display = with_display ? palloc(sizeof(char *) * size) : NULL;
	chunk->canon = with_canon ? palloc(sizeof(char *) * size) : NULL;
	chunk->elems = palloc(sizeof(Datum) * size);
	chunk->size = size;
}

/*
 * A new source of random symbols (codes_random_pattern_codes), whose
 * buffer is filled on first use.
 */
RandomBytes *
codes_random_bytes(void)
{
	RandomBytes *rnd = palloc(sizeof(RandomBytes));

	rnd->used = sizeof(rnd->buf);
	return rnd;
}

/*
 * Fill the chunk with random version 4 (RFC 4122) UUIDs: one call to
 * PostgreSQL's cryptographically strong source for the whole chunk, then
 * the version and variant bits.  (libuuid's uuid_generate_random makes
 * about six system calls per UUID; see docs/performance.md.)  Hashed
 * codes are stored under the HMAC of their canonical form instead.  The
 * canonical form is kept if the chunk has room for it.
 */
void
codes_random_uuids(CodesChunk *chunk, const CodesKey *hmac_key)
{
	int			i;

	if (!pg_strong_random(chunk->keys, sizeof(pg_uuid_t) * chunk->n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	for (i = 0; i < chunk->n; i++)
	{
		pg_uuid_t  *key = &chunk->keys[i];

		key->data[6] = (key->data[6] & 0x0f) | 0x40;	/* version 4 */
		key->data[8] = (key->data[8] & 0x3f) | 0x80;	/* variant */
		if (chunk->canon)
		{
			chunk->canon[i] = palloc(2 * UUID_LEN + 1);
			codes_uuid_canonical(key, chunk->canon[i]);
		}
		if (hmac_key)
		{
			char		canon[2 * UUID_LEN + 1];

			chunk->display[i] = palloc(CODES_TEXT_LEN + 1);
			codes_key_to_cstring(key, chunk->display[i]);
			codes_uuid_canonical(key, canon);
			codes_hmac_key(hmac_key, canon, 2 * UUID_LEN, key);
		}
	}
}

/*
 * A uniformly random value from 0 to n - 1 (n at most 256), from the next
 * strong random bytes: a byte of the highest multiple of n and above is
 * drawn again, so that every value has the same chance (for the 31
 * symbols of the alphabet, bytes below 248 = 8 * 31 are kept; for digits,
 * bytes below 250).
 */
static int
random_value(RandomBytes *rnd, int n)
{
	int			limit = 256 - 256 % n;

	for (;;)
	{
		unsigned char b;

		if (rnd->used == sizeof(rnd->buf))
		{
			if (!pg_strong_random(rnd->buf, sizeof(rnd->buf)))
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("could not generate random values")));
			rnd->used = 0;
		}
		b = rnd->buf[rnd->used++];
		if (b < limit)
			return b % n;
	}
}

/*
 * Fill the chunk with random codes of a pattern: a random symbol of the
 * alphabet for each '#', a random digit for each '*', the check if the
 * pattern has one, the text as handed out, and the key (its digest, or for
 * hashed codes its HMAC).  A code whose canonical form would read as a
 * UUID is drawn again (codes_parse_pattern refuses a pattern all of whose
 * codes would).  The canonical form is kept if the chunk has room for it.
 */
void
codes_random_pattern_codes(CodesChunk *chunk, const CodesPattern *pat,
					 const CodesKey *hmac_key, RandomBytes *rnd)
{
	int			i;

	for (i = 0; i < chunk->n; i++)
	{
		int			values[CODES_MAX_PATTERN];
		char		symbols[CODES_MAX_PATTERN + 1];
		char		canon[CODES_MAX_PATTERN + 1];
		int			j;
		int			n;

		chunk->display[i] = palloc(pat->layout_len + 1);
		do
		{
			n = 0;
			for (j = 0; j < pat->canon_len; j++)
			{
				if (pat->canon[j] == CODES_SYMBOL_RANDOM)
				{
					values[n] = random_value(rnd, CODES_ALPHABET_SIZE);
					symbols[n] = codes_symbol(values[n]);
					n++;
				}
				else if (pat->canon[j] == CODES_SYMBOL_DIGIT)
				{
					values[n] = random_value(rnd, 10);
					symbols[n] = (char) ('0' + values[n]);
					n++;
				}
			}
			if (pat->has_check)
				symbols[n++] = codes_pattern_check(pat, values);
			symbols[n] = '\0';
			codes_pattern_write(pat, symbols, chunk->display[i], canon);
		} while (codes_canonical_is_uuid(canon, pat->canon_len));

		if (hmac_key)
			codes_hmac_key(hmac_key, canon, pat->canon_len, &chunk->keys[i]);
		else
			codes_pattern_key(canon, pat->canon_len, &chunk->keys[i]);
		if (chunk->canon)
			chunk->canon[i] = pstrdup(canon);
	}
}

/*
 * qsort_arg and bsearch_arg comparator of indexes into a chunk, by key.
 */
int
codes_chunk_key_cmp(const void *a, const void *b, void *arg)
{
	const CodesChunk *chunk = (const CodesChunk *) arg;

	return memcmp(chunk->keys[*(const int *) a].data,
				  chunk->keys[*(const int *) b].data, UUID_LEN);
}

/* A code of a chunk, by the key of the unique index: for codes_chunk_sort. */
typedef struct FoldIndex
{
	int64		fold;
	int			i;
} FoldIndex;

/*
 * qsort comparator of FoldIndex, by fold as the index orders bigints.
 */
static int
fold_index_cmp(const void *a, const void *b)
{
	int64		fa = ((const FoldIndex *) a)->fold;
	int64		fb = ((const FoldIndex *) b)->fold;

	return (fa > fb) - (fa < fb);
}

/*
 * Put the n strings in the order order gives, through scratch.
 */
static void
permute_strings(char **strings, const FoldIndex *order, int n, char **scratch)
{
	int			i;

	for (i = 0; i < n; i++)
		scratch[i] = strings[order[i].i];
	memcpy(strings, scratch, sizeof(char *) * n);
}

/*
 * Put the chunk's codes in the order of the unique index on codes.codes
 * (their folds), so that inserting them sweeps the index's leaf pages from
 * the first to the last, each read once per chunk, instead of landing each
 * new key on a random page: what makes generation slow once the index no
 * longer fits in memory.
 */
void
codes_chunk_sort(CodesChunk *chunk)
{
	FoldIndex  *order = palloc(sizeof(FoldIndex) * chunk->n);
	pg_uuid_t  *keys = palloc(sizeof(pg_uuid_t) * chunk->n);
	char	  **strings = palloc(sizeof(char *) * chunk->n);
	int			i;

	for (i = 0; i < chunk->n; i++)
	{
		order[i].fold = codes_key_fold(&chunk->keys[i]);
		order[i].i = i;
	}
	qsort(order, chunk->n, sizeof(FoldIndex), fold_index_cmp);

	for (i = 0; i < chunk->n; i++)
		keys[i] = chunk->keys[order[i].i];
	memcpy(chunk->keys, keys, sizeof(pg_uuid_t) * chunk->n);
	if (chunk->display)
		permute_strings(chunk->display, order, chunk->n, strings);
	if (chunk->canon)
		permute_strings(chunk->canon, order, chunk->n, strings);
	pfree(order);
	pfree(keys);
	pfree(strings);
}

/*
 * Keep the chunk's codes that are not dropped, in order.
 */
void
codes_chunk_keep(CodesChunk *chunk, const bool *drop)
{
	int			i;
	int			j = 0;

	for (i = 0; i < chunk->n; i++)
	{
		if (drop[i])
			continue;
		chunk->keys[j] = chunk->keys[i];
		if (chunk->display)
			chunk->display[j] = chunk->display[i];
		if (chunk->canon)
			chunk->canon[j] = chunk->canon[i];
		j++;
	}
	chunk->n = j;
}

/*
 * Keep at most want of the chunk's codes, each key once.
 */
void
codes_chunk_keep_distinct(CodesChunk *chunk, int want)
{
	int		   *order = palloc(sizeof(int) * chunk->n);
	bool	   *drop = palloc0(sizeof(bool) * chunk->n);
	int			kept = 0;
	int			i;

	for (i = 0; i < chunk->n; i++)
		order[i] = i;
	qsort_arg(order, chunk->n, sizeof(int), codes_chunk_key_cmp, (void *) chunk);
	for (i = 1; i < chunk->n; i++)
		if (codes_chunk_key_cmp(&order[i - 1], &order[i], (void *) chunk) == 0)
			drop[order[i]] = true;
	for (i = 0; i < chunk->n; i++)
	{
		if (drop[i])
			continue;
		if (kept == want)
			drop[i] = true;
		else
			kept++;
	}
	codes_chunk_keep(chunk, drop);
}

/*
 * Put the text of the chunk's code i, as handed out, into the result.
 */
void
codes_chunk_put_code(Tuplestorestate *out, TupleDesc outdesc, const CodesChunk *chunk, int i)
{
	char		buf[CODES_TEXT_LEN + 1];
	const char *display = chunk->display ? chunk->display[i] : NULL;
	Datum		value;
	bool		isnull = false;

	if (display == NULL)
	{
		codes_key_to_cstring(&chunk->keys[i], buf);
		display = buf;
	}
	value = CStringGetTextDatum(display);
	tuplestore_putvalues(out, outdesc, &value, &isnull);
	pfree(DatumGetPointer(value));	/* the tuplestore keeps a copy */
}

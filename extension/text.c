/*-------------------------------------------------------------------------
 *
 * text.c
 *	  How a code is written: its shapes (UUID or pattern), the alphabet and
 *	  check symbol of patterned codes, reading what a person typed into
 *	  canonical form, and writing a key out in the form that is handed out.
 *
 * Every code has one 16-byte key.  A UUID code's key is the UUID itself; a
 * patterned code's key is the first 16 bytes of the SHA-256 digest of its
 * canonical form: upper case, without spaces and hyphens.  Input is matched
 * the same way, so "gift 7kqm x4tp 9" finds "GIFT-7KQM-X4TP-9".  Text that
 * cannot be a code is reported as such, never as an error, and no message
 * here ever contains a code: codes must not reach the log.  (The keys of
 * hashed codes, which need a server key, are lookup.c's.)
 *
 * Pure: no catalog, no SPI, no shared memory, no state.  Calls no other
 * file of the extension; every other file may call it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <uuid/uuid.h>

#include "common/cryptohash.h"
#include "common/sha2.h"

#include "compat.h"
#include "text.h"

/* Number of hex digits in a UUID key. */
#define KEY_DIGITS		(2 * UUID_LEN)

/* The random symbols of patterned codes: no 0/O, no 1/I/L. */
static const char alphabet[] = CODES_ALPHABET;

/*
 * Value of an ASCII hex digit of either case, or -1 for any other byte.
 */
static inline int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Value of a symbol of the alphabet (0 to 30), or -1 for any other byte.
 * Expects upper case.
 */
static inline int
symbol_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(alphabet, c);
	return p ? (int) (p - alphabet) : -1;
}

/*
 * Does the canonical text spell a UUID, 32 hex digits?  Then it is read as
 * one, so generation never makes a patterned code of that form.
 */
bool
codes_canonical_is_uuid(const char *canon, int len)
{
	int			i;

	if (len != KEY_DIGITS)
		return false;
	for (i = 0; i < len; i++)
		if (hex_value((unsigned char) canon[i]) < 0)
			return false;
	return true;
}

/*
 * The key of canonical text that spells a UUID (codes_canonical_is_uuid):
 * the UUID its 32 hex digits spell.
 */
void
codes_uuid_from_canonical(const char *canon, pg_uuid_t *key)
{
	int			j;

	for (j = 0; j < UUID_LEN; j++)
		key->data[j] = (unsigned char) ((hex_value(canon[2 * j]) << 4) |
										hex_value(canon[2 * j + 1]));
}

/*
 * The check symbol's value for random symbols of the given values: the one
 * value c that makes 1*v[0] + 2*v[1] + ... + n*v[n-1] + (n+1)*c a multiple
 * of 31.  As 31 is prime and every weight lies between 1 and 30, changing
 * one symbol, or swapping two neighbouring different ones, changes the sum
 * modulo 31, so the check catches it.
 */
int
codes_check_value(const int *values, int n)
{
	int			sum = 0;
	int			weight = n + 1;
	int			inverse = 1;
	int			i;

	Assert(n + 1 < CODES_ALPHABET_SIZE);
	for (i = 0; i < n; i++)
		sum = (sum + (i + 1) * values[i]) % CODES_ALPHABET_SIZE;

	/* weight^29 is weight's inverse modulo 31 (Fermat) */
	for (i = 0; i < CODES_ALPHABET_SIZE - 2; i++)
		inverse = (inverse * weight) % CODES_ALPHABET_SIZE;

	return ((CODES_ALPHABET_SIZE - sum) * inverse) % CODES_ALPHABET_SIZE;
}

/*
 * The alphabet's symbol of a value.
 */
char
codes_symbol(int value)
{
	Assert(value >= 0 && value < CODES_ALPHABET_SIZE);
	return alphabet[value];
}

/*
 * Parse a pattern: '#' is a random symbol, '^' the check symbol (at most
 * one, after every '#'), anything else a literal.  Literals are kept in
 * upper case; spaces and hyphens are layout only, as in input.  Raises
 * 22023 for a pattern that cannot make codes; the pattern is not a code,
 * so it may appear in messages.
 */
void
codes_parse_pattern(const char *pattern, CodesPattern *pat)
{
	int			len = strlen(pattern);
	int			i;

	if (len > CODES_MAX_PATTERN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pattern is too long"),
				 errdetail("A pattern has at most %d characters; this one has %d.",
						   CODES_MAX_PATTERN, len)));

	memset(pat, 0, sizeof(*pat));
	for (i = 0; i < len; i++)
	{
		char		c = pattern[i];

		if (c < ' ' || c > '~')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pattern \"%s\" contains a character that is not printable ASCII",
							pattern)));
		pat->layout[i] = pg_ascii_toupper((unsigned char) c);
		if (c == ' ' || c == '-')
			continue;
		if (c == '#')
		{
			if (pat->has_check)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the check symbol (^) in pattern \"%s\" must come after every random symbol (#)",
								pattern)));
			pat->nrandom++;
		}
		else if (c == '^')
		{
			if (pat->has_check)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("pattern \"%s\" has more than one check symbol (^)",
								pattern)));
			pat->has_check = true;
		}
		pat->canon[pat->canon_len++] = pat->layout[i];
	}
	pat->layout_len = len;

	if (pat->nrandom == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pattern \"%s\" has no random symbol (#)", pattern),
				 errhint("Each # in a pattern stands for one random symbol.")));
	if (pat->has_check && pat->nrandom > CODES_MAX_CHECKED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pattern \"%s\" has too many random symbols for a check symbol",
						pattern),
				 errdetail("A check symbol covers at most %d random symbols; this pattern has %d.",
						   CODES_MAX_CHECKED, pat->nrandom)));
}

/*
 * Write a patterned code: the pattern's layout with its '#' and '^'
 * replaced, in order, by symbols (the random symbols, then the check
 * symbol).  Fills display (layout_len + 1 bytes) and canon (canon_len + 1
 * bytes).
 */
void
codes_pattern_write(const CodesPattern *pat, const char *symbols,
					char *display, char *canon)
{
	int			i;
	int			nc = 0;

	for (i = 0; i < pat->layout_len; i++)
	{
		char		c = pat->layout[i];

		if (c == '#' || c == '^')
			c = *symbols++;
		display[i] = c;
		if (c != ' ' && c != '-')
			canon[nc++] = c;
	}
	display[i] = '\0';
	canon[nc] = '\0';
}

/*
 * Does canonical text have the pattern's shape and, if the pattern has a
 * check symbol, a correct one?
 */
bool
codes_pattern_matches(const CodesPattern *pat, const char *canon, int len)
{
	int			values[CODES_MAX_PATTERN];
	int			n = 0;
	int			sum = 0;
	int			i;

	if (len != pat->canon_len)
		return false;
	for (i = 0; i < len; i++)
	{
		char		p = pat->canon[i];

		if (p == '#' || p == '^')
		{
			values[n] = symbol_value(canon[i]);
			if (values[n] < 0)
				return false;
			n++;
		}
		else if (p != canon[i])
			return false;
	}
	if (!pat->has_check)
		return true;
	for (i = 0; i < n; i++)
		sum += (i + 1) * values[i];
	return sum % CODES_ALPHABET_SIZE == 0;
}

/*
 * Read text as a person may have typed a code into its canonical form:
 * upper case, without spaces and hyphens.  Returns the length, or -1 when
 * the text cannot be a code (too long, or not ASCII).  Stops at the first
 * byte that rules the text out, so a long or strange input costs no more
 * than a miss.  buf holds CODES_MAX_PATTERN + 1 bytes.
 */
int
codes_canonical_form(text *code, char *buf)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(code);
	const unsigned char *end = p + VARSIZE_ANY_EXHDR(code);
	int			len = 0;

	for (; p < end; p++)
	{
		if (*p == ' ' || *p == '-')
			continue;
		if (*p <= ' ' || *p > '~' || len == CODES_MAX_PATTERN)
			return -1;
		buf[len++] = pg_ascii_toupper(*p);
	}
	buf[len] = '\0';
	return len;
}

/*
 * The key of a patterned code: the first 16 bytes of the SHA-256 digest of
 * its canonical form.
 */
void
codes_pattern_key(const char *canon, int len, pg_uuid_t *key)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) canon, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256 digest: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	memcpy(key->data, digest, UUID_LEN);
}

/*
 * The code as it is handed out, for text as a person may have typed it:
 * the lower-case UUID, or the code written in the layout of the first of
 * the shapes whose pattern it matches (check symbol included).  NULL when
 * it has none of the shapes.  Looks at no table.
 */
char *
codes_normal_form(text *code, const CodesShape *shapes, int nshapes)
{
	char		canon[CODES_MAX_PATTERN + 1];
	int			len = codes_canonical_form(code, canon);
	bool		is_uuid;
	int			i;

	if (len < 0)
		return NULL;
	is_uuid = codes_canonical_is_uuid(canon, len);
	for (i = 0; i < nshapes; i++)
	{
		const CodesPattern *pat = &shapes[i].pat;
		char		symbols[CODES_MAX_PATTERN + 1];
		char		rewritten[CODES_MAX_PATTERN + 1];
		char	   *display;
		int			n = 0;
		int			j;

		if (shapes[i].is_uuid != is_uuid)
			continue;
		if (is_uuid)
		{
			pg_uuid_t	key;

			codes_uuid_from_canonical(canon, &key);
			display = palloc(CODES_TEXT_LEN + 1);
			codes_key_to_cstring(&key, display);
			return display;
		}
		if (!codes_pattern_matches(pat, canon, len))
			continue;
		for (j = 0; j < len; j++)
			if (pat->canon[j] == '#' || pat->canon[j] == '^')
				symbols[n++] = canon[j];
		symbols[n] = '\0';
		display = palloc(pat->layout_len + 1);
		codes_pattern_write(pat, symbols, display, rewritten);
		return display;
	}
	return NULL;
}

/*
 * Is there text that has both shapes?  Two patterns share text when they
 * are as long and, place by place, both have a random symbol, or one a
 * random symbol and the other a literal of the alphabet, or both the same
 * literal.  (Check symbols are not weighed: they make the answer "yes" a
 * little more often than needed, never "no" wrongly.)  UUID text has no
 * pattern's shape: generation never makes a patterned code that reads as a
 * UUID.
 */
bool
codes_shapes_overlap(const CodesShape *a, const CodesShape *b)
{
	int			i;

	if (a->is_uuid || b->is_uuid)
		return a->is_uuid == b->is_uuid;
	if (a->pat.canon_len != b->pat.canon_len)
		return false;
	for (i = 0; i < a->pat.canon_len; i++)
	{
		char		ca = a->pat.canon[i];
		char		cb = b->pat.canon[i];
		bool		ra = (ca == '#' || ca == '^');
		bool		rb = (cb == '#' || cb == '^');

		if (ra && rb)
			continue;
		if (ra ? symbol_value(cb) < 0 :
			rb ? symbol_value(ca) < 0 : ca != cb)
			return false;
	}
	return true;
}

/*
 * The canonical form of a UUID key: 32 upper-case hex digits, as input of
 * the UUID is read.  buf holds 2 * UUID_LEN + 1 bytes.
 */
void
codes_uuid_canonical(const pg_uuid_t *key, char *buf)
{
	static const char hex[] = "0123456789ABCDEF";
	int			i;

	for (i = 0; i < UUID_LEN; i++)
	{
		buf[2 * i] = hex[key->data[i] >> 4];
		buf[2 * i + 1] = hex[key->data[i] & 0x0F];
	}
	buf[2 * UUID_LEN] = '\0';
}

/*
 * Write a UUID key in the form a code is handed out: the lower-case UUID,
 * 8-4-4-4-12, formatted by libuuid.  buf must hold CODES_TEXT_LEN + 1 bytes.
 */
void
codes_key_to_cstring(const pg_uuid_t *key, char *buf)
{
	uuid_unparse_lower(key->data, buf);
}

/*
 * The key of the unique index on codes.codes: the two halves of the
 * 16-byte key XORed.  Each half of a version 4 UUID has a few fixed bits,
 * in different places, so the fold is uniformly random over all 64 bits;
 * so is the fold of a digest.
 */
int64
codes_key_fold(const pg_uuid_t *key)
{
	uint64		hi;
	uint64		lo;

	memcpy(&hi, key->data, sizeof(hi));
	memcpy(&lo, key->data + sizeof(hi), sizeof(lo));
	return (int64) (hi ^ lo);
}

/*-------------------------------------------------------------------------
 *
 * text.c
 *	  How a code is written: its shapes (UUID, pattern, or any text a
 *	  merchant chose), the symbols of patterns (random symbols of the
 *	  alphabet, random digits, the check), the keyspace of a pattern, and
 *	  writing a key out in the form that is handed out.
 *
 * Every code has one 16-byte key.  A UUID code's key is the UUID itself; a
 * patterned code's key is the first 16 bytes of the SHA-256 digest of its
 * canonical form: upper case, without spaces and hyphens.  A chosen code's
 * key is the same as a generated code of its text would have: the UUID if
 * it reads as one, else the digest.  Input is read
 * into that form (input.c), so "gift 7kqm x4tp 9" finds "GIFT-7KQM-X4TP-9".
 * Text that cannot be a code is reported as such, never as an error, and
 * no message here ever contains a code: codes must not reach the log.
 * (The keys of hashed codes, which need a server key, are lookup.c's.)
 *
 * Pure: no catalog, no SPI, no shared memory, no state (but that input.c,
 * in a database not in UTF8, looks up one conversion).  Calls check.c
 * (check symbols and digits) and input.c (reading input); every other file
 * may call it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include <uuid/uuid.h>

#include "common/cryptohash.h"
#include "common/sha2.h"

#include "check.h"
#include "compat.h"
#include "input.h"
#include "text.h"

StaticAssertDecl(CODES_CHECK_MODULUS == CODES_ALPHABET_SIZE,
				 "the check symbol works modulo the size of the alphabet");

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
 * Is a character of a pattern's canonical form one of its symbols (a
 * random symbol, a random digit or the check) rather than a literal?
 */
static inline bool
is_symbol(char p)
{
	return p == CODES_SYMBOL_RANDOM || p == CODES_SYMBOL_DIGIT ||
		p == CODES_SYMBOL_CHECK;
}

/*
 * Does the symbol p of the pattern stand for a digit (0 to 9) rather than
 * a symbol of the alphabet?  A random digit does, and so does the check of
 * a pattern of digits only.
 */
static inline bool
is_digit_symbol(const CodesPattern *pat, char p)
{
	return p == CODES_SYMBOL_DIGIT ||
		(p == CODES_SYMBOL_CHECK && pat->check_digit);
}

/*
 * Value of the character c where the pattern has the symbol p: 0 to 9 for
 * a digit, 0 to 30 for a symbol of the alphabet; -1 if c may not stand
 * there.
 */
static inline int
value_at(const CodesPattern *pat, char p, char c)
{
	if (is_digit_symbol(pat, p))
		return (c >= '0' && c <= '9') ? c - '0' : -1;
	return symbol_value(c);
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
 * The alphabet's symbol of a value.
 */
char
codes_symbol(int value)
{
	Assert(value >= 0 && value < CODES_ALPHABET_SIZE);
	return alphabet[value];
}

/*
 * Can text of the pattern's shape read as a UUID: has it 32 characters,
 * each literal a hex digit?  (Random digits always are hex digits; random
 * symbols and a check symbol of the alphabet may be.)
 */
static bool
may_read_as_uuid(const CodesPattern *pat)
{
	int			i;

	if (pat->canon_len != 2 * UUID_LEN)
		return false;
	for (i = 0; i < pat->canon_len; i++)
	{
		char		p = pat->canon[i];

		if (!is_symbol(p) && hex_value((unsigned char) p) < 0)
			return false;
	}
	return true;
}

/*
 * Parse a pattern: '#' is a random symbol of the alphabet, '*' a random
 * digit, '^' the check (at most one, after every '#' and '*'; literals may
 * follow it), anything else a literal.  The check is a digit when every
 * random symbol is a digit, else a symbol of the alphabet.  Literals are
 * kept in upper case; spaces and hyphens are layout only, as in input.
 * Raises 22023 for a pattern that cannot make codes; the pattern is not a
 * code, so it may appear in messages.
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
		if (c == CODES_SYMBOL_RANDOM || c == CODES_SYMBOL_DIGIT)
		{
			if (pat->has_check)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the check symbol (^) in pattern \"%s\" must come after every random symbol (# or *)",
								pattern)));
			pat->nrandom++;
			if (c == CODES_SYMBOL_DIGIT)
				pat->ndigits++;
		}
		else if (c == CODES_SYMBOL_CHECK)
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
	pat->check_digit = pat->has_check && pat->ndigits == pat->nrandom;

	if (pat->nrandom == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pattern \"%s\" has no random symbol (# or *)", pattern),
				 errhint("Each # in a pattern stands for one random symbol, each * for one random digit.")));
	if (pat->has_check && !pat->check_digit &&
		pat->nrandom > CODES_MAX_CHECKED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pattern \"%s\" has too many random symbols for a check symbol",
						pattern),
				 errdetail("A check symbol covers at most %d random symbols; this pattern has %d.",
						   CODES_MAX_CHECKED, pat->nrandom)));
	if (pat->ndigits == pat->nrandom && may_read_as_uuid(pat))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every code of pattern \"%s\" would read as a UUID",
						pattern),
				 errdetail("Its codes have 32 characters, all hex digits, and such input is read as a UUID."),
				 errhint("Add or remove a symbol, or make a literal a character that is not a hex digit.")));
}

/*
 * The number of different codes a pattern makes: 31 for each '#' times 10
 * for each '*' (a check adds none); less, where the pattern's text may read
 * as a UUID, the codes whose every '#' is a hex digit (14 of the 31
 * symbols are), as generation makes none that reads as a UUID.  (With a
 * check symbol of the alphabet, which may be no hex digit, a few of those
 * are left out needlessly: the result is then a lower bound.)
 */
double
codes_pattern_keyspace(const CodesPattern *pat)
{
	int			nalpha = pat->nrandom - pat->ndigits;
	double		digits = pow(10, pat->ndigits);
	double		keyspace = pow(CODES_ALPHABET_SIZE, nalpha) * digits;

	if (may_read_as_uuid(pat))
		keyspace -= pow(CODES_ALPHABET_HEX, nalpha) * digits;
	return keyspace;
}

/*
 * The check of a code of the pattern whose random symbols have the given
 * values, in order (0 to 9 for a '*', 0 to 30 for a '#'): the check digit
 * (check.c's Damm digit) of a pattern of digits only, else the check
 * symbol of the alphabet (its weighted sum) over all of them.
 */
char
codes_pattern_check(const CodesPattern *pat, const int *values)
{
	Assert(pat->has_check);
	if (pat->check_digit)
		return (char) ('0' + codes_check_digit(values, pat->nrandom));
	return codes_symbol(codes_check_value(values, pat->nrandom));
}

/*
 * Write a patterned code: the pattern's layout with its '#', '*' and '^'
 * replaced, in order, by symbols (the random symbols, then the check).
 * Fills display (layout_len + 1 bytes) and canon (canon_len + 1 bytes).
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

		if (is_symbol(c))
			c = *symbols++;
		display[i] = c;
		if (c != ' ' && c != '-')
			canon[nc++] = c;
	}
	display[i] = '\0';
	canon[nc] = '\0';
}

/*
 * Does canonical text have the pattern's shape (a symbol of the alphabet
 * for each '#', a digit for each '*') and, if the pattern has a check, a
 * correct one?
 */
bool
codes_pattern_matches(const CodesPattern *pat, const char *canon, int len)
{
	int			values[CODES_MAX_PATTERN];
	int			n = 0;
	int			i;

	if (len != pat->canon_len)
		return false;
	for (i = 0; i < len; i++)
	{
		char		p = pat->canon[i];

		if (is_symbol(p))
		{
			values[n] = value_at(pat, p, canon[i]);
			if (values[n] < 0)
				return false;
			n++;
		}
		else if (p != canon[i])
			return false;
	}
	if (!pat->has_check)
		return true;
	if (pat->check_digit)
		return codes_check_digit_ok(values, n);
	return codes_check_sum_ok(values, n);
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
 * How a code chosen by a merchant (code_add) is kept and handed out, from
 * its canonical form: the lower-case UUID if it reads as one, else the
 * canonical form itself (upper case, without separators).  buf holds
 * CODES_MAX_PATTERN + 1 bytes (a UUID's text form is shorter).
 */
void
codes_chosen_display(const char *canon, int len, char *buf)
{
	if (codes_canonical_is_uuid(canon, len))
	{
		pg_uuid_t	key;

		codes_uuid_from_canonical(canon, &key);
		codes_key_to_cstring(&key, buf);
		return;
	}
	memcpy(buf, canon, len);
	buf[len] = '\0';
}

/*
 * The code as it is handed out, for text as a person may have typed it:
 * the lower-case UUID, or the code written in the layout of the first of
 * the shapes whose pattern it matches (check symbol included); failing
 * those, when some batch has chosen codes, the form a chosen code is
 * handed out in (codes_chosen_display).  NULL when it has none of the
 * shapes.  Looks at no table.
 */
char *
codes_normal_form(text *code, const CodesShape *shapes, int nshapes)
{
	char		canon[CODES_MAX_PATTERN + 1];
	int			len = codes_canonical_form(code, canon);
	bool		is_uuid;
	bool		chosen = false;
	char	   *display;
	int			i;

	if (len < 0)
		return NULL;
	is_uuid = codes_canonical_is_uuid(canon, len);
	for (i = 0; i < nshapes; i++)
	{
		const CodesPattern *pat = &shapes[i].pat;
		char		symbols[CODES_MAX_PATTERN + 1];
		char		rewritten[CODES_MAX_PATTERN + 1];
		int			n = 0;
		int			j;

		chosen |= shapes[i].chosen;
		if (shapes[i].chosen || shapes[i].is_uuid != is_uuid)
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
			if (is_symbol(pat->canon[j]))
				symbols[n++] = canon[j];
		symbols[n] = '\0';
		display = palloc(pat->layout_len + 1);
		codes_pattern_write(pat, symbols, display, rewritten);
		return display;
	}
	if (!chosen || len == 0)
		return NULL;
	display = palloc(CODES_MAX_PATTERN + 1);
	codes_chosen_display(canon, len, display);
	return display;
}

/*
 * Is there text that has both shapes?  Chosen codes may be any text, so
 * they share text with every shape.  Two patterns share text when they
 * are as long and, place by place, both have a symbol (the alphabet and
 * the digits share 2 to 9), or one a symbol and the other a literal that
 * may stand there, or both the same literal.  (Checks are not weighed:
 * they make the answer "yes" a little more often than needed, never "no"
 * wrongly.)  UUID text has no pattern's shape: generation never makes a
 * patterned code that reads as a UUID.
 */
bool
codes_shapes_overlap(const CodesShape *a, const CodesShape *b)
{
	int			i;

	if (a->chosen || b->chosen)
		return true;
	if (a->is_uuid || b->is_uuid)
		return a->is_uuid == b->is_uuid;
	if (a->pat.canon_len != b->pat.canon_len)
		return false;
	for (i = 0; i < a->pat.canon_len; i++)
	{
		char		ca = a->pat.canon[i];
		char		cb = b->pat.canon[i];
		bool		ra = is_symbol(ca);
		bool		rb = is_symbol(cb);

		if (ra && rb)
			continue;
		if (ra ? value_at(&a->pat, ca, cb) < 0 :
			rb ? value_at(&b->pat, cb, ca) < 0 : ca != cb)
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
 * Whether two texts hold the same bytes (a redeemer and the one a code is
 * bound to: compared as given, as the history and the brake compare
 * them).
 */
bool
codes_texts_equal(Datum a, Datum b)
{
	text	   *ta = DatumGetTextPP(a);
	text	   *tb = DatumGetTextPP(b);

	return VARSIZE_ANY_EXHDR(ta) == VARSIZE_ANY_EXHDR(tb) &&
		memcmp(VARDATA_ANY(ta), VARDATA_ANY(tb), VARSIZE_ANY_EXHDR(ta)) == 0;
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

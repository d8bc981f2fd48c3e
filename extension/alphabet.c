/*-------------------------------------------------------------------------
 *
 * alphabet.c
 *	  How a code is written: reading what a person typed into a key, and
 *	  writing a key out in the form that is handed out.
 *
 * A code's key is the 16-byte UUID.  Input is matched case-insensitively
 * and spaces and hyphens are ignored, so "ABCD EF..." finds "abcdef...".
 * Text that cannot be a code is reported as such, never as an error, and
 * no message here ever contains the text: codes must not reach the log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <uuid/uuid.h>

#include "fmgr.h"

#include "codes.h"

PG_FUNCTION_INFO_V1(key_fold);

/* Number of hex digits in a key. */
#define KEY_DIGITS		(2 * UUID_LEN)

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
 * Read a code as a person may have typed it into its key.
 *
 * Returns false when the text cannot be a code: anything but exactly 32 hex
 * digits once spaces and hyphens are dropped.  Stops at the first byte that
 * rules the text out, so a long or strange input costs no more than a miss.
 */
bool
codes_key_from_text(text *code, pg_uuid_t *key)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(code);
	const unsigned char *end = p + VARSIZE_ANY_EXHDR(code);
	int			ndigits = 0;

	for (; p < end; p++)
	{
		int			v;

		if (*p == ' ' || *p == '-')
			continue;
		v = hex_value(*p);
		if (v < 0 || ndigits == KEY_DIGITS)
			return false;
		if (ndigits % 2 == 0)
			key->data[ndigits / 2] = (unsigned char) (v << 4);
		else
			key->data[ndigits / 2] |= (unsigned char) v;
		ndigits++;
	}
	return ndigits == KEY_DIGITS;
}

/*
 * Write a key in the form a code is handed out: the lower-case UUID,
 * 8-4-4-4-12, formatted by libuuid.  buf must hold CODES_TEXT_LEN + 1 bytes.
 */
void
codes_key_to_cstring(const pg_uuid_t *key, char *buf)
{
	uuid_unparse_lower(key->data, buf);
}

/*
 * key_fold(uuid) returns bigint
 *
 * The key of the unique index: the two halves of the 16-byte key XORed.
 * Each half of a version 4 UUID has a few fixed bits, in different places,
 * so the fold is uniformly random over all 64 bits.
 */
Datum
key_fold(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *key = PG_GETARG_UUID_P(0);
	uint64		hi;
	uint64		lo;

	memcpy(&hi, key->data, sizeof(hi));
	memcpy(&lo, key->data + sizeof(hi), sizeof(lo));
	PG_RETURN_INT64((int64) (hi ^ lo));
}

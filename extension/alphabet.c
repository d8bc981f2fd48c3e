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

#include "codes.h"

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
 * 8-4-4-4-12.  buf must hold CODES_TEXT_LEN + 1 bytes.
 */
void
codes_key_to_cstring(const pg_uuid_t *key, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	int			i;

	for (i = 0; i < UUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*buf++ = '-';
		*buf++ = hex[key->data[i] >> 4];
		*buf++ = hex[key->data[i] & 0x0F];
	}
	*buf = '\0';
}

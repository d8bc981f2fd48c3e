/*-------------------------------------------------------------------------
 *
 * input.c
 *	  Input as people type and paste it: text read into a code's canonical
 *	  form, upper case and without separators.  Besides the space and the
 *	  hyphen, what a paste or a keyboard adds that can mean one thing only
 *	  is read as that: ASCII white space, Unicode's spaces, dashes and
 *	  invisible breaks are separators, and the full-width forms of ASCII
 *	  characters (an East Asian keyboard's) are those characters.  Anything
 *	  else beyond printable ASCII, look-alike letters and digits of other
 *	  scripts included, rules the text out as a code (README.md, Input of a
 *	  code, lists both).
 *
 * In a UTF8 database the text is read as it is.  In a database of another
 * encoding, the part from the first byte beyond ASCII on is converted to
 * UTF-8 a piece at a time by pg_catalog's default conversion, asked not to
 * raise errors: a character it cannot convert rules the text out, and no
 * message can carry the text.  In SQL_ASCII, whose bytes beyond ASCII have
 * no known meaning, only ASCII is read.
 *
 * Pure but for the look-up of that conversion, once per backend.  Calls no
 * other file of the extension; text.c, lookup.c and codes.c call it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_conversion.h"
#include "catalog/pg_namespace.h"
#include "mb/pg_wchar.h"

#include "compat.h"
#include "input.h"

/* What a character of input is: one of these, or an ASCII character. */
#define NOT_A_CODE		(-1)	/* rules the text out */
#define SEPARATOR		(-2)	/* is left out */

/* Bytes of another encoding converted at a time (see read_converted). */
#define PIECE_BYTES		1024

/*
 * What an ASCII byte of input is: a separator (space, hyphen, tab, line
 * feed, vertical tab, form feed, carriage return), NOT_A_CODE (another
 * control character), or itself.
 */
static inline int
ascii_char(unsigned char c)
{
	if (c == ' ' || c == '-' || (c >= '\t' && c <= '\r'))
		return SEPARATOR;
	if (c < ' ' || c > '~')
		return NOT_A_CODE;
	return c;
}

/*
 * What a Unicode character beyond ASCII is: the ASCII character whose
 * full-width form it is (U+FF01 to U+FF5E, "!" to "~"), a separator (the
 * list below, which README.md, Input of a code, gives too), or NOT_A_CODE.
 */
static int
unicode_char(pg_wchar cp)
{
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		return ascii_char((unsigned char) (cp - 0xFF01 + '!'));
	if ((cp >= 0x2000 && cp <= 0x200B) ||	/* en quad to zero width space */
		(cp >= 0x2010 && cp <= 0x2015))		/* hyphen to horizontal bar */
		return SEPARATOR;
	switch (cp)
	{
		case 0x0085:			/* next line */
		case 0x00A0:			/* no-break space */
		case 0x00AD:			/* soft hyphen */
		case 0x1680:			/* ogham space mark */
		case 0x2028:			/* line separator */
		case 0x2029:			/* paragraph separator */
		case 0x202F:			/* narrow no-break space */
		case 0x205F:			/* medium mathematical space */
		case 0x2060:			/* word joiner */
		case 0x2212:			/* minus sign */
		case 0x3000:			/* ideographic space */
		case 0x30FC:			/* prolonged sound mark: "-" typed in kana */
		case 0xFE58:			/* small em dash */
		case 0xFE63:			/* small hyphen-minus */
		case 0xFEFF:			/* zero width no-break space (BOM) */
		case 0xFF70:			/* halfwidth prolonged sound mark */
			return SEPARATOR;
	}
	return NOT_A_CODE;
}

/*
 * Add what a character of input is to the canonical form in buf[*len]:
 * nothing for a separator, its upper case for a character.  False when it
 * rules the text out, or when the text is longer than any code.
 */
static inline bool
add_char(int c, char *buf, int *len)
{
	if (c == SEPARATOR)
		return true;
	if (c == NOT_A_CODE || *len == CODES_MAX_PATTERN)
		return false;
	buf[(*len)++] = pg_ascii_toupper((unsigned char) c);
	return true;
}

/*
 * Read UTF-8 from *p up to end into buf[*len], and set *p to where the
 * reading stopped: at end, or at a character that end cuts short.  False
 * when the text is ruled out (an invalid byte sequence too).
 */
static bool
read_utf8(const unsigned char **p, const unsigned char *end, char *buf,
		  int *len)
{
	const unsigned char *s = *p;

	while (s < end)
	{
		int			c;

		if (*s < 0x80)
			c = ascii_char(*s++);
		else
		{
			int			n = pg_utf_mblen(s);

			if (n > end - s)
				break;
			if (!pg_utf8_islegal(s, n))
				return false;
			c = unicode_char(utf8_to_unicode(s));
			s += n;
		}
		if (!add_char(c, buf, len))
			return false;
	}
	*p = s;
	return true;
}

/*
 * The procedure of pg_catalog's default conversion from the database's
 * encoding to UTF-8, or InvalidOid if there is none; looked up once.
 */
static Oid
conversion_to_utf8(void)
{
	static bool looked_up = false;
	static Oid	proc = InvalidOid;

	if (!looked_up)
	{
		proc = FindDefaultConversion(PG_CATALOG_NAMESPACE,
									 GetDatabaseEncoding(), PG_UTF8);
		looked_up = true;
	}
	return proc;
}

/*
 * Read text of the database's encoding (not UTF8, not SQL_ASCII) from p up
 * to end into buf[*len]: convert it to UTF-8 a piece at a time, and read
 * that.  A conversion that stops short at the start of a piece, which has
 * a whole character (MAX_CONVERSION_INPUT_LENGTH bytes do), has met a
 * character without a UTF-8 form, which no code has.  False when the text
 * is ruled out.
 */
static bool
read_converted(const unsigned char *p, const unsigned char *end, char *buf,
			   int *len)
{
	Oid			proc = conversion_to_utf8();
	unsigned char utf8[PIECE_BYTES * MAX_CONVERSION_GROWTH + 1];

	StaticAssertStmt(PIECE_BYTES >= MAX_CONVERSION_INPUT_LENGTH,
					 "a piece must hold any character");
	if (!OidIsValid(proc))
		return false;
	while (p < end)
	{
		int			piece = Min(end - p, PIECE_BYTES);
		int			done;
		const unsigned char *u = utf8;
		const unsigned char *end_utf8;

		done = pg_do_encoding_conversion_buf(proc, GetDatabaseEncoding(),
											 PG_UTF8, unconstify(unsigned char *, p),
											 piece, utf8, sizeof(utf8), true);
		if (done <= 0)
			return false;
		end_utf8 = utf8 + strlen((char *) utf8);
		if (!read_utf8(&u, end_utf8, buf, len) || u != end_utf8)
			return false;
		p += done;
	}
	return true;
}

/*
 * Read text as a person may have typed or pasted a code into its canonical
 * form: upper case, without separators.  Returns the length, or -1 when
 * the text cannot be a code (too long, or a character that rules it out).
 * Stops at the first character that rules the text out, so a long or
 * strange input costs no more than a miss.  buf holds CODES_MAX_PATTERN +
 * 1 bytes.
 */
int
codes_canonical_form(text *code, char *buf)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(code);
	const unsigned char *end = p + VARSIZE_ANY_EXHDR(code);
	int			len = 0;
	bool		ok = true;

	/* up to the first byte beyond ASCII */
	while (p < end && *p < 0x80)
	{
		if (!add_char(ascii_char(*p++), buf, &len))
			return -1;
	}
	if (p < end)
	{
		switch (GetDatabaseEncoding())
		{
			case PG_UTF8:
				ok = read_utf8(&p, end, buf, &len) && p == end;
				break;
			case PG_SQL_ASCII:
				ok = false;
				break;
			default:
				ok = read_converted(p, end, buf, &len);
				break;
		}
	}
	if (!ok)
		return -1;
	buf[len] = '\0';
	return len;
}

/*-------------------------------------------------------------------------
 *
 * text.h
 *	  How a code is written (text.c): the alphabet, patterns, shapes, and
 *	  the keys of text that need no server key; and, from input.h, how
 *	  what a person typed or pasted is read (input.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_TEXT_H
#define CODES_TEXT_H

#include "utils/uuid.h"

#include "input.h"				/* how text typed or pasted is read */

/* Length of a UUID code's text form, with hyphens. */
#define CODES_TEXT_LEN			36

/* The random symbols of patterned codes: no 0/O, no 1/I/L. */
#define CODES_ALPHABET			"23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#define CODES_ALPHABET_SIZE		31
StaticAssertDecl(sizeof(CODES_ALPHABET) == CODES_ALPHABET_SIZE + 1,
				 "CODES_ALPHABET_SIZE must be the length of CODES_ALPHABET");

/* How many symbols of the alphabet are hex digits too: 2-9 and A-F. */
#define CODES_ALPHABET_HEX		14

/* Pattern symbols: a random symbol, a random digit, the check. */
#define CODES_SYMBOL_RANDOM		'#'
#define CODES_SYMBOL_DIGIT		'*'
#define CODES_SYMBOL_CHECK		'^'

/* Most random symbols a check symbol can cover: weights 1..30 mod 31. */
#define CODES_MAX_CHECKED		29

/* Length of a server key's id, in hex digits (keys.c makes them). */
#define CODES_KEY_ID_LEN		16

/* A parsed pattern (see codes_parse_pattern). */
typedef struct CodesPattern
{
	char		layout[CODES_MAX_PATTERN + 1];	/* the pattern, upper case */
	int			layout_len;
	char		canon[CODES_MAX_PATTERN + 1];	/* without spaces, hyphens */
	int			canon_len;
	int			nrandom;		/* number of '#' and '*' */
	bool		has_check;		/* ends its symbols with '^' */
	int			ndigits;		/* number of '*' */
	bool		check_digit;	/* its '^' is a digit: it has no '#' */
} CodesPattern;

/*
 * A shape of codes that some batch has (batch.c reads them): UUID codes,
 * codes of a pattern, or codes chosen by a merchant (code_add), which may
 * be any text.
 */
typedef struct CodesShape
{
	bool		chosen;			/* any text; else is_uuid or pat */
	bool		is_uuid;		/* UUID codes; else codes of pat */
	CodesPattern pat;
	char		key_id[CODES_KEY_ID_LEN + 1];	/* hashed under; "" if plain */
} CodesShape;

extern bool codes_canonical_is_uuid(const char *canon, int len);
extern void codes_uuid_from_canonical(const char *canon, pg_uuid_t *key);
extern void codes_uuid_canonical(const pg_uuid_t *key, char *buf);
extern void codes_key_to_cstring(const pg_uuid_t *key, char *buf);
extern int64 codes_key_fold(const pg_uuid_t *key);
extern bool codes_texts_equal(Datum a, Datum b);
extern char codes_symbol(int value);
extern void codes_parse_pattern(const char *pattern, CodesPattern *pat);
extern double codes_pattern_keyspace(const CodesPattern *pat);
extern char codes_pattern_check(const CodesPattern *pat, const int *values);
extern void codes_pattern_write(const CodesPattern *pat, const char *symbols,
								char *display, char *canon);
extern bool codes_pattern_matches(const CodesPattern *pat, const char *canon,
								  int len);
extern void codes_pattern_key(const char *canon, int len, pg_uuid_t *key);
extern bool codes_shapes_overlap(const CodesShape *a, const CodesShape *b);
extern void codes_chosen_display(const char *canon, int len, char *buf);
extern char *codes_normal_form(text *code, const CodesShape *shapes,
							   int nshapes);

#endif							/* CODES_TEXT_H */

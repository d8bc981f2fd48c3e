/*-------------------------------------------------------------------------
 *
 * input.h
 *	  Input as people type and paste it (input.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_INPUT_H
#define CODES_INPUT_H

/*
 * Longest pattern, and so longest code, in characters (documented in
 * README.md): the canonical form of a code fits in this many bytes and a
 * terminator.
 */
#define CODES_MAX_PATTERN		64

extern int	codes_canonical_form(text *code, char *buf);

#endif							/* CODES_INPUT_H */

/*-------------------------------------------------------------------------
 *
 * input.h
 *	  Input as people type and paste it (input.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_INPUT_H
#define CODES_INPUT_H

extern int	codes_canonical_form(text *code, char *buf);

#endif							/* CODES_INPUT_H */

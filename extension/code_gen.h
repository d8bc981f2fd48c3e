/*-------------------------------------------------------------------------
 *
 * code_gen.h
 *	  The SQL entry point code_gen (code_gen.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_CODE_GEN_H
#define CODES_CODE_GEN_H

extern void codes_init_code_gen(void);

#endif							/* CODES_CODE_GEN_H */

/*-------------------------------------------------------------------------
 *
 * check.h
 *	  Check symbols and check digits (check.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_CHECK_H
#define CODES_CHECK_H

/* Symbols the check over the 31-symbol alphabet works modulo. */
#define CODES_CHECK_MODULUS		31

extern int	codes_check_value(const int *values, int n);
extern bool codes_check_sum_ok(const int *values, int n);
extern int	codes_check_digit(const int *digits, int n);
extern bool codes_check_digit_ok(const int *digits, int n);

#endif							/* CODES_CHECK_H */

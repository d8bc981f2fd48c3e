/*-------------------------------------------------------------------------
 *
 * check.c
 *	  The two checks a pattern's "^" stands for: the check symbol over the
 *	  31-symbol alphabet (a weighted sum modulo 31), and the check digit of
 *	  codes made of digits only (the Damm algorithm).  Each catches every
 *	  single mistyped symbol and every swap of two neighbouring different
 *	  symbols.
 *
 * Works on symbol values only: which symbols a pattern has, and what their
 * values are, is text.c's.  Pure: no catalog, no SPI, no state.  Calls no
 * other file of the extension; text.c calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "check.h"

/*
 * The Damm algorithm's quasigroup of order 10 (H. Michael Damm, 2004): a
 * Latin square with zeros on its diagonal in which (c*x)*y = (c*y)*x only
 * when x = y.  Going through the digits from interim 0, interim becomes
 * damm[interim][digit]; the check digit is the last interim, so a code with
 * its check digit ends at 0.  As each row and column is a permutation, a
 * changed digit changes every interim after it; as the square is weakly
 * totally anti-symmetric, so does a swap of two neighbouring different
 * digits (the check digit included).
 */
static const unsigned char damm[10][10] = {
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0}
};

/*
 * The check symbol's value for random symbols of the given values: the one
 * value c that makes 1*v[0] + 2*v[1] + ... + n*v[n-1] + (n+1)*c a multiple
 * of 31.  As 31 is prime and every weight lies between 1 and 30, changing
 * one symbol changes the sum by its weight times the difference, never a
 * multiple of 31.  Swapping two neighbouring symbols (weights w and w + 1)
 * that each stay allowed where they land changes the sum by the difference
 * of their values when both places take the same kind of symbol; when one
 * is a "#" and the other a "*", both symbols are digits 2 to 9, worth d - 2
 * at a "#" (the alphabet starts at "2") and d at a "*", and the sum
 * changes by the difference of the two digits.  Either way by 1 to 30.
 * The weights limit a check symbol to 29 random symbols.
 */
int
codes_check_value(const int *values, int n)
{
	int			sum = 0;
	int			weight = n + 1;
	int			inverse = 1;
	int			i;

	Assert(n + 1 < CODES_CHECK_MODULUS);
	for (i = 0; i < n; i++)
		sum = (sum + (i + 1) * values[i]) % CODES_CHECK_MODULUS;

	/* weight^29 is weight's inverse modulo 31 (Fermat) */
	for (i = 0; i < CODES_CHECK_MODULUS - 2; i++)
		inverse = (inverse * weight) % CODES_CHECK_MODULUS;

	return ((CODES_CHECK_MODULUS - sum) * inverse) % CODES_CHECK_MODULUS;
}

/*
 * Are the values, the check symbol's last, a correct sum: is
 * 1*v[0] + 2*v[1] + ... + n*v[n-1] a multiple of 31?
 */
bool
codes_check_sum_ok(const int *values, int n)
{
	int			sum = 0;
	int			i;

	for (i = 0; i < n; i++)
		sum = (sum + (i + 1) * values[i]) % CODES_CHECK_MODULUS;
	return sum == 0;
}

/*
 * The check digit of the given digits (each 0 to 9): the Damm algorithm's
 * last interim.  Any number of digits.
 */
int
codes_check_digit(const int *digits, int n)
{
	int			interim = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		Assert(digits[i] >= 0 && digits[i] <= 9);
		interim = damm[interim][digits[i]];
	}
	return interim;
}

/*
 * Do the digits, the check digit last, pass the Damm check?
 */
bool
codes_check_digit_ok(const int *digits, int n)
{
	return codes_check_digit(digits, n) == 0;
}

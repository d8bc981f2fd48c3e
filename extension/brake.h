/*-------------------------------------------------------------------------
 *
 * brake.h
 *	  The brake on guessing (brake.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CODES_BRAKE_H
#define CODES_BRAKE_H

extern void codes_init_brake(void);
extern bool codes_braked(text *redeemer);
extern void codes_count_failure(text *redeemer);

#endif							/* CODES_BRAKE_H */

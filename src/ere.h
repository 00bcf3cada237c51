/*
 * ere: what the C library's regcomp() would build from a POSIX extended
 * regular expression, estimated before it is asked to.
 *
 * glibc's regcomp() copies a repeated part once per repetition (a{3}
 * becomes aaa, a+ becomes aa*), and repetitions of repetitions multiply:
 * ((a{100}){100}){100} or a++++...+ asks for memory exponential in the
 * pattern's length.  Scripts come from users, so rename-regex refuses
 * such patterns with a message instead of exhausting memory.
 */
#ifndef ERE_H
#define ERE_H

#include <stddef.h>

/* The most copies of atoms a pattern may expand to. */
#define ERE_MAX_EXPANSION 10000

/*
 * NULL when ere may be compiled; otherwise why not (a static string):
 * two repetition operators in a row (a++, a*{2}: undefined in POSIX), or
 * more than ERE_MAX_EXPANSION copies once repetitions are expanded.
 * Anything else (unbalanced parentheses, bad intervals) is left to
 * regcomp() to report.
 */
const char *ere_refusal(const char *ere);

#endif

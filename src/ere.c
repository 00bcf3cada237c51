/* ere: the size of a POSIX extended regular expression, expanded. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ere.h"
#include "banned.h"

#define MAX_NEST 256

/* One level of parentheses: what its alternatives hold so far. */
struct level {
	uint64_t done;	/* atoms of the finished parts */
	uint64_t last;	/* the part a repetition would apply to */
};

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a + b > ERE_MAX_EXPANSION ? ERE_MAX_EXPANSION + 1 : a + b;
}

static uint64_t
sat_mul(uint64_t a, uint64_t b)
{
	if (a && b > (ERE_MAX_EXPANSION + 1) / a)
		return ERE_MAX_EXPANSION + 1;
	return a * b > ERE_MAX_EXPANSION ? ERE_MAX_EXPANSION + 1 : a * b;
}

/* The end of the bracket expression starting at p ('['), or NULL. */
static const char *
bracket_end(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	for (; *p && *p != ']'; p++)
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char *q = p + 2;
			char close = p[1];

			while (*q && !(q[0] == close && q[1] == ']'))
				q++;
			if (!*q)
				return NULL;
			p = q + 1;
		}
	return *p ? p : NULL;
}

/*
 * An interval {m}, {m,} or {m,n} at p: its end and how many copies of
 * its operand glibc makes (n, or m + 1 for {m,}); NULL when p is not one.
 */
static const char *
interval(const char *p, uint64_t *copies)
{
	uint64_t m = 0, n = 0;
	bool comma = false, has_n = false;

	if (*++p < '0' || *p > '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++)
		m = m > 100000 ? m : m * 10 + (uint64_t)(*p - '0');
	if (*p == ',') {
		comma = true;
		for (p++; *p >= '0' && *p <= '9'; p++, has_n = true)
			n = n > 100000 ? n : n * 10 + (uint64_t)(*p - '0');
	}
	if (*p != '}')
		return NULL;
	*copies = !comma ? m : has_n ? n : m + 1;
	if (*copies == 0)
		*copies = 1;
	return p;
}

const char *
ere_refusal(const char *ere)
{
	struct level stack[MAX_NEST + 1], *cur = stack;
	bool after_repeat = false;
	const char *p;

	memset(cur, 0, sizeof(*cur));
	for (p = ere; *p; p++) {
		uint64_t copies = 0;
		const char *end = NULL;

		if (*p == '*' || *p == '+' || *p == '?' ||
		    (*p == '{' && (end = interval(p, &copies)))) {
			if (after_repeat)
				return "two repetition operators in a row are "
				       "undefined in POSIX";
			if (*p == '+')
				copies = 2;	/* a+ is aa* */
			else if (*p != '{')
				copies = 1;
			else
				p = end;
			cur->last = sat_mul(cur->last, copies);
			after_repeat = true;
			continue;
		}
		after_repeat = false;
		if (*p == '(' && cur < stack + MAX_NEST) {
			cur++;
			memset(cur, 0, sizeof(*cur));
			continue;
		}
		if (*p == ')' && cur > stack) {
			uint64_t group = sat_add(cur->done, cur->last);

			cur--;
			cur->done = sat_add(cur->done, cur->last);
			cur->last = group ? group : 1;
			continue;
		}
		if (*p == '|') {
			cur->done = sat_add(cur->done, cur->last);
			cur->last = 0;
			continue;
		}
		/* an atom: a character, an escape, a bracket expression */
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '[' && (end = bracket_end(p)))
			p = end;
		cur->done = sat_add(cur->done, cur->last);
		cur->last = 1;
		if (cur->done > ERE_MAX_EXPANSION)
			break;
	}
	while (cur > stack) {	/* unclosed: regcomp() will say so */
		uint64_t group = sat_add(cur->done, cur->last);

		cur--;
		cur->done = sat_add(cur->done, sat_add(cur->last, group));
		cur->last = 0;
	}
	if (sat_add(cur->done, cur->last) > ERE_MAX_EXPANSION)
		return "its repetitions would expand to more than 10000 "
		       "copies of its parts";
	return NULL;
}

/*
 * fuzz_util.h - what the harnesses share: a broken property aborts (so
 * libFuzzer records the input) after naming the harness and the property,
 * and an allocation that fails aborts too (a harness has nothing to fall
 * back on).
 */
#ifndef SIPD_FUZZ_UTIL_H
#define SIPD_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>

static inline void fuzz_check(int ok, const char *harness, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: property broken: %s\n", harness, what);
		abort();
	}
}

static inline void *fuzz_xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p == NULL)
		abort();
	return p;
}

#endif

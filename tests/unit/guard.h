/*
 * guard.h - place test bytes right before an inaccessible page, so that a
 * parser reading one byte past the end faults under any build.
 */
#ifndef SIPD_TEST_GUARD_H
#define SIPD_TEST_GUARD_H

#include <stddef.h>

struct guard {
	char *base;  /* mapping: usable pages, then one PROT_NONE page */
	size_t size; /* usable bytes */
};

/* Map room for up to size bytes; aborts the test program on failure. */
void guard_init(struct guard *g, size_t size);
void guard_fini(struct guard *g);
/* Copy len bytes so that they end exactly at the guard page. */
const char *guard_place(struct guard *g, const void *data, size_t len);

/* Read a whole file; aborts on failure. Caller frees. */
char *test_read_file(const char *path, size_t *len);

#endif

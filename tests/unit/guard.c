/*
 * guard.c - guard-page buffers and file reading for the unit tests.
 */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void guard_init(struct guard *g, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t usable = (size + page - 1) / page * page;
	char *p = mmap(NULL, usable + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED || mprotect(p + usable, page, PROT_NONE) != 0) {
		perror("guard_init");
		abort();
	}
	g->base = p;
	g->size = usable;
}

void guard_fini(struct guard *g)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	munmap(g->base, g->size + page);
	g->base = NULL;
}

const char *guard_place(struct guard *g, const void *data, size_t len)
{
	if (len > g->size)
		abort();
	char *dst = g->base + g->size - len;
	if (len > 0)
		memcpy(dst, data, len);
	return dst;
}

char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		abort();
	}
	if (fseek(f, 0, SEEK_END) != 0)
		abort();
	long n = ftell(f);
	if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
		abort();
	char *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

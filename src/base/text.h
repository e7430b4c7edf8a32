/*
 * text.h - text composed into a caller's fixed array, without printf.
 *
 * For the short strings the hot path builds per message (a Via value, a
 * host:port, an AOR key): snprintf parses its format every time and costs
 * more than the message's header lookups. A text is always NUL-terminated
 * (when size > 0); an append that does not fit is dropped whole, sets
 * `over` and leaves the contents as they were before it.
 */
#ifndef SIPD_BASE_TEXT_H
#define SIPD_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/view.h"

struct text {
	char *p;     /* the caller's array */
	size_t size; /* its bytes, including the NUL */
	size_t len;  /* bytes written, excluding the NUL */
	bool over;   /* something did not fit */
};

void text_init(struct text *t, char *p, size_t size);

/* Inline: most calls append literals, whose length and copy the compiler
 * then resolves at the call site. */
static inline void text_add(struct text *t, const char *s, size_t n)
{
	if (t->size == 0 || n > t->size - 1 - t->len) {
		t->over = true;
		return;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static inline void text_cstr(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

void text_view(struct text *t, struct view v);
/* Decimal, as %llu. */
void text_u64(struct text *t, uint64_t v);
/* Lowercase hexadecimal, as %llx; width > 0 pads with zeros as %0*llx. */
void text_hex(struct text *t, uint64_t v, unsigned width);
/* 0, or EMSGSIZE when something did not fit. */
int text_status(const struct text *t);

#endif

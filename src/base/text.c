/*
 * text.c - see text.h.
 */
#include "base/text.h"

#include <errno.h>
#include <string.h>

void text_init(struct text *t, char *p, size_t size)
{
	*t = (struct text){ .p = p, .size = size };
	if (size > 0)
		p[0] = '\0';
}

void text_view(struct text *t, struct view v)
{
	text_add(t, v.p, v.len);
}

void text_u64(struct text *t, uint64_t v)
{
	char digits[VIEW_U64_DIGITS];

	text_add(t, digits, view_u64_format(v, digits));
}

void text_hex(struct text *t, uint64_t v, unsigned width)
{
	static const char hex[] = "0123456789abcdef";
	char digits[16];
	size_t n = sizeof(digits);

	if (width > sizeof(digits))
		width = sizeof(digits);
	do {
		digits[--n] = hex[v & 0xf];
		v >>= 4;
	} while (v > 0);
	while (sizeof(digits) - n < width)
		digits[--n] = '0';
	text_add(t, digits + n, sizeof(digits) - n);
}

int text_status(const struct text *t)
{
	return t->over ? EMSGSIZE : 0;
}

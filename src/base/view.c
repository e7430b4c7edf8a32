/*
 * view.c - comparisons and conversions on borrowed byte ranges.
 * ASCII only: wire bytes never go through <ctype.h>.
 */
#include "base/view.h"

#include <string.h>

#define LOWER(c) ((c) >= 'A' && (c) <= 'Z' ? (c) + 32 : (c))
#define L4(b) LOWER(b), LOWER((b) + 1), LOWER((b) + 2), LOWER((b) + 3)
#define L16(b) L4(b), L4((b) + 4), L4((b) + 8), L4((b) + 12)
#define L64(b) L16(b), L16((b) + 16), L16((b) + 32), L16((b) + 48)

const unsigned char view_lower_table[256] = { L64(0), L64(64), L64(128), L64(192) };

bool view_eq_cstr(struct view a, const char *s)
{
	return view_eq(a, view_from_cstr(s));
}

bool view_eq_cstr_nocase(struct view a, const char *s)
{
	return view_eq_nocase(a, view_from_cstr(s));
}

size_t view_u64_format(uint64_t v, char *out)
{
	char digits[VIEW_U64_DIGITS];
	size_t n = sizeof(digits);

	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	memcpy(out, digits + n, sizeof(digits) - n);
	return sizeof(digits) - n;
}

bool view_to_u64(struct view v, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c < '0' || c > '9')
			return false;
		unsigned d = c - '0';
		if (d > max || n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

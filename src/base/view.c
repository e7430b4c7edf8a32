/*
 * view.c - comparisons and conversions on borrowed byte ranges.
 * ASCII only: wire bytes never go through <ctype.h>.
 */
#include "base/view.h"

#include <string.h>

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

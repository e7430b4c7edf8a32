/*
 * view.c - comparisons and conversions on borrowed byte ranges.
 * ASCII only: wire bytes never go through <ctype.h>.
 */
#include "base/view.h"

#include <string.h>

static inline unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

struct view view_from_cstr(const char *s)
{
	return view_make(s, s ? strlen(s) : 0);
}

bool view_eq(struct view a, struct view b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool view_eq_nocase(struct view a, struct view b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++) {
		if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
			return false;
	}
	return true;
}

bool view_eq_cstr(struct view a, const char *s)
{
	return view_eq(a, view_from_cstr(s));
}

bool view_eq_cstr_nocase(struct view a, const char *s)
{
	return view_eq_nocase(a, view_from_cstr(s));
}

static inline bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct view view_trim(struct view v)
{
	while (v.len > 0 && is_lws(v.p[0])) {
		v.p++;
		v.len--;
	}
	while (v.len > 0 && is_lws(v.p[v.len - 1]))
		v.len--;
	return v;
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

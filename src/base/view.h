/*
 * view.h - borrowed byte ranges (pointer + length).
 *
 * A view never owns its bytes and is not NUL-terminated: it is valid only
 * while the buffer it points into lives (for a parsed SIP message, while the
 * message is held). An empty view has len 0; a view whose p is NULL means
 * "absent" where the difference matters (a parameter with no value).
 */
#ifndef SIPD_BASE_VIEW_H
#define SIPD_BASE_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct view {
	const char *p; /* borrowed; NULL = absent */
	size_t len;    /* bytes */
};

#define VIEW_LIT(s) ((struct view){ .p = (s), .len = sizeof(s) - 1 })
#define VIEW_NULL ((struct view){ .p = NULL, .len = 0 })

static inline struct view view_make(const char *p, size_t len)
{
	return (struct view){ .p = p, .len = len };
}

/* Inline, so that a string literal's length is folded at compile time. */
static inline struct view view_from_cstr(const char *s)
{
	return view_make(s, s ? strlen(s) : 0);
}

static inline bool view_is_null(struct view v)
{
	return v.p == NULL;
}

static inline bool view_eq(struct view a, struct view b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++) {
		if (a.p[i] != b.p[i])
			return false;
	}
	return true;
}

/* Each byte with A-Z lowercased: one load instead of two compares. */
extern const unsigned char view_lower_table[256];

static inline unsigned char view_lower(unsigned char c)
{
	return view_lower_table[c];
}

/* ASCII case-insensitive comparison. Inline: it runs for every parameter
 * name the parser looks at. */
static inline bool view_eq_nocase(struct view a, struct view b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++) {
		if (view_lower((unsigned char)a.p[i]) != view_lower((unsigned char)b.p[i]))
			return false;
	}
	return true;
}
/* Against n bytes at s; with n a constant (view_eq_lit) the compiler
 * compares whole words instead of calling memcmp or looping. */
static inline bool view_eq_mem(struct view a, const char *s, size_t n)
{
	return a.len == n && (n == 0 || memcmp(a.p, s, n) == 0);
}
bool view_eq_cstr(struct view a, const char *s);
bool view_eq_cstr_nocase(struct view a, const char *s);
/* Against a string literal: its length is known at compile time. */
#define view_eq_lit(v, lit) view_eq_mem((v), (lit), sizeof(lit) - 1)
#define view_eq_lit_nocase(v, lit) view_eq_nocase((v), VIEW_LIT(lit))
/* Strip SP, HTAB, CR and LF at both ends (folded LWS included). */
static inline struct view view_trim(struct view v)
{
	while (v.len > 0 && (v.p[0] == ' ' || v.p[0] == '\t' || v.p[0] == '\r' || v.p[0] == '\n')) {
		v.p++;
		v.len--;
	}
	while (v.len > 0 && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t' ||
			     v.p[v.len - 1] == '\r' || v.p[v.len - 1] == '\n'))
		v.len--;
	return v;
}
/*
 * Decimal digits only, no sign, no spaces; fails (false) on an empty view,
 * a non-digit or a value above max. *out is written only on success.
 */
bool view_to_u64(struct view v, uint64_t max, uint64_t *out);

/* The decimal digits of v at out (at most VIEW_U64_DIGITS, no NUL);
 * returns how many. The inverse of view_to_u64, without printf. */
#define VIEW_U64_DIGITS 20
size_t view_u64_format(uint64_t v, char *out);

#endif

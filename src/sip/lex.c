/*
 * lex.c - quoted strings and list splitting shared by
 * the header decoders. See lex.h.
 */
#include "sip/lex.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

bool lex_quoted(struct view v, size_t *i)
{
	size_t j = *i + 1;

	while (j < v.len) {
		unsigned char c = (unsigned char)v.p[j];
		if (c == '"') {
			*i = j + 1;
			return true;
		}
		if (c == '\\') {
			if (j + 1 >= v.len)
				return false;
			c = (unsigned char)v.p[j + 1];
			if (c == '\r' || c == '\n')
				return false;
			j += 2;
			continue;
		}
		j++;
	}
	return false;
}

/* Nonzero when a byte of w equals c (exact as a yes/no answer). */
static inline uint64_t word_has(uint64_t w, unsigned char c)
{
	const uint64_t ones = 0x0101010101010101ULL;
	uint64_t x = w ^ (ones * c);

	return (x - ones) & ~x & (ones << 7);
}

/* Index of the first byte at or after i that may split or nest a list
 * element (CT_LISTSEP), or len; sixteen bytes at a time (SSE2, in every
 * x86-64) or eight (elsewhere, and for the tail) over the plain run that
 * makes up most of an element. */
static size_t next_listsep(const char *p, size_t i, size_t len)
{
#ifdef __SSE2__
	const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
	const __m128i lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>');

	while (i + 16 <= len) {
		__m128i w = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, comma), _mm_cmpeq_epi8(w, quote)),
					   _mm_or_si128(_mm_cmpeq_epi8(w, lt), _mm_cmpeq_epi8(w, gt)));
		unsigned mask = (unsigned)_mm_movemask_epi8(hit);
		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
#endif
	while (i + 8 <= len) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (word_has(w, ',') | word_has(w, '"') | word_has(w, '<') | word_has(w, '>'))
			break;
		i += 8;
	}
	while (i < len && !ct_is((unsigned char)p[i], CT_LISTSEP))
		i++;
	return i;
}

int lex_list_next(struct view *rest, struct view *elem)
{
	struct view v = *rest;
	size_t i = lex_skip_lws(v, 0);
	size_t start = i;
	bool in_angle = false;

	if (i >= v.len)
		return ENOENT;
	while ((i = next_listsep(v.p, i, v.len)) < v.len) {
		char c = v.p[i];
		if (c == '"') {
			if (!lex_quoted(v, &i))
				return EBADMSG;
			continue;
		}
		if (c == '<') {
			if (in_angle)
				return EBADMSG;
			in_angle = true;
		} else if (c == '>') {
			if (!in_angle)
				return EBADMSG;
			in_angle = false;
		} else if (c == ',' && !in_angle) {
			break;
		}
		i++;
	}
	if (in_angle)
		return EBADMSG;
	struct view e = view_trim(view_make(v.p + start, i - start));
	if (e.len == 0)
		return EBADMSG;
	*elem = e;
	if (i < v.len)
		i++; /* the comma */
	*rest = view_make(v.p + i, v.len - i);
	/* A trailing comma leaves an empty element behind: refuse it. */
	if (i == v.len && v.p[i - 1] == ',')
		return EBADMSG;
	return 0;
}

/*
 * lex.c - quoted strings and list splitting shared by
 * the header decoders. See lex.h.
 */
#include "sip/lex.h"

#include <errno.h>

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

int lex_list_next(struct view *rest, struct view *elem)
{
	struct view v = *rest;
	size_t i = lex_skip_lws(v, 0);
	size_t start = i;
	bool in_angle = false;

	if (i >= v.len)
		return ENOENT;
	while (i < v.len) {
		char c = v.p[i];
		if (!ct_is((unsigned char)c, CT_LISTSEP)) {
			i++;
			continue;
		}
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

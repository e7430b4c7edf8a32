/*
 * params.c - generic parameter lists: ";name[=value]" repeated, LWS allowed
 * around ';' and '=' (RFC 3261 §7.3.1, §25.1 generic-param).
 *
 * gen-value = token / host / quoted-string: a value is a quoted string or a
 * run of token characters, ':' and brackets (so IPv6 references and bare
 * IPv6 addresses in Via received, RFC 5118 §4.5, both fit).
 */
#include "sip/msg.h"

#include <errno.h>

#include "sip/lex.h"

int sip_param_next(struct view *rest, struct sip_param *param)
{
	struct view v = *rest;
	size_t i = lex_skip_lws(v, 0);
	struct sip_param p;

	if (i >= v.len)
		return ENOENT;
	if (v.p[i] != ';')
		return EBADMSG;
	i = lex_skip_lws(v, i + 1);
	size_t start = i;
	i = lex_span(v, i, CT_TOKEN);
	if (i == start)
		return EBADMSG; /* ";;" or ";=" */
	p.name = view_make(v.p + start, i - start);
	p.value = VIEW_NULL;
	i = lex_skip_lws(v, i);
	if (i < v.len && v.p[i] == '=') {
		i = lex_skip_lws(v, i + 1);
		start = i;
		if (i < v.len && v.p[i] == '"') {
			if (!lex_quoted(v, &i))
				return EBADMSG;
		} else {
			i = lex_span(v, i, CT_PVALUE);
			if (i == start)
				return EBADMSG;
		}
		p.value = view_make(v.p + start, i - start);
		i = lex_skip_lws(v, i);
	}
	if (i < v.len && v.p[i] != ';')
		return EBADMSG;
	*param = p;
	*rest = view_make(v.p + i, v.len - i);
	return 0;
}

bool sip_param_find(struct view params, const char *name, struct view *value)
{
	struct view name_v = view_from_cstr(name);
	struct sip_param p;

	while (sip_param_next(&params, &p) == 0) {
		if (view_eq_nocase(p.name, name_v)) {
			*value = p.value;
			return true;
		}
	}
	return false;
}

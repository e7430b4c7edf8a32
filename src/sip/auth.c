/*
 * auth.c - credentials and challenges (RFC 3261 §20.7, §20.27, §20.28,
 * §20.44, §25.1; RFC 7616 §3.3-3.5; RFC 8760):
 *
 *   challenge   = "Digest" LWS digest-cln *(COMMA digest-cln) / other-challenge
 *   credentials = "Digest" LWS dig-resp *(COMMA dig-resp) / other-response
 *   auth-param  = token EQUAL ( token / quoted-string )
 *
 * One header value may hold several challenges: a token not followed by '='
 * starts the next one. A Digest parameter given twice is malformed (a
 * credential must not be ambiguous). Unknown parameters are skipped over.
 */
#include <errno.h>
#include <string.h>

#include "sip/lex.h"
#include "sip/sip_int.h"

struct known_param {
	const char *name;
	size_t len;
	size_t offset;
};

#define KNOWN(field) { #field, sizeof(#field) - 1, offsetof(struct sip_auth, field) }
static const struct known_param known_params[] = {
	KNOWN(username), KNOWN(realm), KNOWN(nonce), KNOWN(uri),
	KNOWN(response), KNOWN(algorithm), KNOWN(cnonce), KNOWN(opaque),
	KNOWN(qop), KNOWN(nc), KNOWN(stale), KNOWN(domain),
	KNOWN(userhash), KNOWN(auts),
};

static struct view *known_slot(struct sip_auth *auth, struct view name)
{
	for (size_t k = 0; k < sizeof(known_params) / sizeof(known_params[0]); k++) {
		/* the length first: most names are passed over without a
		 * character compared */
		if (name.len == known_params[k].len &&
		    view_eq_nocase(name, view_make(known_params[k].name, known_params[k].len)))
			return (struct view *)(void *)((char *)auth + known_params[k].offset);
	}
	return NULL;
}

static void auth_init(struct sip_auth *auth, struct view scheme)
{
	memset(auth, 0, sizeof(*auth));
	auth->scheme = scheme;
	auth->digest = view_eq_lit_nocase(scheme, "Digest");
}

/* One "name = value" at v.p[*i] (LWS skipped already). Returns 0, ENOENT
 * when the token is not followed by '=' (a new scheme), EBADMSG. */
static int auth_param(struct view v, size_t *i, struct view *name, struct view *value)
{
	size_t j = *i;
	size_t start = j;

	j = lex_span(v, j, CT_TOKEN);
	if (j == start)
		return EBADMSG;
	*name = view_make(v.p + start, j - start);
	j = lex_skip_lws(v, j);
	if (j >= v.len || v.p[j] != '=')
		return ENOENT;
	j = lex_skip_lws(v, j + 1);
	start = j;
	if (j < v.len && v.p[j] == '"') {
		if (!lex_quoted(v, &j))
			return EBADMSG;
		*value = view_make(v.p + start + 1, j - start - 2);
	} else {
		j = lex_span(v, j, CT_TOKEN);
		if (j == start)
			return EBADMSG;
		*value = view_make(v.p + start, j - start);
	}
	*i = j;
	return 0;
}

int sip_auth_decode_value(struct view v, struct sip_auth *items, size_t max, size_t *count)
{
	size_t i = lex_skip_lws(v, 0);
	struct sip_auth *cur = NULL;
	size_t params_start = 0;

	while (i < v.len) {
		struct view name, value;
		size_t before = i;
		int rc = cur ? auth_param(v, &i, &name, &value) : ENOENT;

		if (rc == EBADMSG)
			return EBADMSG;
		if (rc == ENOENT) {
			/* a scheme token starts a new challenge / credential */
			size_t start = before;
			i = lex_span(v, before, CT_TOKEN);
			if (i == start)
				return EBADMSG;
			if (cur)
				cur->params = view_trim(view_make(v.p + params_start,
								  start - params_start));
			if (*count >= max)
				return EMSGSIZE;
			cur = &items[(*count)++];
			auth_init(cur, view_make(v.p + start, i - start));
			size_t j = lex_skip_lws(v, i);
			if (j < v.len && j == i)
				return EBADMSG; /* LWS must follow the scheme */
			i = j;
			params_start = i;
			continue;
		}
		struct view *slot = cur->digest ? known_slot(cur, name) : NULL;
		if (slot) {
			if (slot->p != NULL)
				return EBADMSG;
			*slot = value;
		}
		i = lex_skip_lws(v, i);
		if (i < v.len) {
			if (v.p[i] != ',')
				return EBADMSG;
			i = lex_skip_lws(v, i + 1);
			if (i >= v.len)
				return EBADMSG;
		}
	}
	if (!cur)
		return EBADMSG;
	cur->params = view_trim(view_make(v.p + params_start, v.len - params_start));
	return 0;
}

/*
 * addr.c - name-addr / addr-spec with header parameters (RFC 3261 §20.10,
 * §20.20, §20.39, §25.1) and the Contact value on top of it.
 *
 *   name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
 *   display-name = *(token LWS) / quoted-string
 *
 * Deliberate leniency: a token display name directly followed by '<'
 * (RFC 4475 lwsdisp) is accepted. Strictness: no white space inside the
 * angle brackets (RFC 4475 badaspec), and an addr-spec written without
 * brackets may not carry '?' headers (RFC 4475 regbadct) since its ';'
 * parameters belong to the header, not to the URI (RFC 4475 cparam01).
 */
#include "sip/msg.h"

#include <errno.h>
#include <string.h>

#include "sip/lex.h"
#include "sip/sip_int.h"

/* Where the display name ends and '<' starts, if the value is a name-addr
 * with a token display name (or none). Returns false for an addr-spec. */
static bool find_token_display(struct view v, size_t *laquot)
{
	size_t i = 0;

	for (;;) {
		i = lex_skip_lws(v, i);
		if (i >= v.len)
			return false;
		if (v.p[i] == '<') {
			*laquot = i;
			return true;
		}
		size_t end = lex_span(v, i, CT_TOKEN);
		if (end == i)
			return false;
		i = end;
	}
}

static int params_decode(struct sip_addr *addr, struct view rest)
{
	struct sip_param p;
	int rc;

	addr->params = view_trim(rest);
	while ((rc = sip_param_next(&rest, &p)) == 0) {
		if (view_eq_lit_nocase(p.name, "tag")) {
			if (p.value.p == NULL || p.value.len == 0 || p.value.p[0] == '"')
				return EBADMSG;
			addr->tag = p.value;
		}
	}
	return rc == ENOENT ? 0 : EBADMSG;
}

static int addr_decode(struct sip_addr *out, struct view in, bool decode_uri, const char **reason)
{
	struct sip_addr addr;
	const char *uri_reason = NULL;
	size_t i, laquot;

	memset(&addr, 0, sizeof(addr));
	in = view_trim(in);
	addr.raw = in;
	addr.tag = VIEW_NULL;
	addr.display = VIEW_NULL;
	*reason = "Bad address";
	if (in.len == 0)
		return EBADMSG;

	if (in.p[0] == '"') {
		i = 0;
		if (!lex_quoted(in, &i)) {
			*reason = "Unbalanced quotes in display name";
			return EBADMSG;
		}
		addr.display = view_make(in.p, i);
		i = lex_skip_lws(in, i);
		if (i >= in.len || in.p[i] != '<')
			return EBADMSG;
		laquot = i;
	} else if (find_token_display(in, &laquot)) {
		struct view d = view_trim(view_make(in.p, laquot));
		if (d.len > 0)
			addr.display = d;
	} else {
		laquot = in.len; /* addr-spec */
	}

	if (laquot < in.len) {
		size_t start = laquot + 1;
		size_t end = start;
		while (end < in.len && in.p[end] != '>')
			end++;
		if (end >= in.len)
			return EBADMSG;
		addr.bracketed = true;
		addr.uri_raw = view_make(in.p + start, end - start);
		i = end + 1;
	} else {
		/* addr-spec: the URI ends at ';' (header params), LWS or ','. */
		size_t end = 0;
		while (end < in.len && in.p[end] != ';' && in.p[end] != ',' &&
		       !ct_is((unsigned char)in.p[end], CT_LWS)) {
			if (in.p[end] == '?' || in.p[end] == '"' || in.p[end] == '<' || in.p[end] == '>')
				return EBADMSG;
			end++;
		}
		addr.uri_raw = view_make(in.p, end);
		i = end;
	}
	if (!decode_uri)
		addr.uri.raw = addr.uri_raw; /* split only: the rest of uri stays zero */
	else if (sip_uri_decode(&addr.uri, addr.uri_raw, &uri_reason) != 0) {
		*reason = uri_reason ? uri_reason : "Bad URI";
		return EBADMSG;
	}
	if (params_decode(&addr, view_make(in.p + i, in.len - i)) != 0) {
		*reason = "Bad header parameter";
		return EBADMSG;
	}
	*out = addr;
	return 0;
}

int sip_addr_decode(struct sip_addr *out, struct view in, const char **reason)
{
	return addr_decode(out, in, true, reason);
}

int sip_addr_split(struct sip_addr *out, struct view in, const char **reason)
{
	return addr_decode(out, in, false, reason);
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), times 1000. */
static bool qvalue_decode(struct view v, uint16_t *q)
{
	unsigned value;
	size_t i = 1;

	if (v.len == 0 || (v.p[0] != '0' && v.p[0] != '1'))
		return false;
	value = (unsigned)(v.p[0] - '0') * 1000;
	if (v.len > 1) {
		if (v.p[1] != '.' || v.len > 5)
			return false;
		unsigned scale = 100;
		for (i = 2; i < v.len; i++, scale /= 10) {
			if (!ct_is((unsigned char)v.p[i], CT_DIGIT))
				return false;
			value += (unsigned)(v.p[i] - '0') * scale;
		}
	}
	if (value > 1000)
		return false;
	*q = (uint16_t)value;
	return true;
}

/* delta-seconds; more than 2^32-1 saturates (RFC 3261 §20.19). */

bool sip_delta_seconds(struct view v, uint32_t *out)
{
	uint64_t n;
	size_t i;

	if (v.len == 0)
		return false;
	for (i = 0; i < v.len; i++) {
		if (!ct_is((unsigned char)v.p[i], CT_DIGIT))
			return false;
	}
	if (!view_to_u64(v, UINT32_MAX, &n))
		n = UINT32_MAX;
	*out = (uint32_t)n;
	return true;
}


int sip_contact_decode(struct sip_contact *out, struct view in, const char **reason)
{
	struct sip_contact c;
	struct sip_param p;
	struct view rest;
	int rc;

	memset(&c, 0, sizeof(c));
	c.instance = VIEW_NULL;
	in = view_trim(in);
	if (in.len == 1 && in.p[0] == '*') {
		c.star = true;
		*out = c;
		return 0;
	}
	rc = sip_addr_decode(&c.addr, in, reason);
	if (rc != 0)
		return rc;
	rest = c.addr.params;
	*reason = "Bad Contact parameter";
	while ((rc = sip_param_next(&rest, &p)) == 0) {
		if (view_eq_lit_nocase(p.name, "expires")) {
			if (p.value.p == NULL || !sip_delta_seconds(p.value, &c.expires))
				return EBADMSG;
			c.has_expires = true;
		} else if (view_eq_lit_nocase(p.name, "q")) {
			if (p.value.p == NULL || !qvalue_decode(p.value, &c.q))
				return EBADMSG;
			c.has_q = true;
		} else if (view_eq_lit_nocase(p.name, "+sip.instance")) {
			if (p.value.p == NULL)
				return EBADMSG;
			c.instance = p.value;
		} else if (view_eq_lit_nocase(p.name, "reg-id")) {
			uint64_t n;
			if (p.value.p == NULL || !view_to_u64(p.value, UINT32_MAX, &n))
				return EBADMSG;
			c.has_reg_id = true;
			c.reg_id = (uint32_t)n;
		}
	}
	*out = c;
	return 0;
}

/*
 * via.c - one via-parm (RFC 3261 §20.42, RFC 3581 rport, RFC 5118 IPv6):
 *
 *   sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = name SLASH version SLASH transport   (LWS around '/')
 *   sent-by       = host [ COLON port ]
 *
 * Known parameters (branch, received, rport, maddr, ttl) are pulled out;
 * the rest stay in params. received accepts an IPv6 address with or without
 * brackets (RFC 5118 §4.5 asks for robustness).
 */
#include "sip/msg.h"

#include <errno.h>
#include <string.h>

#include "sip/lex.h"

static bool token_at(struct view v, size_t *i, struct view *out)
{
	size_t start = *i;
	size_t end = lex_span(v, start, CT_TOKEN);
	if (end == start)
		return false;
	*out = view_make(v.p + start, end - start);
	*i = end;
	return true;
}

static bool slash_at(struct view v, size_t *i)
{
	size_t j = lex_skip_lws(v, *i);
	if (j >= v.len || v.p[j] != '/')
		return false;
	*i = lex_skip_lws(v, j + 1);
	return true;
}

static bool port_decode(struct view v, uint16_t *port)
{
	uint64_t n;
	if (!view_to_u64(v, 65535, &n))
		return false;
	*port = (uint16_t)n;
	return true;
}

static int sent_by_decode(struct sip_via *via, struct view v, size_t *i)
{
	size_t start = *i;
	size_t j = start;

	if (j < v.len && v.p[j] == '[') {
		while (j < v.len && v.p[j] != ']')
			j++;
		if (j >= v.len)
			return EBADMSG;
		j++;
	} else {
		while (j < v.len && (ct_is((unsigned char)v.p[j], CT_HOST) || v.p[j] == '_'))
			j++;
	}
	via->host = view_make(v.p + start, j - start);
	if (!sip_host_classify(via->host, &via->host_type))
		return EBADMSG;
	size_t k = lex_skip_lws(v, j);
	if (k < v.len && v.p[k] == ':') {
		k = lex_skip_lws(v, k + 1);
		size_t pstart = k;
		k = lex_span(v, k, CT_DIGIT);
		if (!port_decode(view_make(v.p + pstart, k - pstart), &via->port))
			return EBADMSG;
		via->has_port = true;
		j = k;
	}
	*i = j;
	return 0;
}

static int via_param_apply(struct sip_via *via, const struct sip_param *p)
{
	struct view value = p->value;

	if (view_eq_lit_nocase(p->name, "branch")) {
		if (value.p == NULL || value.p[0] == '"')
			return EBADMSG;
		via->branch = value;
	} else if (view_eq_lit_nocase(p->name, "received")) {
		enum sip_host_type type;
		if (value.p == NULL)
			return EBADMSG;
		if (!sip_host_classify(value, &type) && !sip_ipv6_parse(value, NULL))
			return EBADMSG;
		via->received = value;
	} else if (view_eq_lit_nocase(p->name, "rport")) {
		via->has_rport = true;
		if (via->rport_count == 0)
			via->rport_name = p->name;
		if (via->rport_count < UINT8_MAX)
			via->rport_count++;
		if (value.p != NULL && value.len > 0) {
			if (!port_decode(value, &via->rport))
				return EBADMSG;
			via->rport_has_value = true;
		}
	} else if (view_eq_lit_nocase(p->name, "maddr")) {
		enum sip_host_type type;
		if (value.p == NULL || !sip_host_classify(value, &type))
			return EBADMSG;
		via->maddr = value;
	} else if (view_eq_lit_nocase(p->name, "ttl")) {
		uint64_t n;
		if (value.p == NULL || !view_to_u64(value, 255, &n))
			return EBADMSG;
		via->has_ttl = true;
		via->ttl = (uint8_t)n;
	}
	return 0;
}

int sip_via_decode(struct sip_via *out, struct view in, const char **reason)
{
	struct sip_via via;
	size_t i = lex_skip_lws(in, 0);

	memset(&via, 0, sizeof(via));
	*reason = "Bad Via header";
	via.raw = in;
	if (!token_at(in, &i, &via.proto_name) || !slash_at(in, &i) ||
	    !token_at(in, &i, &via.proto_version) || !slash_at(in, &i) ||
	    !token_at(in, &i, &via.transport))
		return EBADMSG;
	size_t j = lex_skip_lws(in, i);
	if (j == i || j >= in.len)
		return EBADMSG; /* LWS is required before sent-by */
	if (sent_by_decode(&via, in, &j) != 0) {
		*reason = "Bad Via sent-by";
		return EBADMSG;
	}
	struct view rest = view_make(in.p + j, in.len - j);
	via.params = view_trim(rest);
	struct sip_param p;
	int rc;
	while ((rc = sip_param_next(&rest, &p)) == 0) {
		if (via_param_apply(&via, &p) != 0) {
			*reason = "Bad Via parameter";
			return EBADMSG;
		}
	}
	if (rc != ENOENT) {
		*reason = "Bad Via parameter";
		return EBADMSG;
	}
	*out = via;
	return 0;
}

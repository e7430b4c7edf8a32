/*
 * uri.c - decode and compare SIP, SIPS and tel URIs; keep any other
 * absoluteURI opaque.
 *
 * The decoder splits on delimiters first and validates each piece against
 * its grammar element (RFC 3261 §19.1.1 and §25.1, RFC 3966 §3, RFC 5118
 * §4). It never copies, allocates or unescapes: each field of struct sip_uri
 * is a view into the input with %HH escapes left as they are, and every read
 * is bounded by the input length (no C string functions on wire bytes, so a
 * NUL byte or a %00 never ends anything early).
 *
 * Comparison (RFC 3261 §19.1.4, RFC 3966 §4) unescapes on the fly, one
 * character at a time, so it needs no buffer either. A character written as
 * %HH equals the same character written plainly, except for the "reserved"
 * characters (; / ? : @ & = + $ ,), whose escaped and plain forms differ.
 *
 * Deliberate leniencies, each with a test:
 *  - '_' is accepted in host names (SRV-style and some deployed hosts);
 *  - "[2001:db8:::192.0.2.1]" (three colons before an IPv4 tail) is accepted
 *    because RFC 3261's IPv6reference ABNF allows it (RFC 5118 §4.3);
 *  - IPv4 octets may carry leading zeros (RFC 3261's 1*3DIGIT).
 * Not done here: the telephone-subscriber syntax of a user=phone user part
 * is not checked beyond the user characters.
 */
#include "sip/uri.h"

#include <errno.h>
#include <string.h>

#include "sip/chartab.h"

enum {
	URI_IPV4_BYTES = 4,
	URI_IPV6_BYTES = 16,
	URI_PORT_MAX = 65535,
	URI_ESCAPE_LEN = 3, /* "%HH" */
};

/* ---- small helpers on views ---------------------------------------- */

static struct view view_sub(struct view v, size_t from, size_t to)
{
	return view_make(v.p + from, to - from);
}

/* Index of the first c in v, or v.len. */
static size_t view_find(struct view v, char c)
{
	/* URI parts are short: a plain loop beats a call to memchr */
	size_t i = 0;
	while (i < v.len && v.p[i] != c)
		i++;
	return i;
}

/* Index of the first byte of v that is one of set (a short literal), or v.len. */
static size_t view_find_any(struct view v, const char *set, size_t set_len)
{
	for (size_t i = 0; i < v.len; i++) {
		for (size_t k = 0; k < set_len; k++) {
			if (v.p[i] == set[k])
				return i;
		}
	}
	return v.len;
}

static bool is_escape_at(struct view v, size_t i)
{
	return v.p[i] == '%' && i + 2 < v.len && ct_is((unsigned char)v.p[i + 1], CT_HEX) &&
	       ct_is((unsigned char)v.p[i + 2], CT_HEX);
}

/* The byte of the well-formed escape at v.p[i]. */
static unsigned char escape_byte(struct view v, size_t i)
{
	return (unsigned char)(ct_hexval((unsigned char)v.p[i + 1]) << 4 |
			       ct_hexval((unsigned char)v.p[i + 2]));
}

enum chars_result { CHARS_OK, CHARS_BAD_CHAR, CHARS_BAD_ESCAPE };

/*
 * Check that every byte of v is in class cls or starts a %HH escape.
 * A '%' that does not start a well-formed escape is CHARS_BAD_ESCAPE.
 */
static enum chars_result check_chars(struct view v, unsigned cls)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c == '%') {
			if (!is_escape_at(v, i))
				return CHARS_BAD_ESCAPE;
			i += URI_ESCAPE_LEN - 1;
		} else if (!ct_is(c, cls)) {
			return CHARS_BAD_CHAR;
		}
	}
	return CHARS_OK;
}

/* Map a character check to 0 or EBADMSG with the field's reason. */
static int check_field(struct view v, unsigned cls, const char *field_reason, const char **reason)
{
	switch (check_chars(v, cls)) {
	case CHARS_OK:
		return 0;
	case CHARS_BAD_ESCAPE:
		*reason = "Bad URI escape";
		return EBADMSG;
	case CHARS_BAD_CHAR:
		break;
	}
	*reason = field_reason;
	return EBADMSG;
}

/*
 * Take the next "name[=value]" item of a list separated by sep (";a=b;c"
 * or "h=v&h2=v2"), skipping one leading sep. *value gets a NULL p when the
 * item has no '='. Returns false when the list is exhausted.
 */
static bool list_next(struct view *rest, char sep, struct view *name, struct view *value)
{
	struct view v = *rest;

	if (v.len > 0 && v.p[0] == sep)
		v = view_sub(v, 1, v.len);
	if (v.len == 0 && rest->len == 0)
		return false;
	size_t end = view_find(v, sep);
	struct view item = view_sub(v, 0, end);
	size_t eq = view_find(item, '=');
	*name = view_sub(item, 0, eq);
	*value = eq < item.len ? view_sub(item, eq + 1, item.len) : VIEW_NULL;
	*rest = view_sub(v, end, v.len);
	return true;
}

/* ---- escape-aware comparison ---------------------------------------- */

/* RFC 3261 §25.1 reserved: their %HH form is not equivalent to the plain one. */
static bool is_reserved(unsigned char c)
{
	static const char reserved[] = ";/?:@&=+$,";

	return memchr(reserved, c, sizeof(reserved) - 1) != NULL;
}

/* Read one character of an escaped view: its byte, and whether it was %HH. */
static bool esc_next(struct view *v, unsigned char *c, bool *escaped)
{
	if (v->len == 0)
		return false;
	if (is_escape_at(*v, 0)) {
		*c = escape_byte(*v, 0);
		*escaped = true;
		*v = view_sub(*v, URI_ESCAPE_LEN, v->len);
	} else {
		*c = (unsigned char)v->p[0];
		*escaped = false;
		*v = view_sub(*v, 1, v->len);
	}
	return true;
}

/* Equal after unescaping; ASCII case folded when nocase. */
static bool has_escape(struct view v)
{
	return v.len > 0 && memchr(v.p, '%', v.len) != NULL;
}

static bool esc_eq(struct view a, struct view b, bool nocase)
{
	unsigned char ca, cb;
	bool ea, eb;

	/* the usual case, no escape on either side: bytes (or letters) as they are */
	if (!has_escape(a) && !has_escape(b)) {
		if (nocase)
			return view_eq_nocase(a, b);
		return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
	}
	for (;;) {
		bool more_a = esc_next(&a, &ca, &ea);
		bool more_b = esc_next(&b, &cb, &eb);
		if (!more_a || !more_b)
			return more_a == more_b;
		if (nocase) {
			ca = ct_lower(ca);
			cb = ct_lower(cb);
		}
		if (ca != cb || (ea != eb && is_reserved(ca)))
			return false;
	}
}

/* Both absent, or both present and equal (esc_eq). */
static bool opt_eq(struct view a, struct view b, bool nocase)
{
	if (view_is_null(a) || view_is_null(b))
		return view_is_null(a) == view_is_null(b);
	return esc_eq(a, b, nocase);
}

/* First item of list whose name equals name (unescaped, case-insensitive). */
static bool list_find(struct view list, char sep, struct view name, struct view *value)
{
	struct view n, v;

	while (list_next(&list, sep, &n, &v)) {
		if (esc_eq(n, name, true)) {
			*value = v;
			return true;
		}
	}
	return false;
}

/* ---- scheme ---------------------------------------------------------- */

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'. */
static int decode_scheme(struct sip_uri *u, struct view in, struct view *rest, const char **reason)
{
	size_t i = 0;

	if (in.len == 0 || !ct_is((unsigned char)in.p[0], CT_ALPHA))
		goto bad;
	for (i = 1; i < in.len && in.p[i] != ':'; i++) {
		unsigned char c = (unsigned char)in.p[i];
		if (!ct_is(c, CT_ALPHA | CT_DIGIT) && c != '+' && c != '-' && c != '.')
			goto bad;
	}
	if (i == in.len)
		goto bad;
	u->scheme_v = view_sub(in, 0, i);
	if (view_eq_lit_nocase(u->scheme_v, "sip"))
		u->scheme = SIP_URI_SIP;
	else if (view_eq_lit_nocase(u->scheme_v, "sips"))
		u->scheme = SIP_URI_SIPS;
	else if (view_eq_lit_nocase(u->scheme_v, "tel"))
		u->scheme = SIP_URI_TEL;
	else
		u->scheme = SIP_URI_OTHER;
	*rest = view_sub(in, i + 1, in.len);
	return 0;
bad:
	*reason = "Bad URI scheme";
	return EBADMSG;
}

/*
 * hostport = host [ ":" port ] at the start of v. Sets host, host_type and
 * port, and *used to the bytes consumed (the params or headers follow).
 */
static int decode_hostport(struct sip_uri *u, struct view v, size_t *used, const char **reason)
{
	size_t end;

	if (v.len > 0 && v.p[0] == '[') {
		end = view_find(v, ']');
		end = end < v.len ? end + 1 : v.len;
		u->host = view_sub(v, 0, end);
		if (!sip_ipv6_reference_parse(u->host, NULL))
			goto bad_host;
		u->host_type = SIP_HOST_IPV6;
	} else {
		end = 0;
		while (end < v.len && v.p[end] != ':' && v.p[end] != ';' && v.p[end] != '?')
			end++;
		u->host = view_sub(v, 0, end);
		/* a name's last label starts with a letter: try IPv4 only when
		 * the host starts with a digit */
		if (u->host.len > 0 && ct_is((unsigned char)u->host.p[0], CT_DIGIT) &&
		    sip_ipv4_parse(u->host, NULL))
			u->host_type = SIP_HOST_IPV4;
		else if (sip_hostname_valid(u->host))
			u->host_type = SIP_HOST_NAME;
		else
			goto bad_host;
	}
	if (end < v.len && v.p[end] == ':') {
		size_t port_end = end + 1 + view_find_any(view_sub(v, end + 1, v.len), ";?", 2);
		uint64_t port;
		if (!view_to_u64(view_sub(v, end + 1, port_end), URI_PORT_MAX, &port)) {
			*reason = "Bad URI port";
			return EBADMSG;
		}
		u->has_port = true;
		u->port = (uint16_t)port;
		end = port_end;
	}
	if (end < v.len && v.p[end] != ';' && v.p[end] != '?')
		goto bad_host;
	*used = end;
	return 0;
bad_host:
	*reason = "Bad URI host";
	return EBADMSG;
}

/* ---- sip: and sips: ---------------------------------------------------- */

/* userinfo = user [ ":" password ], the "@" already removed. */
static int decode_userinfo(struct sip_uri *u, struct view v, const char **reason)
{
	size_t colon = view_find(v, ':');
	int err;

	u->user = view_sub(v, 0, colon);
	if (u->user.len == 0) {
		*reason = "Bad URI user";
		return EBADMSG;
	}
	err = check_field(u->user, CT_USER, "Bad URI user", reason);
	if (err)
		return err;
	if (colon == v.len)
		return 0;
	u->password = view_sub(v, colon + 1, v.len);
	return check_field(u->password, CT_PASSWORD, "Bad URI password", reason);
}

/* *( ";" pname [ "=" pvalue ] ), pname and pvalue 1*paramchar. */
static int decode_sip_params(struct view params, const char **reason)
{
	struct view rest = params, name, value;

	while (list_next(&rest, ';', &name, &value)) {
		if (name.len == 0 || (!view_is_null(value) && value.len == 0))
			goto bad;
		if (check_field(name, CT_PARAM, "Bad URI parameter", reason) ||
		    (!view_is_null(value) && check_field(value, CT_PARAM, "Bad URI parameter", reason)))
			return EBADMSG;
	}
	return 0;
bad:
	*reason = "Bad URI parameter";
	return EBADMSG;
}

/* header *( "&" header ), header = hname "=" hvalue, hname non-empty. */
static int decode_sip_headers(struct view headers, const char **reason)
{
	struct view rest = headers, name, value;

	if (headers.len == 0 || headers.p[0] == '&')
		goto bad;
	while (list_next(&rest, '&', &name, &value)) {
		if (name.len == 0 || view_is_null(value))
			goto bad;
		if (check_field(name, CT_HNV, "Bad URI header", reason) ||
		    check_field(value, CT_HNV, "Bad URI header", reason))
			return EBADMSG;
	}
	return 0;
bad:
	*reason = "Bad URI header";
	return EBADMSG;
}

/*
 * [ userinfo "@" ] hostport uri-parameters [ headers ]. '@' occurs nowhere
 * after the userinfo (not a param, header or host character), so the first
 * '@' ends the userinfo; ';', '?' and '/' before it belong to the user.
 */
static int decode_sip(struct sip_uri *u, struct view v, const char **reason)
{
	size_t at = view_find(v, '@'), used, question;
	int err;

	if (at < v.len) {
		err = decode_userinfo(u, view_sub(v, 0, at), reason);
		if (err)
			return err;
		v = view_sub(v, at + 1, v.len);
	}
	err = decode_hostport(u, v, &used, reason);
	if (err)
		return err;
	v = view_sub(v, used, v.len);
	question = view_find(v, '?');
	u->params = view_sub(v, 0, question);
	err = decode_sip_params(u->params, reason);
	if (err)
		return err;
	if (question == v.len)
		return 0;
	u->headers = view_sub(v, question + 1, v.len);
	return decode_sip_headers(u->headers, reason);
}

/* ---- tel: (RFC 3966) ----------------------------------------------------- */

static bool is_visual_separator(unsigned char c)
{
	return c == '-' || c == '.' || c == '(' || c == ')';
}

/* *phonedigit DIGIT *phonedigit, phonedigit = DIGIT / visual-separator */
static bool tel_phonedigits_valid(struct view v)
{
	bool digit = false;

	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (ct_is(c, CT_DIGIT))
			digit = true;
		else if (!is_visual_separator(c))
			return false;
	}
	return digit;
}

/* global-number-digits = "+" *phonedigit DIGIT *phonedigit */
static bool tel_global_digits_valid(struct view v)
{
	return v.len > 0 && v.p[0] == '+' && tel_phonedigits_valid(view_sub(v, 1, v.len));
}

/* local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex */
static bool tel_local_digits_valid(struct view v)
{
	bool digit = false;

	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (ct_is(c, CT_HEX) || c == '*' || c == '#')
			digit = true;
		else if (!is_visual_separator(c))
			return false;
	}
	return digit;
}

/* isdn-subaddress = ";isub=" 1*uric; ';' ends it, so uric minus ';'. */
static bool tel_isub_valid(struct view v)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c == '%') {
			if (!is_escape_at(v, i))
				return false;
			i += URI_ESCAPE_LEN - 1;
		} else if (!ct_is(c, CT_PARAM) && !is_reserved(c)) {
			return false;
		}
	}
	return v.len > 0;
}

/* pname = 1*( alphanum / "-" ) */
static bool tel_pname_valid(struct view v)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (!ct_is(c, CT_ALPHA | CT_DIGIT) && c != '-')
			return false;
	}
	return v.len > 0;
}

/* phone-context = descriptor, ext = 1*phonedigit, isub; others pname [ "=" pvalue ]. */
static bool tel_param_valid(struct view name, struct view value)
{
	if (!tel_pname_valid(name))
		return false;
	if (view_eq_lit_nocase(name, "phone-context"))
		return !view_is_null(value) &&
		       (tel_global_digits_valid(value) || sip_hostname_valid(value));
	if (view_eq_cstr_nocase(name, "ext"))
		return !view_is_null(value) && tel_phonedigits_valid(value);
	if (view_eq_cstr_nocase(name, "isub"))
		return !view_is_null(value) && tel_isub_valid(value);
	return view_is_null(value) || (value.len > 0 && check_chars(value, CT_PARAM) == CHARS_OK);
}

/*
 * telephone-subscriber = global-number / local-number. The number goes into
 * user, the parameters into params. A local number needs a phone-context
 * (RFC 3966 §5.1.5). Lenient: the order RFC 3966 gives its parameters is
 * not enforced, and a global number may carry a phone-context too.
 */
static int decode_tel(struct sip_uri *u, struct view v, const char **reason)
{
	size_t semi = view_find(v, ';');
	struct view rest, name, value;
	bool global, context = false;

	u->user = view_sub(v, 0, semi);
	u->params = view_sub(v, semi, v.len);
	global = u->user.len > 0 && u->user.p[0] == '+';
	if (global ? !tel_global_digits_valid(u->user) : !tel_local_digits_valid(u->user)) {
		*reason = "Bad tel number";
		return EBADMSG;
	}
	rest = u->params;
	while (list_next(&rest, ';', &name, &value)) {
		struct view earlier;
		/* RFC 3966 §3: each parameter at most once (comparison relies
		 * on it) */
		if (!tel_param_valid(name, value) ||
		    list_find(view_sub(u->params, 0, (size_t)(name.p - u->params.p)), ';', name,
			      &earlier)) {
			*reason = "Bad URI parameter";
			return EBADMSG;
		}
		if (view_eq_lit_nocase(name, "phone-context"))
			context = true;
	}
	if (!global && !context) {
		*reason = "Bad tel number";
		return EBADMSG;
	}
	return 0;
}

/* ---- other schemes ----------------------------------------------------------- */

/* Kept opaque: non-empty printable ASCII with well-formed escapes. */
static int decode_other(struct sip_uri *u, struct view v, const char **reason)
{
	u->opaque = v;
	if (v.len == 0) {
		*reason = "Bad URI";
		return EBADMSG;
	}
	return check_field(v, CT_TEXT, "Bad URI", reason);
}

/* ---- public -------------------------------------------------------------------- */

int sip_uri_decode(struct sip_uri *uri, struct view in, const char **reason)
{
	struct sip_uri u = { 0 };
	struct view rest;
	int err;

	u.raw = in;
	u.host_type = SIP_HOST_NONE;
	err = decode_scheme(&u, in, &rest, reason);
	if (err)
		return err;
	u.params = view_make(rest.p + rest.len, 0);
	if (u.scheme == SIP_URI_SIP || u.scheme == SIP_URI_SIPS)
		err = decode_sip(&u, rest, reason);
	else if (u.scheme == SIP_URI_TEL)
		err = decode_tel(&u, rest, reason);
	else
		err = decode_other(&u, rest, reason);
	if (err)
		return err;
	*uri = u;
	return 0;
}

bool sip_uri_param(const struct sip_uri *uri, const char *name, struct view *value)
{
	return list_find(uri->params, ';', view_from_cstr(name), value);
}

long sip_unescape(struct view in, char *out, size_t out_size)
{
	size_t n = 0;

	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];
		if (c == '%') {
			if (!is_escape_at(in, i))
				return -1;
			c = escape_byte(in, i);
			i += URI_ESCAPE_LEN - 1;
		}
		if (n == out_size)
			return -1;
		out[n++] = (char)c;
	}
	return (long)n;
}

/* ---- comparison ------------------------------------------------------------------ */

/*
 * Hosts: a name never equals an address (no resolution here); names compare
 * case-insensitively, addresses by value ("[2001:db8::1]" equals
 * "[2001:DB8:0::1]").
 */
static bool host_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	uint8_t ia[URI_IPV6_BYTES], ib[URI_IPV6_BYTES];

	if (a->host_type != b->host_type)
		return false;
	switch (a->host_type) {
	case SIP_HOST_IPV4:
		if (sip_ipv4_parse(a->host, ia) && sip_ipv4_parse(b->host, ib))
			return memcmp(ia, ib, URI_IPV4_BYTES) == 0;
		break;
	case SIP_HOST_IPV6:
		if (sip_ipv6_reference_parse(a->host, ia) && sip_ipv6_reference_parse(b->host, ib))
			return memcmp(ia, ib, URI_IPV6_BYTES) == 0;
		break;
	case SIP_HOST_NONE:
	case SIP_HOST_NAME:
		break;
	}
	return view_eq_nocase(a->host, b->host);
}

/* A parameter value: absent equals only absent; else unescaped, no case. */
static bool param_value_eq(struct view a, struct view b)
{
	return opt_eq(a, b, true);
}

/*
 * RFC 3261 §19.1.4: these must be in both URIs or in neither. transport is
 * not in the RFC's bullet list, but its own example ("sip:bob@biloxi.com" vs
 * ";transport=udp") says they differ.
 */
static const char *const sip_required_params[] = { "user", "ttl", "method", "maddr", "transport" };

/*
 * Every parameter present in both must match (the first occurrence of each
 * name is the one compared, from either side, so the result is symmetric);
 * any other parameter present in one only is ignored.
 */
static bool sip_params_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	struct view rest = a->params, name, value, va, vb;

	for (size_t i = 0; i < sizeof(sip_required_params) / sizeof(sip_required_params[0]); i++) {
		struct view n = view_from_cstr(sip_required_params[i]);
		if (list_find(a->params, ';', n, &va) != list_find(b->params, ';', n, &vb))
			return false;
	}
	while (list_next(&rest, ';', &name, &value)) {
		if (list_find(b->params, ';', name, &vb) && list_find(a->params, ';', name, &va) &&
		    !param_value_eq(va, vb))
			return false;
	}
	return true;
}

/* Every header of a has a header of b with the same name and value. */
static bool headers_within(struct view a, struct view b)
{
	struct view name, value, bname, bvalue;

	while (list_next(&a, '&', &name, &value)) {
		struct view rest = b;
		bool found = false;
		while (!found && list_next(&rest, '&', &bname, &bvalue))
			found = esc_eq(name, bname, true) && opt_eq(value, bvalue, false);
		if (!found)
			return false;
	}
	return true;
}

/*
 * RFC 3261 §19.1.4: headers are never ignored; each must be in both URIs.
 * Names compare case-insensitively, values case-sensitively (no per-header
 * rules here); order is irrelevant.
 */
static bool sip_headers_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	if (view_is_null(a->headers) || view_is_null(b->headers))
		return view_is_null(a->headers) == view_is_null(b->headers);
	return headers_within(a->headers, b->headers) && headers_within(b->headers, a->headers);
}

static bool sip_equal(const struct sip_uri *a, const struct sip_uri *b)
{
	return opt_eq(a->user, b->user, false) && opt_eq(a->password, b->password, false) &&
	       host_eq(a, b) && a->has_port == b->has_port && (!a->has_port || a->port == b->port) &&
	       sip_params_eq(a, b) && sip_headers_eq(a, b);
}

/* Unescaped, case-insensitive, visual separators (- . ( )) skipped. */
static bool tel_digits_eq(struct view a, struct view b)
{
	unsigned char ca = 0, cb = 0;
	bool ea, eb;

	for (;;) {
		bool more_a, more_b;
		while ((more_a = esc_next(&a, &ca, &ea)) && is_visual_separator(ca))
			;
		while ((more_b = esc_next(&b, &cb, &eb)) && is_visual_separator(cb))
			;
		if (!more_a || !more_b)
			return more_a == more_b;
		if (ct_lower(ca) != ct_lower(cb))
			return false;
	}
}

/* RFC 3966 §4: phone-context as a number or a host name, ext as digits. */
static bool tel_param_value_eq(struct view name, struct view a, struct view b)
{
	if (view_is_null(a) || view_is_null(b))
		return view_is_null(a) == view_is_null(b);
	if (view_eq_cstr_nocase(name, "ext") ||
	    (view_eq_lit_nocase(name, "phone-context") && a.len > 0 && a.p[0] == '+'))
		return tel_digits_eq(a, b);
	return esc_eq(a, b, true);
}

/* Every parameter of a is in b with an equal value. */
static bool tel_params_within(struct view a, struct view b)
{
	struct view name, value, other;

	while (list_next(&a, ';', &name, &value)) {
		if (!list_find(b, ';', name, &other) || !tel_param_value_eq(name, value, other))
			return false;
	}
	return true;
}

/* RFC 3966 §4: same number, same parameter set, case-insensitive. */
static bool tel_equal(const struct sip_uri *a, const struct sip_uri *b)
{
	return tel_digits_eq(a->user, b->user) && tel_params_within(a->params, b->params) &&
	       tel_params_within(b->params, a->params);
}

bool sip_uri_may_equal(struct view text, const struct sip_uri *uri)
{
	size_t colon = view_find(text, ':');
	struct view scheme = view_sub(text, 0, colon);
	enum sip_uri_scheme s;

	if (view_eq_lit_nocase(scheme, "sip"))
		s = SIP_URI_SIP;
	else if (view_eq_lit_nocase(scheme, "sips"))
		s = SIP_URI_SIPS;
	else
		return true;
	if (s != uri->scheme)
		return false; /* other schemes are never equal */
	struct view rest = view_sub(text, colon + 1, text.len);
	size_t at = view_find(rest, '@');
	if (at == rest.len)
		return view_is_null(uri->user); /* no user part in text */
	struct view userinfo = view_sub(rest, 0, at);
	/* ';' or '?' before the '@': a user part that holds them, or an '@'
	 * further on; either way decoding tells */
	if (view_find_any(userinfo, ";?", 2) < userinfo.len)
		return true;
	if (view_is_null(uri->user))
		return false; /* a user part in text only */
	return esc_eq(view_sub(userinfo, 0, view_find(userinfo, ':')), uri->user, false);
}

bool sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b)
{
	if (a->scheme != b->scheme)
		return false;
	/* the same text is the same URI (the comparison is reflexive, a fuzz
	 * property): a refreshing phone sends its Contact byte for byte */
	if (view_eq(a->raw, b->raw))
		return true;
	switch (a->scheme) {
	case SIP_URI_SIP:
	case SIP_URI_SIPS:
		return sip_equal(a, b);
	case SIP_URI_TEL:
		return tel_equal(a, b);
	case SIP_URI_OTHER:
		return view_eq_nocase(a->scheme_v, b->scheme_v) && view_eq(a->opaque, b->opaque);
	}
	return false;
}

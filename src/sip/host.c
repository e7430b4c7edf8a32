/*
 * host.c - the host grammar of RFC 3261 §25.1 with RFC 5118's IPv6 rules:
 * hostname, IPv4address and IPv6reference, each matched against a whole
 * view; the addresses can also be converted to their bytes for comparison.
 *
 * Deliberate leniencies: '_' inside host-name labels, a trailing '.', leading
 * zeros in IPv4 octets, and "2001:db8:::192.0.2.1" (RFC 5118 §4.3).
 */
#include "sip/uri.h"

#include <string.h>

#include "sip/chartab.h"

enum {
	URI_IPV4_BYTES = 4,
	URI_IPV6_GROUPS = 8,
	URI_IPV6_GROUP_DIGITS = 4,
	URI_IPV4_OCTET_DIGITS = 3,
	URI_IPV4_OCTET_MAX = 255,
};

static struct view view_sub(struct view v, size_t from, size_t to)
{
	return view_make(v.p + from, to - from);
}

/*
 * IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, each octet
 * at most 255. The whole of v must match. out may be NULL.
 */
bool sip_ipv4_parse(struct view v, uint8_t *out)
{
	const unsigned char *p, *end;
	uint8_t bytes[URI_IPV4_BYTES];

	/* "0.0.0.0" to "255.255.255.255": a cheap no for most host names;
	 * before any pointer arithmetic, which a NULL view (a URI without a
	 * host) must not get */
	if (v.len < 7 || v.len > 15)
		return false;
	p = (const unsigned char *)v.p;
	end = p + v.len;
	for (size_t octet = 0; octet < URI_IPV4_BYTES; octet++) {
		if (octet > 0) {
			if (p == end || *p != '.')
				return false;
			p++;
		}
		unsigned d = p < end ? (unsigned)(*p - '0') : 10u;
		if (d > 9)
			return false;
		unsigned value = d;
		p++;
		for (size_t k = 1; k < URI_IPV4_OCTET_DIGITS && p < end && (d = (unsigned)(*p - '0')) <= 9;
		     k++, p++)
			value = value * 10 + d;
		if (value > URI_IPV4_OCTET_MAX)
			return false;
		bytes[octet] = (uint8_t)value;
	}
	if (p != end)
		return false;
	if (out)
		memcpy(out, bytes, sizeof(bytes));
	return true;
}

/* True when the IPv6 group starting at i is a dotted IPv4 tail. */
static bool ipv6_tail_is_ipv4(struct view v, size_t i)
{
	for (; i < v.len && v.p[i] != ':'; i++) {
		if (v.p[i] == '.')
			return true;
	}
	return false;
}

/* h16 = 1*4HEXDIG at *i; false when there is none or more than four. */
static bool ipv6_group(struct view v, size_t *i, uint16_t *group)
{
	unsigned value = 0;
	size_t digits = 0;

	while (*i < v.len && ct_is((unsigned char)v.p[*i], CT_HEX)) {
		if (++digits > URI_IPV6_GROUP_DIGITS)
			return false;
		value = value << 4 | (unsigned)ct_hexval((unsigned char)v.p[*i]);
		(*i)++;
	}
	*group = (uint16_t)value;
	return digits > 0;
}

/*
 * IPv6address (RFC 4291 §2.2 text form, no brackets): hex groups of 1-4
 * digits, at most one "::", an optional dotted IPv4 tail. RFC 3261's ABNF
 * also lets "::" be followed by ":" IPv4address ("2001:db8:::192.0.2.1"),
 * which RFC 5118 §4.3 says to accept; it means the same as with two colons.
 * The whole of v must match. out may be NULL.
 */
bool sip_ipv6_parse(struct view v, uint8_t *out)
{
	uint16_t groups[URI_IPV6_GROUPS];
	size_t count = 0, gap = 0, i = 0;
	bool has_gap = false, need_ipv4 = false;

	if (v.len >= 2 && v.p[0] == ':' && v.p[1] == ':') {
		has_gap = true;
		i = 2;
		if (i < v.len && v.p[i] == ':') {
			need_ipv4 = true;
			i++;
		}
	}
	while (i < v.len) {
		if (ipv6_tail_is_ipv4(v, i)) {
			uint8_t quad[URI_IPV4_BYTES];
			if (count + 2 > URI_IPV6_GROUPS || !sip_ipv4_parse(view_sub(v, i, v.len), quad))
				return false;
			groups[count++] = (uint16_t)(quad[0] << 8 | quad[1]);
			groups[count++] = (uint16_t)(quad[2] << 8 | quad[3]);
			need_ipv4 = false;
			break;
		}
		if (need_ipv4 || count == URI_IPV6_GROUPS || !ipv6_group(v, &i, &groups[count]))
			return false;
		count++;
		if (i == v.len)
			break;
		if (v.p[i] != ':' || ++i == v.len)
			return false;
		if (v.p[i] == ':') {
			if (has_gap)
				return false;
			has_gap = true;
			gap = count;
			i++;
			if (i < v.len && v.p[i] == ':') {
				need_ipv4 = true;
				i++;
			}
		}
	}
	if (need_ipv4)
		return false;
	if (has_gap ? count >= URI_IPV6_GROUPS : count != URI_IPV6_GROUPS)
		return false;
	if (out) {
		size_t zeros = URI_IPV6_GROUPS - count, g = 0;
		for (size_t k = 0; k < count; k++) {
			if (has_gap && k == gap)
				g = zeros;
			out[2 * (g + k)] = (uint8_t)(groups[k] >> 8);
			out[2 * (g + k) + 1] = (uint8_t)groups[k];
		}
		for (size_t k = 0; k < zeros; k++) {
			out[2 * (gap + k)] = 0;
			out[2 * (gap + k) + 1] = 0;
		}
	}
	return true;
}

/* "[" IPv6address "]", the brackets included in v. */
bool sip_ipv6_reference_parse(struct view v, uint8_t *out)
{
	return v.len >= 2 && v.p[0] == '[' && v.p[v.len - 1] == ']' &&
	       sip_ipv6_parse(view_sub(v, 1, v.len - 1), out);
}

/*
 * hostname = *( domainlabel "." ) toplabel [ "." ]; labels of alphanum and
 * '-' that neither start nor end with '-'; the top label starts with a
 * letter, which is what keeps "192.0.2.256" from being a name. '_' is
 * tolerated inside labels (SRV-style names such as "_sip._udp.example.com"
 * appear in the wild).
 */
bool sip_hostname_valid(struct view v)
{
	size_t label = 0; /* start of the current label */

	if (v.len > 0 && v.p[v.len - 1] == '.')
		v.len--;
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c == '.') {
			if (i == label || v.p[label] == '-' || v.p[i - 1] == '-')
				return false;
			label = i + 1;
		} else if (!ct_is(c, CT_HOST) && c != '_') {
			return false;
		}
	}
	/* a last label that is empty ("a.." cut to "a."): nothing to read at
	 * v.p[label], which is past the view */
	if (label == v.len || v.p[label] == '-' || v.p[v.len - 1] == '-')
		return false;
	return ct_is((unsigned char)v.p[label], CT_ALPHA);
}

bool sip_host_classify(struct view host, enum sip_host_type *type)
{
	enum sip_host_type t;

	if (host.len > 0 && host.p[0] == '[')
		t = sip_ipv6_reference_parse(host, NULL) ? SIP_HOST_IPV6 : SIP_HOST_NONE;
	else if (host.len > 0 && ct_is((unsigned char)host.p[0], CT_DIGIT) &&
		 sip_ipv4_parse(host, NULL))
		t = SIP_HOST_IPV4;
	else
		t = sip_hostname_valid(host) ? SIP_HOST_NAME : SIP_HOST_NONE;
	if (t == SIP_HOST_NONE)
		return false;
	*type = t;
	return true;
}

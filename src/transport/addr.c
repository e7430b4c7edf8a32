/*
 * addr.c - socket addresses as SIP sees them, and where responses go
 * (RFC 3261 §18.2.1-18.2.2, RFC 3581 §4). No I/O here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"
#include "sip/uri.h"
#include "transport/transport.h"

#define SIP_DEFAULT_PORT 5060u
#define SIP_DEFAULT_TLS_PORT 5061u

const char *tp_proto_name(enum tp_proto proto)
{
	switch (proto) {
	case TP_UDP:
		return "UDP";
	case TP_TCP:
		return "TCP";
	case TP_TLS:
		return "TLS";
	case TP_WS:
		return "WS";
	case TP_WSS:
		return "WSS";
	}
	return "UDP";
}

void tp_addr_ip_string(const struct tp_addr *addr, char *out, size_t size)
{
	const void *src = addr->u.sa.sa_family == AF_INET6 ? (const void *)&addr->u.in6.sin6_addr
							  : (const void *)&addr->u.in.sin_addr;
	if (size == 0)
		return;
	if (addr->u.sa.sa_family == AF_INET && size >= INET_ADDRSTRLEN) {
		/* dotted quad without inet_ntop's printf */
		const uint8_t *b = src;
		size_t n = 0;
		for (int i = 0; i < 4; i++) {
			if (i > 0)
				out[n++] = '.';
			n += view_u64_format(b[i], out + n);
		}
		out[n] = '\0';
		return;
	}
	if (!inet_ntop(addr->u.sa.sa_family, src, out, (socklen_t)size))
		out[0] = '\0';
}

void tp_addr_hostport(const struct tp_addr *addr, char *out, size_t size)
{
	bool v6 = addr->u.sa.sa_family == AF_INET6;
	char text[TP_HOSTPORT_MAX];
	size_t n = 0;

	if (size == 0)
		return;
	if (v6)
		text[n++] = '[';
	tp_addr_ip_string(addr, text + n, INET6_ADDRSTRLEN);
	n += strlen(text + n);
	if (v6)
		text[n++] = ']';
	text[n++] = ':';
	n += view_u64_format(tp_addr_port(addr), text + n);
	if (n >= size)
		n = size - 1;
	memcpy(out, text, n);
	out[n] = '\0';
}

uint16_t tp_addr_port(const struct tp_addr *addr)
{
	return ntohs(addr->u.sa.sa_family == AF_INET6 ? addr->u.in6.sin6_port : addr->u.in.sin_port);
}

void tp_addr_set_port(struct tp_addr *addr, uint16_t port)
{
	if (addr->u.sa.sa_family == AF_INET6)
		addr->u.in6.sin6_port = htons(port);
	else
		addr->u.in.sin_port = htons(port);
}

bool tp_addr_equal(const struct tp_addr *a, const struct tp_addr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET6)
		return a->u.in6.sin6_port == b->u.in6.sin6_port &&
		       memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
	return a->u.in.sin_port == b->u.in.sin_port && a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
}

int tp_addr_from_text(struct tp_addr *addr, struct view ip, uint16_t port)
{
	uint8_t bytes[16];

	if (ip.len >= 2 && ip.p[0] == '[' && ip.p[ip.len - 1] == ']')
		ip = view_make(ip.p + 1, ip.len - 2);
	memset(addr, 0, sizeof(*addr));
	if (sip_ipv4_parse(ip, bytes)) {
		addr->u.in.sin_family = AF_INET;
		memcpy(&addr->u.in.sin_addr, bytes, 4);
		addr->len = sizeof(addr->u.in);
	} else if (sip_ipv6_parse(ip, bytes)) {
		addr->u.in6.sin6_family = AF_INET6;
		memcpy(&addr->u.in6.sin6_addr, bytes, 16);
		addr->len = sizeof(addr->u.in6);
	} else {
		return EINVAL;
	}
	tp_addr_set_port(addr, port);
	return 0;
}

/* Is the Via sent-by host the same IP as the packet's source? A name never
 * is (sipd does not resolve it here). */
static bool sent_by_is_source(const struct tp_packet *pkt)
{
	struct tp_addr host;
	const struct sip_via *via = &pkt->msg.via;

	if (via->host_type == SIP_HOST_NAME)
		return false;
	if (tp_addr_from_text(&host, via->host, tp_addr_port(&pkt->src)) != 0)
		return false;
	return tp_addr_equal(&host, &pkt->src);
}

void tp_via_params(const struct tp_packet *pkt, char *out, size_t size)
{
	const struct sip_via *via = &pkt->msg.via;
	struct text t;

	text_init(&t, out, size);
	/* RFC 3581 §4: with rport, received is added even when they match */
	if (via->has_rport || !sent_by_is_source(pkt)) {
		char ip[INET6_ADDRSTRLEN];
		tp_addr_ip_string(&pkt->src, ip, sizeof(ip));
		text_cstr(&t, ";received=");
		text_cstr(&t, ip);
	}
	if (via->has_rport && !via->rport_has_value) {
		text_cstr(&t, ";rport=");
		text_u64(&t, tp_addr_port(&pkt->src));
	}
	/* all or nothing: a cut parameter would be a wrong one */
	if (t.over)
		text_init(&t, out, size);
}

void tp_response_dest(const struct tp_packet *pkt, struct tp_dest *dest)
{
	const struct sip_via *via = &pkt->msg.via;

	memset(dest, 0, sizeof(*dest));
	dest->proto = pkt->proto;
	dest->addr = pkt->src;
	dest->conn = pkt->conn;
	dest->listener = pkt->listener;
	/* A stream goes back on its connection; should that be gone, a new one
	 * is opened to the source IP at the sent-by port. */
	if (tp_proto_reliable(pkt->proto) || !via->has_rport) {
		uint16_t port = pkt->proto == TP_TLS ? SIP_DEFAULT_TLS_PORT : SIP_DEFAULT_PORT;
		tp_addr_set_port(&dest->addr, via->has_port ? via->port : port);
	}
}

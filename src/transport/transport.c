/*
 * transport.c - the transport object: listeners, the hand-off of decoded
 * packets, answers to malformed input, and send dispatch by protocol.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/obj.h"
#include "base/random.h"
#include "sip/response.h"
#include "transport/tp_int.h"

static void packet_destroy(void *obj)
{
	struct tp_packet *pkt = obj;
	sip_msg_fini(&pkt->msg);
	pkt->conn = obj_unref(pkt->conn);
}

/* Header lines a packet has room for without counting its lines first. */
#define PACKET_MIN_ROOM 16u

struct tp_packet *tp_packet_alloc(const char *data, size_t len)
{
	/* one allocation: the packet, the bytes, then room for the header
	 * lines. The allocation is a block (mem.h) for all but large
	 * messages: the lines get what the block has left, at least
	 * PACKET_MIN_ROOM, without a pass counting them (tp_packet_decode
	 * falls back when a message has more). Past the blocks, room for
	 * exactly as many lines as the bytes can hold. */
	size_t align = _Alignof(struct sip_hdr);
	size_t store_off = (offsetof(struct tp_packet, data) + len + align - 1) / align * align;
	size_t want = store_off + PACKET_MIN_ROOM * sizeof(struct sip_hdr);
	size_t room = obj_alloc_room(want);
	size_t cap;
	if (room > want) {
		cap = (room - store_off) / sizeof(struct sip_hdr);
		if (cap > SIP_MAX_HEADERS + 1)
			cap = SIP_MAX_HEADERS + 1;
	} else {
		cap = sip_msg_line_bound(data, len);
	}
	struct tp_packet *pkt = obj_alloc_uninit(store_off + cap * sizeof(struct sip_hdr),
						 packet_destroy);
	if (!pkt)
		return NULL;
	/* not cleared (kilobytes per message): every field is set here, by
	 * the receiver (proto, src, listener, conn) or by the decoder, which
	 * sets what it reads before reading it */
	pkt->proto = TP_UDP;
	memset(&pkt->src, 0, sizeof(pkt->src));
	pkt->listener = NULL;
	pkt->conn = NULL;
	pkt->received_ms = 0;
	memcpy(pkt->data, data, len);
	pkt->len = len;
	pkt->hdr_store = (struct sip_hdr *)(void *)((char *)pkt + store_off);
	pkt->hdr_store_cap = cap;
	/* a valid empty message, so the destructor may run before decode */
	memset(pkt->msg.cache, 0, sizeof(pkt->msg.cache));
	pkt->msg.hdrs = NULL;
	pkt->msg.hdrs_owned = false;
	return pkt;
}

int tp_packet_decode(struct tp_packet *pkt, enum sip_framing framing, size_t *used,
		     struct sip_error *err)
{
	int rc = sip_msg_decode_in(&pkt->msg, pkt->hdr_store, pkt->hdr_store_cap, pkt->data,
				   pkt->len, framing, used, err);
	/* more lines than the packet's room but maybe within the limit:
	 * again, with storage of the message's own (freed with it) */
	if (rc == EMSGSIZE && pkt->msg.hdr_count >= pkt->hdr_store_cap &&
	    pkt->hdr_store_cap <= SIP_MAX_HEADERS)
		rc = sip_msg_decode(&pkt->msg, pkt->data, pkt->len, framing, used, err);
	return rc;
}

int transport_alloc(struct transport **out, struct loop *loop, const struct transport_config *cfg,
		    tp_recv_h *recv, void *arg)
{
	struct transport *tp = calloc(1, sizeof(*tp));
	int rc;

	if (!tp)
		return ENOMEM;
	tp->loop = loop;
	tp->cfg = *cfg;
	if (tp->cfg.max_message_size == 0 || tp->cfg.max_message_size > SIP_MAX_MESSAGE)
		tp->cfg.max_message_size = SIP_MAX_MESSAGE;
	tp->recv = recv;
	tp->arg = arg;
	tp->udp_buf_size = tp->cfg.max_message_size + 1; /* one more to see truncation */
	tp->udp_bufs = malloc(tp->udp_buf_size * TP_UDP_BATCH);
	rc = tp->udp_bufs ? 0 : ENOMEM;
	if (rc == 0)
		rc = hmap_init(&tp->conns, 64);
	if (rc == 0)
		pthread_mutex_init(&tp->conns_lock, NULL);
	if (rc == 0) {
		rc = hmap_init(&tp->ips, 64);
		if (rc != 0)
			hmap_fini(&tp->conns);
	}
	if (rc != 0) {
		free(tp->udp_bufs);
		free(tp);
		return rc;
	}
	*out = tp;
	return 0;
}

void transport_free(struct transport *tp)
{
	if (!tp)
		return;
	tp_conns_close_all(tp);
	for (unsigned i = 0; i < tp->listener_count; i++) {
		struct tp_listener *l = tp->listeners[i];
		loop_io_remove(tp->loop, &l->io);
		if (l->fd >= 0)
			close(l->fd); /* none for transport_listen_unbound */
		free(l);
	}
	hmap_fini(&tp->conns);
	pthread_mutex_destroy(&tp->conns_lock);
	hmap_fini(&tp->ips);
	free(tp->udp_bufs);
	free(tp);
}

int transport_probe(enum tp_proto proto, const struct tp_addr *addr, struct tp_addr *bound)
{
	int one = 1;
	int fd = socket(addr->u.sa.sa_family,
			(proto == TP_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (proto != TP_UDP && proto != TP_TCP)
		return EPROTONOSUPPORT;
	if (fd < 0)
		return errno;
	if (proto != TP_UDP)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->u.sa.sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	*bound = *addr;
	if (bind(fd, &addr->u.sa, addr->len) != 0 ||
	    getsockname(fd, &bound->u.sa, &bound->len) != 0)
		rc = errno;
	close(fd);
	return rc;
}

void transport_set_siblings(struct transport *tp, struct transport **all, unsigned count)
{
	tp->siblings = all;
	tp->sibling_count = count;
}

struct tp_packet *tp_packet_copy(const struct tp_packet *pkt)
{
	struct tp_packet *copy = tp_packet_alloc(pkt->data, pkt->len);
	struct sip_error err;
	size_t used;

	if (!copy)
		return NULL;
	copy->proto = pkt->proto;
	copy->src = pkt->src;
	copy->listener = pkt->listener;
	copy->received_ms = pkt->received_ms;
	if (tp_packet_decode(copy, SIP_FRAMING_DGRAM, &used, &err) != 0) {
		obj_unref(copy);
		return NULL;
	}
	return copy;
}

/* A listener not yet bound, or NULL with *rc set. */
static struct tp_listener *listener_new(struct transport *tp, enum tp_proto proto,
					const struct tp_addr *addr, int *rc)
{
	struct tp_listener *l;

	*rc = 0;
	if (tp->listener_count >= TP_MAX_LISTENERS)
		*rc = ENOSPC;
	else if (proto != TP_UDP && proto != TP_TCP)
		*rc = EPROTONOSUPPORT;
	else if ((l = calloc(1, sizeof(*l))) == NULL)
		*rc = ENOMEM;
	if (*rc != 0)
		return NULL;
	l->tp = tp;
	l->proto = proto;
	l->addr = *addr;
	l->fd = -1;
	return l;
}

int transport_listen(struct transport *tp, enum tp_proto proto, const struct tp_addr *addr,
		     struct tp_addr *bound)
{
	int rc;
	struct tp_listener *l = listener_new(tp, proto, addr, &rc);

	if (!l)
		return rc;
	rc = proto == TP_UDP ? tp_udp_listen(tp, l) : tp_tcp_listen(tp, l);
	if (rc != 0) {
		free(l);
		return rc;
	}
	tp->listeners[tp->listener_count++] = l;
	*bound = l->addr;
	return 0;
}

int transport_listen_unbound(struct transport *tp, enum tp_proto proto, const struct tp_addr *addr)
{
	int rc;
	struct tp_listener *l = listener_new(tp, proto, addr, &rc);

	if (!l)
		return rc;
	tp->listeners[tp->listener_count++] = l;
	return 0;
}

struct tp_listener *tp_listener_find(struct transport *tp, enum tp_proto proto,
				     const struct tp_addr *addr)
{
	for (unsigned i = 0; i < tp->listener_count; i++) {
		struct tp_listener *l = tp->listeners[i];
		if (l->proto == proto && tp_addr_equal(&l->addr, addr))
			return l;
	}
	return NULL;
}

void transport_set_send_hook(struct transport *tp, tp_send_hook_h *hook, void *arg)
{
	tp->send_hook = hook;
	tp->send_hook_arg = arg;
}

const struct transport_stats *transport_stats(const struct transport *tp)
{
	return &tp->stats;
}

size_t transport_conn_count(const struct transport *tp)
{
	return tp->conn_count;
}

void tp_deliver(struct transport *tp, struct tp_packet *pkt)
{
	pkt->received_ms = loop_now_ms(tp->loop);
	tp->stats.received++;
	tp->recv(pkt, tp->arg);
}

void tp_malformed(struct transport *tp, struct tp_packet *pkt, const struct sip_error *err,
		  const struct tp_dest *reply)
{
	char peer[TP_HOSTPORT_MAX];
	struct buf out;

	tp->stats.malformed++;
	tp_addr_hostport(&pkt->src, peer, sizeof(peer));
	const struct sip_hdr *call_id = sip_msg_hdr_find(&pkt->msg, SIP_HDR_CALL_ID);
	struct view cid = call_id ? call_id->value : VIEW_LIT("");
	if (log_ratelimit_allow(&tp->bad_log, loop_now_ms(tp->loop), TP_MALFORMED_LOG_BURST,
				TP_MALFORMED_LOG_WINDOW_MS)) {
		unsigned dropped = log_ratelimit_take_suppressed(&tp->bad_log);
		log_warn("bad message from %s %s: %d %s (Call-ID %.*s)%s", tp_proto_name(pkt->proto),
			 peer, err->status, err->reason,
			 (int)(cid.len > 64 ? 64 : cid.len), cid.p, dropped ? " (more suppressed)" : "");
	}
	buf_init(&out);
	/* received/rport as for any answer when the top Via decoded, else
	 * received= alone on the raw Via */
	char params[TP_VIA_PARAMS_MAX];
	if (pkt->msg.via.raw.p != NULL)
		tp_via_params(pkt, params, sizeof(params));
	else {
		char ip[INET6_ADDRSTRLEN];
		tp_addr_ip_string(&pkt->src, ip, sizeof(ip));
		snprintf(params, sizeof(params), ";received=%s", ip);
	}
	char tag[17];
	uint64_t r = 0;
	(void)random_u64(&r);
	snprintf(tag, sizeof(tag), "%016llx", (unsigned long long)r);
	char extra[TP_ALLOW_LINE_MAX] = "";
	if (err->status == 501 && tp->cfg.allow) {
		int n = snprintf(extra, sizeof(extra), "Allow: %s\r\n", tp->cfg.allow);
		if (n < 0 || (size_t)n >= sizeof(extra))
			extra[0] = '\0'; /* a cut line would lose its CRLF: none */
	}
	struct sip_response_spec spec = {
		.status = (unsigned)err->status,
		.reason = err->reason,
		.via_params = view_from_cstr(params),
		.to_tag = view_from_cstr(tag),
		.extra = view_from_cstr(extra),
	};
	if (sip_response_print_malformed(&out, &pkt->msg, &spec) == 0) {
		struct iovec iov = { .iov_base = out.data, .iov_len = out.len };
		(void)tp_send(tp, reply, &iov, 1);
	}
	buf_fini(&out);
}

int tp_send(struct transport *tp, const struct tp_dest *dest, const struct iovec *iov,
	    size_t iov_count)
{
	int rc;

	if (tp->send_hook) {
		rc = tp->send_hook(dest, iov, iov_count, tp->send_hook_arg);
		if (rc != 0)
			tp->stats.send_errors++;
		return rc;
	}
	switch (dest->proto) {
	case TP_UDP:
		rc = tp_udp_send(tp, dest, iov, iov_count);
		break;
	case TP_TCP:
		rc = tp_tcp_send(tp, dest, iov, iov_count);
		break;
	default:
		rc = EPROTONOSUPPORT;
		break;
	}
	if (rc != 0)
		tp->stats.send_errors++;
	return rc;
}

static bool addr_is_any(const struct tp_addr *a)
{
	static const uint8_t any6[16];
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
	return memcmp(&a->u.in6.sin6_addr, any6, 16) == 0;
}

int tp_local_for(struct transport *tp, enum tp_proto proto, const struct tp_addr *dest,
		 struct tp_listener **listener, struct tp_addr *local)
{
	struct tp_listener *pick = NULL;

	for (unsigned i = 0; i < tp->listener_count && !pick; i++) {
		struct tp_listener *l = tp->listeners[i];
		if (l->proto == proto && l->addr.u.sa.sa_family == dest->u.sa.sa_family)
			pick = l;
	}
	if (!pick)
		return EAFNOSUPPORT;
	*listener = pick;
	*local = pick->addr;
	if (!addr_is_any(&pick->addr))
		return 0;
	/* a wildcard listener: the source address the kernel would use */
	int fd = socket(dest->u.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct tp_addr src;
	if (fd < 0)
		return errno;
	src.len = sizeof(src.u.ss);
	if (connect(fd, &dest->u.sa, dest->len) != 0 ||
	    getsockname(fd, &src.u.sa, &src.len) != 0) {
		int rc = errno;
		close(fd);
		return rc;
	}
	close(fd);
	uint16_t port = tp_addr_port(&pick->addr);
	*local = src;
	if (local->u.sa.sa_family == AF_INET)
		local->u.in.sin_port = htons(port);
	else
		local->u.in6.sin6_port = htons(port);
	return 0;
}

int tp_dest_from_via(const struct sip_via *via, struct tp_dest *dest)
{
	enum tp_proto proto;
	struct view host;
	uint16_t port;

	memset(dest, 0, sizeof(*dest));
	if (view_eq_lit_nocase(via->transport, "UDP"))
		proto = TP_UDP;
	else if (view_eq_lit_nocase(via->transport, "TCP"))
		proto = TP_TCP;
	else if (view_eq_lit_nocase(via->transport, "TLS"))
		proto = TP_TLS;
	else
		return EPROTONOSUPPORT;
	host = !view_is_null(via->received) ? via->received : via->host;
	if (via->rport_has_value)
		port = via->rport;
	else if (via->has_port)
		port = via->port;
	else
		port = proto == TP_TLS ? 5061 : 5060;
	if (tp_addr_from_text(&dest->addr, host, port) != 0)
		return EHOSTUNREACH; /* a host name: no resolver here */
	dest->proto = proto;
	return 0;
}

bool tp_has_conn(struct transport *tp, enum tp_proto proto, const struct tp_addr *peer)
{
	return tp_proto_reliable(proto) &&
	       (tp_tcp_has_conn(tp, peer) || tp_tcp_owner(tp, peer) != NULL);
}

/*
 * udp.c - SIP over UDP (RFC 3261 §18.1.1, §18.2.1): one datagram is one
 * message. Datagrams are read in batches with recvmmsg(2); each is copied
 * once into a packet of its exact size and decoded there. A datagram over
 * limits.max_message_size is dropped and counted (the RFC allows no better:
 * its headers may be cut). CRLF keep-alives on UDP are ignored.
 *
 * IPv4 sockets are set to IP_PMTUDISC_PROBE: don't-fragment set and the
 * path MTU the kernel learned ignored. The kernel then leaves the IP ID of
 * the datagram at 0 (RFC 6864 allows any ID on a datagram that is never
 * fragmented), where by default it draws one from a table shared by all
 * CPUs: a hash and an atomic add on a contended cache line per datagram,
 * about 2 % of sipd's CPU on a proxied call. A datagram above
 * TP_UDP_PROBE_MAX goes out with the default (IP_PMTUDISC_WANT: the path
 * MTU honoured, fragmented when larger), so only datagrams that fit any
 * IPv4 path in use (RFC 3261 §18.1.1 sends larger requests over TCP) go out
 * unfragmentable.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/obj.h"
#include "base/sys.h"
#include "transport/tp_int.h"

static bool only_crlf(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\r' && p[i] != '\n')
			return false;
	}
	return true;
}

static void datagram(struct tp_listener *l, const char *data, size_t len,
		     const struct sockaddr_storage *from, socklen_t from_len, bool truncated)
{
	struct transport *tp = l->tp;
	struct sip_error err = { 400, "Bad Request" };
	size_t used;

	if (truncated || len > tp->cfg.max_message_size) {
		tp->stats.oversize++;
		return;
	}
	if (len == 0 || only_crlf(data, len))
		return;
	struct tp_packet *pkt = tp_packet_alloc(data, len);
	if (!pkt)
		return; /* one allocation failure costs one message */
	pkt->proto = TP_UDP;
	if (from_len > sizeof(pkt->src.u.ss))
		from_len = sizeof(pkt->src.u.ss);
	memcpy(&pkt->src.u.ss, from, from_len);
	pkt->src.len = from_len;
	pkt->listener = l;
	int rc = tp_packet_decode(pkt, SIP_FRAMING_DGRAM, &used, &err);
	if (rc == 0) {
		tp_deliver(tp, pkt);
	} else {
		struct tp_dest reply = { .proto = TP_UDP, .addr = pkt->src, .listener = l };
		tp_malformed(tp, pkt, &err, &reply);
	}
	obj_unref(pkt);
}

int transport_receive_datagram(struct transport *tp, const struct tp_addr *local,
			       const struct tp_addr *src, const char *data, size_t len)
{
	struct tp_listener *l = tp_listener_find(tp, TP_UDP, local);

	if (src->len > sizeof(src->u.ss))
		return EINVAL;
	if (!l)
		return ENOENT;
	datagram(l, data, len, &src->u.ss, src->len, false);
	return 0;
}

static void udp_readable(struct loop_io *io, uint32_t events, void *arg)
{
	struct tp_listener *l = arg;
	struct transport *tp = l->tp;
	struct mmsghdr msgs[TP_UDP_BATCH];
	struct iovec iovs[TP_UDP_BATCH];
	struct sockaddr_storage from[TP_UDP_BATCH];
	(void)io;
	(void)events;

	for (unsigned i = 0; i < TP_UDP_BATCH; i++) {
		iovs[i].iov_base = tp->udp_bufs + i * tp->udp_buf_size;
		iovs[i].iov_len = tp->udp_buf_size;
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}
	int n = sys_recvmmsg(l->fd, msgs, TP_UDP_BATCH, MSG_DONTWAIT);
	for (int i = 0; i < n; i++) {
		bool truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 ||
				 msgs[i].msg_len >= tp->udp_buf_size;
		datagram(l, iovs[i].iov_base, msgs[i].msg_len, &from[i], msgs[i].msg_hdr.msg_namelen,
			 truncated);
	}
}

static int pmtu_mode(int fd, int mode)
{
	return setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof(mode)) == 0 ? 0 : errno;
}

int tp_udp_listen(struct transport *tp, struct tp_listener *l)
{
	int one = 1;
	int fd = socket(l->addr.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return errno;
	if (l->addr.u.sa.sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (tp->cfg.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		rc = errno;
		close(fd);
		return rc;
	}
	/* Room for bursts: the default (about 200 KB) drops datagrams when a
	 * few thousand arrive while the loop is busy. SO_RCVBUFFORCE passes
	 * net.core.rmem_max when sipd may (CAP_NET_ADMIN); else the kernel
	 * caps SO_RCVBUF at rmem_max. */
	int size = TP_UDP_RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	l->pmtu_probe = l->addr.u.sa.sa_family == AF_INET && pmtu_mode(fd, IP_PMTUDISC_PROBE) == 0;
	if (bind(fd, &l->addr.u.sa, l->addr.len) != 0 ||
	    getsockname(fd, &l->addr.u.sa, &l->addr.len) != 0) {
		rc = errno;
		close(fd);
		return rc;
	}
	l->fd = fd;
	rc = loop_io_add(tp->loop, &l->io, fd, LOOP_READ, udp_readable, l);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	return 0;
}

static struct tp_listener *udp_listener_for(const struct transport *tp, const struct tp_dest *dest)
{
	if (dest->listener && dest->listener->proto == TP_UDP)
		return dest->listener;
	for (unsigned i = 0; i < tp->listener_count; i++) {
		struct tp_listener *l = tp->listeners[i];
		if (l->proto == TP_UDP && l->addr.u.sa.sa_family == dest->addr.u.sa.sa_family)
			return l;
	}
	return NULL;
}

int tp_udp_send(struct transport *tp, const struct tp_dest *dest, const struct iovec *iov,
		size_t iov_count)
{
	struct tp_listener *l = udp_listener_for(tp, dest);
	struct msghdr mh;

	if (!l)
		return EAFNOSUPPORT;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = (void *)(uintptr_t)&dest->addr.u.sa;
	mh.msg_namelen = dest->addr.len;
	mh.msg_iov = (struct iovec *)(uintptr_t)iov;
	mh.msg_iovlen = iov_count;
	size_t len = 0;
	for (size_t i = 0; i < iov_count; i++)
		len += iov[i].iov_len;
	/* Only the loop that owns the socket sends on it: the switch is safe. */
	bool big = l->pmtu_probe && len > TP_UDP_PROBE_MAX;
	int rc = big ? pmtu_mode(l->fd, IP_PMTUDISC_WANT) : 0;
	if (rc == 0 && sys_sendmsg(l->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		rc = errno;
	if (big && pmtu_mode(l->fd, IP_PMTUDISC_PROBE) != 0)
		l->pmtu_probe = false; /* stays at the default */
	return rc;
}

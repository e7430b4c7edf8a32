/*
 * tcp.c - SIP over TCP (RFC 3261 §18.3): accepted and outbound
 * connections, framing by Content-Length, CRLF keep-alive (RFC 5626
 * §3.5.1), and the connection limits.
 *
 * A connection's lifecycle:
 *
 *   accept / connect ──> open ──(peer closes, error, idle timeout,
 *                                message timeout, malformed input,
 *                                output queue over TP_MAX_OUT_QUEUE)──> closed
 *
 * Timers (per connection):
 *   idle_timer  limits.tcp_idle_timeout     restarted on every read
 *   msg_timer   limits.tcp_message_timeout  from the first byte of a message
 *                                           until it is complete
 *
 * Ownership: the connection table holds one reference while the connection
 * is open; every packet received on it holds one more (so a response can
 * find its way back while the connection lives). Closing removes it from the
 * table, the loop and the per-IP count, closes the descriptor, and drops the
 * table's reference; the memory goes with the last packet.
 *
 * Framing: bytes are read into in[]; tp_frame_next (frame.c, a pure
 * function of the unconsumed bytes) says what is at the front: a ping, line
 * ends to drop, a complete message, an error, or not enough yet. Each
 * complete message is copied once into its own packet and decoded there
 * (framing decoded it in place first: streams are not the hot path, and a
 * packet then never aliases in[]).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/obj.h"
#include "base/sys.h"
#include "transport/frame.h"
#include "transport/tp_int.h"

#define TCP_BACKLOG 1024

/* ---- tables --------------------------------------------------------- */

static uint64_t peer_hash(struct transport *tp, const struct tp_addr *a)
{
	return hmap_hash(&tp->conns, &a->u, a->len);
}

static bool conn_match(const struct hmap_node *node, const void *arg)
{
	const struct tp_conn *c = HMAP_ENTRY(node, const struct tp_conn, by_peer);
	return !c->closed && tp_addr_equal(&c->peer, arg);
}

/* The owner loop's lookup: a live connection it may use. */
static struct tp_conn *conn_find(struct transport *tp, const struct tp_addr *peer)
{
	pthread_mutex_lock(&tp->conns_lock);
	struct hmap_node *n = hmap_find(&tp->conns, peer_hash(tp, peer), conn_match, peer);
	pthread_mutex_unlock(&tp->conns_lock);
	return n ? HMAP_ENTRY(n, struct tp_conn, by_peer) : NULL;
}

/* Another loop's lookup: only whether the owner has one (peer never
 * changes; the owner unlinks a connection under the lock as it closes). */
static bool peer_match(const struct hmap_node *node, const void *arg)
{
	return tp_addr_equal(&HMAP_ENTRY(node, const struct tp_conn, by_peer)->peer, arg);
}

struct transport *tp_tcp_owner(struct transport *tp, const struct tp_addr *peer)
{
	for (unsigned i = 0; i < tp->sibling_count; i++) {
		struct transport *o = tp->siblings[i];
		if (o == tp)
			continue;
		pthread_mutex_lock(&o->conns_lock);
		bool found = hmap_find(&o->conns, peer_hash(o, peer), peer_match, peer) != NULL;
		pthread_mutex_unlock(&o->conns_lock);
		if (found)
			return o;
	}
	return NULL;
}

static void ip_of(const struct tp_addr *a, struct tp_addr *ip)
{
	*ip = *a;
	if (ip->u.sa.sa_family == AF_INET6)
		ip->u.in6.sin6_port = 0;
	else
		ip->u.in.sin_port = 0;
}

static bool ip_match(const struct hmap_node *node, const void *arg)
{
	const struct ip_count *c = HMAP_ENTRY(node, const struct ip_count, node);
	return tp_addr_equal(&c->ip, arg);
}

/* Count one more connection for this IP; NULL when over the limit (or out
 * of memory). */
static struct ip_count *ip_take(struct transport *tp, const struct tp_addr *peer)
{
	struct tp_addr ip;
	ip_of(peer, &ip);
	uint64_t h = hmap_hash(&tp->ips, &ip.u, ip.len);
	struct hmap_node *n = hmap_find(&tp->ips, h, ip_match, &ip);
	struct ip_count *c = n ? HMAP_ENTRY(n, struct ip_count, node) : NULL;

	if (c && c->count >= tp->cfg.max_connections_per_ip)
		return NULL;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->ip = ip;
		hmap_insert(&tp->ips, &c->node, h);
	}
	c->count++;
	return c;
}

static void ip_release(struct transport *tp, struct ip_count *c)
{
	if (!c || --c->count > 0)
		return;
	hmap_remove(&tp->ips, &c->node);
	free(c);
}

/* ---- lifecycle --------------------------------------------------------- */

static void conn_destroy(void *obj)
{
	struct tp_conn *conn = obj;
	free(conn->in);
	buf_fini(&conn->out);
}

void tp_conn_close(struct tp_conn *conn, const char *why)
{
	struct transport *tp = conn->tp;

	if (conn->closed)
		return;
	conn->closed = true;
	if (log_level_enabled(LOG_DEBUG)) {
		char peer[TP_HOSTPORT_MAX];
		tp_addr_hostport(&conn->peer, peer, sizeof(peer));
		log_debug("tcp %s closed: %s", peer, why);
	}
	timer_cancel(&conn->idle_timer);
	timer_cancel(&conn->msg_timer);
	loop_io_remove(tp->loop, &conn->io);
	close(conn->fd);
	conn->fd = -1;
	pthread_mutex_lock(&tp->conns_lock);
	hmap_remove(&tp->conns, &conn->by_peer);
	pthread_mutex_unlock(&tp->conns_lock);
	ip_release(tp, conn->ip);
	conn->ip = NULL;
	tp->conn_count--;
	tp->stats.conn_closed++;
	obj_unref(conn); /* the table's reference */
}

void tp_conns_close_all(struct transport *tp)
{
	struct hmap_iter it;
	struct hmap_node *n;

	hmap_iter_init(&it, &tp->conns);
	while ((n = hmap_iter_next(&it)) != NULL)
		tp_conn_close(HMAP_ENTRY(n, struct tp_conn, by_peer), "shutdown");
}

static void idle_expired(struct timer *t, void *arg)
{
	(void)t;
	tp_conn_close(arg, "idle timeout");
}

static void msg_expired(struct timer *t, void *arg)
{
	(void)t;
	tp_conn_close(arg, "message not completed in time");
}

static void conn_io(struct loop_io *io, uint32_t events, void *arg);

/* A new open connection, in the table with one reference. */
static struct tp_conn *conn_add(struct transport *tp, int fd, const struct tp_addr *peer,
				struct tp_listener *l, bool connecting)
{
	struct tp_conn *conn;
	struct ip_count *ip;

	if (tp->conn_count >= tp->cfg.max_connections || !(ip = ip_take(tp, peer))) {
		tp->stats.conn_refused++;
		return NULL;
	}
	conn = obj_alloc(sizeof(*conn), conn_destroy);
	if (!conn) {
		ip_release(tp, ip);
		return NULL;
	}
	conn->tp = tp;
	conn->proto = TP_TCP;
	conn->fd = fd;
	conn->peer = *peer;
	conn->listener = l;
	conn->ip = ip;
	conn->connecting = connecting;
	buf_init(&conn->out);
	if (loop_io_add(tp->loop, &conn->io, fd, connecting ? LOOP_READ | LOOP_WRITE : LOOP_READ,
			conn_io, conn) != 0) {
		ip_release(tp, ip);
		obj_unref(conn);
		return NULL;
	}
	pthread_mutex_lock(&tp->conns_lock);
	hmap_insert(&tp->conns, &conn->by_peer, peer_hash(tp, peer));
	pthread_mutex_unlock(&tp->conns_lock);
	tp->conn_count++;
	timer_start(loop_timers(tp->loop), &conn->idle_timer, tp->cfg.tcp_idle_timeout_ms,
		    idle_expired, conn);
	return conn;
}

/* ---- reading and framing ------------------------------------------------ */

static int conn_write_now(struct tp_conn *conn, const struct iovec *iov, size_t iov_count);

static void consume(struct tp_conn *conn, size_t n)
{
	memmove(conn->in, conn->in + n, conn->in_len - n);
	conn->in_len -= n;
}

static void reply_and_close(struct tp_conn *conn, struct tp_packet *pkt,
			    const struct sip_error *err)
{
	struct tp_dest reply = { .proto = conn->proto, .addr = conn->peer, .conn = conn };
	tp_malformed(conn->tp, pkt, err, &reply);
	tp_conn_close(conn, err->reason);
}

/* A packet of in[0, len), from this connection; NULL on ENOMEM. */
static struct tp_packet *conn_packet(struct tp_conn *conn, size_t len)
{
	struct tp_packet *pkt = tp_packet_alloc(conn->in, len);

	if (!pkt)
		return NULL;
	pkt->proto = conn->proto;
	pkt->src = conn->peer;
	pkt->listener = conn->listener;
	pkt->conn = obj_ref(conn);
	return pkt;
}

/* A complete message at the front of in[]: hand it up. */
static void frame_message(struct tp_conn *conn, const struct tp_frame *f)
{
	struct sip_error err = { 400, "Bad Request" };
	struct tp_packet *pkt = conn_packet(conn, f->used);
	size_t used;

	if (!pkt) {
		tp_conn_close(conn, "out of memory");
		return;
	}
	if (tp_packet_decode(pkt, SIP_FRAMING_STREAM, &used, &err) == 0) {
		consume(conn, f->used);
		timer_cancel(&conn->msg_timer);
		tp_deliver(conn->tp, pkt);
	} else {
		reply_and_close(conn, pkt, &err); /* framing decoded it: not expected */
	}
	obj_unref(pkt);
}

/* Malformed or over the limit: a best-effort answer, then close. */
static void frame_error(struct tp_conn *conn, const struct tp_frame *f)
{
	struct tp_packet *pkt = conn_packet(conn, conn->in_len);
	size_t ignored;

	if (!pkt) {
		tp_conn_close(conn, "out of memory");
		return;
	}
	/* decode what there is, for the answer's Via, From, To, Call-ID */
	(void)tp_packet_decode(pkt, SIP_FRAMING_DGRAM, &ignored, &(struct sip_error){ 0, NULL });
	if (f->error == EMSGSIZE)
		conn->tp->stats.oversize++;
	reply_and_close(conn, pkt, &f->err);
	obj_unref(pkt);
}

/* Act on the first frame of in[]; false when nothing more can be framed
 * now (incomplete, or the connection closed). */
static bool frame_one(struct tp_conn *conn)
{
	struct transport *tp = conn->tp;
	struct tp_frame f;

	tp_frame_next(conn->in, conn->in_len, tp->cfg.max_message_size, &f);
	switch (f.kind) {
	case TP_FRAME_PING: {
		/* RFC 5626 §3.5.1: a CRLFCRLF ping gets a CRLF pong */
		struct iovec pong = { .iov_base = (void *)(uintptr_t)"\r\n", .iov_len = 2 };
		tp->stats.keepalive_pongs++;
		consume(conn, f.used);
		(void)conn_write_now(conn, &pong, 1);
		break;
	}
	case TP_FRAME_SKIP:
		consume(conn, f.used);
		break;
	case TP_FRAME_MORE:
		if (f.partial && !timer_pending(&conn->msg_timer))
			timer_start(loop_timers(tp->loop), &conn->msg_timer,
				    tp->cfg.tcp_message_timeout_ms, msg_expired, conn);
		return false;
	case TP_FRAME_MESSAGE:
		frame_message(conn, &f);
		break;
	case TP_FRAME_ERROR:
		frame_error(conn, &f);
		break;
	}
	return !conn->closed;
}

/* Frame and hand up every complete message in in[] (frame.h). */
static void conn_process(struct tp_conn *conn)
{
	obj_ref(conn); /* the receive callback may close it */
	while (!conn->closed && conn->in_len > 0 && frame_one(conn))
		;
	if (!conn->closed && conn->in_len == 0)
		timer_cancel(&conn->msg_timer);
	obj_unref(conn);
}

static void conn_read(struct tp_conn *conn)
{
	struct transport *tp = conn->tp;
	size_t limit = (size_t)tp->cfg.max_message_size + TP_READ_CHUNK;

	for (;;) {
		if (conn->in_cap - conn->in_len < TP_READ_CHUNK) {
			size_t cap = conn->in_cap ? conn->in_cap * 2 : TP_READ_CHUNK * 2;
			if (cap > limit + TP_READ_CHUNK)
				cap = limit + TP_READ_CHUNK;
			if (cap <= conn->in_len) {
				conn_process(conn); /* over the limit: answered and closed */
				return;
			}
			char *in = realloc(conn->in, cap);
			if (!in) {
				tp_conn_close(conn, "out of memory");
				return;
			}
			conn->in = in;
			conn->in_cap = cap;
		}
		ssize_t n = sys_read(conn->fd, conn->in + conn->in_len, conn->in_cap - conn->in_len);
		if (n > 0) {
			conn->in_len += (size_t)n;
			timer_start(loop_timers(tp->loop), &conn->idle_timer, tp->cfg.tcp_idle_timeout_ms,
				    idle_expired, conn);
			if (conn->in_len < conn->in_cap)
				break; /* drained */
			continue;
		}
		if (n == 0) {
			conn_process(conn); /* what came before the FIN */
			tp_conn_close(conn, "closed by peer");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		tp_conn_close(conn, "read error");
		return;
	}
	conn_process(conn);
}

/* ---- writing ------------------------------------------------------------ */

static int queue(struct tp_conn *conn, const struct iovec *iov, size_t iov_count, size_t skip)
{
	for (size_t i = 0; i < iov_count; i++) {
		size_t len = iov[i].iov_len;
		const char *p = iov[i].iov_base;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (conn->out.len + (len - skip) > TP_MAX_OUT_QUEUE)
			return ENOBUFS;
		if (buf_append(&conn->out, p + skip, len - skip) != 0)
			return ENOMEM;
		skip = 0;
	}
	return 0;
}

static void flush(struct tp_conn *conn)
{
	while (conn->out.len > 0) {
		ssize_t n = send(conn->fd, conn->out.data, conn->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			tp_conn_close(conn, "write error");
			return;
		}
		memmove(conn->out.data, conn->out.data + n, conn->out.len - (size_t)n);
		conn->out.len -= (size_t)n;
		conn->out.data[conn->out.len] = '\0'; /* buf.h: data[len] is NUL */
	}
	(void)loop_io_modify(conn->tp->loop, &conn->io, LOOP_READ);
}

static int conn_write_now(struct tp_conn *conn, const struct iovec *iov, size_t iov_count)
{
	size_t total = 0;
	ssize_t n = 0;

	if (conn->closed)
		return ENOTCONN;
	for (size_t i = 0; i < iov_count; i++)
		total += iov[i].iov_len;
	if (!conn->connecting && conn->out.len == 0) {
		struct msghdr mh = { .msg_iov = (struct iovec *)(uintptr_t)iov, .msg_iovlen = iov_count };
		do
			n = sys_sendmsg(conn->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			int rc = errno;
			tp_conn_close(conn, "write error");
			return rc;
		}
		if (n < 0)
			n = 0;
		if ((size_t)n == total)
			return 0;
	}
	int rc = queue(conn, iov, iov_count, (size_t)n);
	if (rc != 0) {
		tp_conn_close(conn, "output queue full");
		return rc;
	}
	return loop_io_modify(conn->tp->loop, &conn->io, LOOP_READ | LOOP_WRITE);
}

static void conn_io(struct loop_io *io, uint32_t events, void *arg)
{
	struct tp_conn *conn = arg;
	(void)io;

	obj_ref(conn);
	if (conn->connecting && (events & (LOOP_WRITE | LOOP_ERROR | LOOP_HUP))) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			tp_conn_close(conn, "connect failed");
			obj_unref(conn);
			return;
		}
		conn->connecting = false;
	}
	if (!conn->closed && (events & LOOP_WRITE))
		flush(conn);
	if (!conn->closed && (events & (LOOP_READ | LOOP_ERROR | LOOP_HUP)))
		conn_read(conn);
	obj_unref(conn);
}

/* ---- listening and connecting ---------------------------------------------- */

static void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void tcp_acceptable(struct loop_io *io, uint32_t events, void *arg)
{
	struct tp_listener *l = arg;
	struct transport *tp = l->tp;
	(void)io;
	(void)events;

	for (;;) {
		struct tp_addr peer;
		peer.len = sizeof(peer.u);
		int fd = accept4(l->fd, &peer.u.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or EMFILE: try again on the next event */
		}
		set_nodelay(fd);
		if (!conn_add(tp, fd, &peer, l, false)) {
			close(fd); /* over a limit: refused at once */
			continue;
		}
		tp->stats.conn_accepted++;
	}
}

int tp_tcp_listen(struct transport *tp, struct tp_listener *l)
{
	int one = 1;
	int fd = socket(l->addr.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (tp->cfg.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		rc = errno;
		close(fd);
		return rc;
	}
	if (l->addr.u.sa.sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &l->addr.u.sa, l->addr.len) != 0 || listen(fd, TCP_BACKLOG) != 0 ||
	    getsockname(fd, &l->addr.u.sa, &l->addr.len) != 0) {
		rc = errno;
		close(fd);
		return rc;
	}
	l->fd = fd;
	rc = loop_io_add(tp->loop, &l->io, fd, LOOP_READ, tcp_acceptable, l);
	if (rc != 0)
		close(fd);
	return rc;
}

static int tcp_connect(struct transport *tp, const struct tp_addr *peer, struct tp_conn **out)
{
	int fd = socket(peer->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return errno;
	set_nodelay(fd);
	if (connect(fd, &peer->u.sa, peer->len) != 0 && errno != EINPROGRESS) {
		rc = errno;
		close(fd);
		return rc;
	}
	struct tp_conn *conn = conn_add(tp, fd, peer, NULL, true);
	if (!conn) {
		close(fd);
		return EMFILE;
	}
	*out = conn;
	return 0;
}

/* A message for a connection another worker loop owns: written there. */
struct remote_send {
	struct transport *owner;
	struct tp_addr peer;
	size_t len;
	char data[];
};

static void remote_send_run(void *arg)
{
	struct remote_send *rs = arg;
	struct tp_dest dest = { .proto = TP_TCP, .addr = rs->peer };
	struct iovec iov = { .iov_base = rs->data, .iov_len = rs->len };

	if (tp_send(rs->owner, &dest, &iov, 1) != 0)
		log_debug("tcp send handed over from another loop failed");
	free(rs);
}

static int remote_send(struct transport *owner, const struct tp_addr *peer,
		       const struct iovec *iov, size_t iov_count)
{
	size_t len = 0;
	struct remote_send *rs;

	for (size_t i = 0; i < iov_count; i++)
		len += iov[i].iov_len;
	rs = malloc(sizeof(*rs) + len);
	if (!rs)
		return ENOMEM;
	rs->owner = owner;
	rs->peer = *peer;
	rs->len = 0;
	for (size_t i = 0; i < iov_count; i++) {
		memcpy(rs->data + rs->len, iov[i].iov_base, iov[i].iov_len);
		rs->len += iov[i].iov_len;
	}
	int rc = loop_post(owner->loop, remote_send_run, rs);
	if (log_level_enabled(LOG_DEBUG)) { /* per message: no text unless it is logged */
		char text[TP_HOSTPORT_MAX];
		tp_addr_hostport(peer, text, sizeof(text));
		log_debug("tcp send handed to the loop of its connection %s", text);
	}
	if (rc != 0)
		free(rs);
	return rc;
}

int tp_tcp_send(struct transport *tp, const struct tp_dest *dest, const struct iovec *iov,
		size_t iov_count)
{
	struct tp_conn *conn = dest->conn;

	if (conn && conn->tp != tp)
		conn = NULL; /* not this loop's to write */
	if (!conn || conn->closed)
		conn = conn_find(tp, &dest->addr);
	if (!conn) {
		struct transport *owner = tp_tcp_owner(tp, &dest->addr);
		if (owner)
			return remote_send(owner, &dest->addr, iov, iov_count);
	}
	if (!conn) {
		int rc = tcp_connect(tp, &dest->addr, &conn);
		if (rc != 0)
			return rc;
	}
	return conn_write_now(conn, iov, iov_count);
}

bool tp_tcp_has_conn(struct transport *tp, const struct tp_addr *peer)
{
	return conn_find(tp, peer) != NULL;
}

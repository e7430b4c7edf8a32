/*
 * transport.h - SIP over UDP and TCP (RFC 3261 §18, RFC 3581, RFC 5626
 * §3.5.1 keep-alive): listeners, the connection table, framing, and where
 * a response goes.
 *
 * Receive path: a datagram, or one framed message of a stream, becomes a
 * struct tp_packet: one refcounted allocation that holds the bytes and the
 * decoded struct sip_msg viewing them. Whoever keeps a message (a
 * transaction) keeps a reference to its packet; the bytes are never copied.
 *
 * Send path: tp_send() takes a destination and an iovec. A destination
 * names a protocol and an address, and optionally a connection to reuse (a
 * response to a TCP request goes back on its connection while it lives,
 * RFC 3261 §18.2.2) and the local UDP socket to send from.
 *
 * Threads: a transport belongs to one event loop; everything here runs on
 * that loop's thread. With several worker loops each has its transport,
 * bound to the same addresses with SO_REUSEPORT (the kernel spreads UDP
 * peers and TCP connections over them); transport_set_siblings tells each
 * about the others, so that a send to a TCP connection another loop owns
 * is handed to that loop (loop_post) instead of opening a second one.
 */
#ifndef SIPD_TRANSPORT_TRANSPORT_H
#define SIPD_TRANSPORT_TRANSPORT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/loop.h"
#include "sip/msg.h"

enum tp_proto {
	TP_UDP,
	TP_TCP,
	TP_TLS,
	TP_WS,
	TP_WSS,
};

struct tp_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
};

struct tp_listener; /* a bound socket: UDP socket or TCP listening socket */
struct tp_conn;     /* a stream connection; refcounted (obj) */
struct transport;

/* One received message. Refcounted (obj_ref/obj_unref). */
struct tp_packet {
	struct sip_msg msg;           /* views into data[] */
	enum tp_proto proto;
	struct tp_addr src;           /* the peer */
	struct tp_listener *listener; /* where it arrived; lives as long as the transport */
	struct tp_conn *conn;         /* stream it came on (a reference), or NULL */
	uint64_t received_ms;         /* loop time */
	struct sip_hdr *hdr_store;    /* room for msg's header lines, after data[] */
	size_t hdr_store_cap;
	size_t len;                   /* bytes in data[] */
	char data[];
};

struct tp_dest {
	enum tp_proto proto;
	struct tp_addr addr;
	struct tp_conn *conn;         /* borrowed; reuse this connection if alive */
	struct tp_listener *listener; /* UDP: the socket to send from; NULL = any */
};

static inline bool tp_proto_reliable(enum tp_proto proto)
{
	return proto != TP_UDP;
}

const char *tp_proto_name(enum tp_proto proto); /* "UDP", "TCP", ... */

/* "192.0.2.1" / "2001:db8::1" (no brackets), and the port. */
void tp_addr_ip_string(const struct tp_addr *addr, char *out, size_t size);
/* "192.0.2.1:5060" / "[2001:db8::1]:5060", cut to fit size; without printf.
 * TP_HOSTPORT_MAX holds any. */
#define TP_HOSTPORT_MAX 56
void tp_addr_hostport(const struct tp_addr *addr, char *out, size_t size);
uint16_t tp_addr_port(const struct tp_addr *addr);
void tp_addr_set_port(struct tp_addr *addr, uint16_t port);
bool tp_addr_equal(const struct tp_addr *a, const struct tp_addr *b);
/* From an IP literal (IPv6 with or without brackets) and a port. */
int tp_addr_from_text(struct tp_addr *addr, struct view ip, uint16_t port);

/*
 * Where a response to pkt goes (RFC 3261 §18.2.2, RFC 3581 §4): back on the
 * request's connection for a stream; for UDP to the source IP, at the source
 * port when the top Via asked for rport, else at the sent-by port (5060 by
 * default). The listener it arrived on is the one to send from.
 */
void tp_response_dest(const struct tp_packet *pkt, struct tp_dest *dest);

/*
 * What the top Via of a response must gain (RFC 3261 §18.2.1, RFC 3581 §4):
 * received= when the sent-by host differs from the source IP, and rport=
 * when the request had a bare rport. Writes the text of the parameters
 * (";received=192.0.2.1;rport=5062") into out, or "" when nothing is to be
 * added, and whether an existing bare ";rport" must be dropped (replaced).
 */
void tp_via_params(const struct tp_packet *pkt, char *out, size_t size);

/* Limits and timeouts (from the [limits] section of the configuration). */
struct transport_config {
	uint32_t max_message_size;       /* bytes, <= SIP_MAX_MESSAGE */
	uint32_t max_connections;        /* streams in all */
	uint32_t max_connections_per_ip; /* streams from (or to) one IP address */
	uint32_t tcp_idle_timeout_ms;    /* close a connection silent this long */
	uint32_t tcp_message_timeout_ms; /* time to receive one whole message */
	bool reuseport;                  /* SO_REUSEPORT on every listener: one per
					    worker loop on the same address */
	const char *allow;               /* methods for the Allow of a 501 to a
					    malformed request; static; may be NULL */
};

/* Counters, for logs, metrics and tests. Loop thread only. */
struct transport_stats {
	uint64_t received;        /* messages handed up */
	uint64_t malformed;       /* messages refused by the parser */
	uint64_t oversize;        /* over max_message_size */
	uint64_t conn_accepted;
	uint64_t conn_refused;    /* over a connection limit */
	uint64_t conn_closed;
	uint64_t keepalive_pongs;
	uint64_t send_errors;
};

/* A decoded message for the layer above. The callee takes its own
 * references; the packet is released after the call. */
typedef void (tp_recv_h)(struct tp_packet *pkt, void *arg);

int transport_alloc(struct transport **tp, struct loop *loop, const struct transport_config *cfg,
		    tp_recv_h *recv, void *arg);
/* Closes every listener and connection. NULL-safe. */
void transport_free(struct transport *tp);
/* Bind a listener; *bound gets the address actually bound (port 0 picks
 * one). Returns 0 or errno (EADDRINUSE, EACCES, EPROTONOSUPPORT, ...). */
int transport_listen(struct transport *tp, enum tp_proto proto, const struct tp_addr *addr,
		     struct tp_addr *bound);
/* Whether addr is free for proto, by binding a plain socket (no
 * SO_REUSEPORT) and closing it: with SO_REUSEPORT on every listener, a
 * second server of the same user would otherwise share a port in use
 * instead of failing. *bound gets the address (port 0 picks one). 0 or
 * the errno of the bind (EADDRINUSE, ...). */
int transport_probe(enum tp_proto proto, const struct tp_addr *addr, struct tp_addr *bound);
/* The transports of every worker loop, this one included (the array must
 * outlive them). Call before the loops run. */
void transport_set_siblings(struct transport *tp, struct transport **all, unsigned count);
const struct transport_stats *transport_stats(const struct transport *tp);
/* Live stream connections. */
size_t transport_conn_count(const struct transport *tp);

/*
 * What to put in a Via or Record-Route of a request sent to dest over
 * proto: the listener to send from and its address (for a listener bound
 * to 0.0.0.0 or [::], the source address the kernel picks for dest, with
 * the listener's port). 0, EAFNOSUPPORT (no listener of that protocol and
 * family) or the errno of the lookup.
 */
int tp_local_for(struct transport *tp, enum tp_proto proto, const struct tp_addr *dest,
		 struct tp_listener **listener, struct tp_addr *local);

/*
 * Where a response goes by its (new) top Via, for a proxy forwarding it
 * statelessly (RFC 3261 §18.2.2, RFC 3581): received= and rport= when
 * present, else the sent-by; the protocol of the Via. A stream reuses a
 * live connection to that address. 0, EPROTONOSUPPORT, or EHOSTUNREACH
 * when the address is a host name (no resolver here).
 */
int tp_dest_from_via(const struct sip_via *via, struct tp_dest *dest);

/* A live stream connection with this peer exists (false for UDP). */
bool tp_has_conn(struct transport *tp, enum tp_proto proto, const struct tp_addr *peer);

/* A decoded copy of pkt (same bytes, source, protocol and listener; no
 * connection), to hand a message to another worker loop; NULL on ENOMEM. */
struct tp_packet *tp_packet_copy(const struct tp_packet *pkt);

/* Send. Returns 0, or an errno (ECONNREFUSED, EMSGSIZE, ENOTCONN, ...). A
 * stream destination with no live connection opens one. */
int tp_send(struct transport *tp, const struct tp_dest *dest, const struct iovec *iov,
	    size_t iov_count);

/*
 * Without sockets: a seam for tests and fuzzing (tests/unit/test_transport.c,
 * tests/fuzz/fuzz_core.c), so that whole request flows run in memory and
 * nothing reaches the network.
 *
 * transport_listen_unbound adds a listener of proto at addr (a concrete
 * address and port, not a wildcard) like transport_listen, but opens no
 * socket: tp_local_for, Via and Record-Route see it as any other, and it
 * receives only what transport_receive_datagram hands it. 0, ENOSPC,
 * EPROTONOSUPPORT or ENOMEM.
 *
 * transport_receive_datagram hands len bytes to the UDP listener bound to
 * local as if its socket had read them from src: the very function the
 * socket's read path calls for each datagram (size limit, keep-alive,
 * decode, then the receive callback or the answer to a malformed message).
 * 0, EINVAL (src->len too long), or ENOENT when no UDP listener has that
 * address.
 *
 * transport_set_send_hook sends everything tp_send is given to hook
 * instead (its return value is tp_send's); NULL restores the sockets. The
 * hot path pays one test of a pointer in tp_send. Keep-alive pongs on a TCP
 * connection are written to the connection, not through tp_send.
 */
typedef int (tp_send_hook_h)(const struct tp_dest *dest, const struct iovec *iov, size_t iov_count,
			     void *arg);
int transport_listen_unbound(struct transport *tp, enum tp_proto proto, const struct tp_addr *addr);
int transport_receive_datagram(struct transport *tp, const struct tp_addr *local,
			       const struct tp_addr *src, const char *data, size_t len);
void transport_set_send_hook(struct transport *tp, tp_send_hook_h *hook, void *arg);

#endif

/*
 * tp_int.h - what the transport files share (internal).
 */
#ifndef SIPD_TRANSPORT_TP_INT_H
#define SIPD_TRANSPORT_TP_INT_H

#include <pthread.h>

#include "base/buf.h"
#include "base/hashmap.h"
#include "base/log.h"
#include "base/timer.h"
#include "transport/transport.h"

#define TP_UDP_BATCH 16u              /* datagrams per recvmmsg */
#define TP_UDP_RCVBUF (4 << 20)       /* bytes of receive buffer asked per UDP socket */
#define TP_UDP_PROBE_MAX 1280u        /* larger IPv4 datagrams honour the path MTU (udp.c) */
#define TP_MAX_LISTENERS 16u
#define TP_MAX_OUT_QUEUE (1u << 20)   /* bytes queued on one connection before it is closed */
#define TP_READ_CHUNK 16384u
#define TP_VIA_PARAMS_MAX 96u          /* ";received=<IPv6>;rport=65535" */
#define TP_ALLOW_LINE_MAX 512u          /* bytes read per read(2) on a stream */
#define TP_MALFORMED_LOG_BURST 10u    /* log lines per window for bad input */
#define TP_MALFORMED_LOG_WINDOW_MS 10000u

struct tp_listener {
	struct transport *tp;
	enum tp_proto proto;
	int fd;
	struct loop_io io;
	struct tp_addr addr; /* bound */
	bool pmtu_probe;     /* UDP over IPv4: IP_PMTUDISC_PROBE set, see udp.c */
};

struct tp_conn {
	struct transport *tp;
	enum tp_proto proto;
	int fd;                       /* -1 once closed */
	struct loop_io io;
	struct tp_addr peer;
	struct tp_listener *listener; /* accepted on; NULL when sipd connected out */
	struct hmap_node by_peer;     /* in tp->conns */
	struct ip_count *ip;          /* per-IP counter; holds one count for this conn */
	char *in;                     /* received, not yet framed; owned */
	size_t in_len, in_cap;
	struct buf out;               /* waiting to be written */
	struct timer idle_timer;
	struct timer msg_timer;       /* running while a message is partly received */
	bool connecting;              /* outbound connect in progress */
	bool closed;
};

struct ip_count {
	struct hmap_node node;
	struct tp_addr ip; /* port 0 */
	unsigned count;
};

struct transport {
	struct loop *loop;
	struct transport_config cfg;
	tp_recv_h *recv;
	void *arg;
	struct tp_listener *listeners[TP_MAX_LISTENERS];
	unsigned listener_count;
	/* struct tp_conn by peer address. Sibling loops look a peer up here
	 * (tp_send to a connection another loop owns), so every access takes
	 * conns_lock (a lookup may move buckets). */
	pthread_mutex_t conns_lock;
	struct hmap conns;
	struct hmap ips;   /* struct ip_count by IP */
	size_t conn_count;
	struct transport **siblings; /* transport_set_siblings; includes this one */
	unsigned sibling_count;
	struct transport_stats stats;
	tp_send_hook_h *send_hook;   /* transport_set_send_hook; NULL: the sockets */
	void *send_hook_arg;
	struct log_ratelimit bad_log;
	/* UDP receive buffers, shared by the UDP listeners (one loop thread) */
	char *udp_bufs;
	size_t udp_buf_size;
};

/* A packet of len bytes copied from data, not yet decoded. NULL on ENOMEM. */
struct tp_packet *tp_packet_alloc(const char *data, size_t len);
/* Decode its bytes into pkt->msg, the header lines in the packet's own room. */
int tp_packet_decode(struct tp_packet *pkt, enum sip_framing framing, size_t *used,
		     struct sip_error *err);

/* Hand a decoded packet up. */
void tp_deliver(struct transport *tp, struct tp_packet *pkt);
/* A message that failed to decode: log (rate-limited) and answer when the
 * request can be answered. reply is how to send the answer. */
void tp_malformed(struct transport *tp, struct tp_packet *pkt, const struct sip_error *err,
		  const struct tp_dest *reply);

/* The listener of proto bound to addr, or NULL. */
struct tp_listener *tp_listener_find(struct transport *tp, enum tp_proto proto,
				     const struct tp_addr *addr);

int tp_udp_listen(struct transport *tp, struct tp_listener *l);
int tp_udp_send(struct transport *tp, const struct tp_dest *dest, const struct iovec *iov,
		size_t iov_count);

int tp_tcp_listen(struct transport *tp, struct tp_listener *l);
int tp_tcp_send(struct transport *tp, const struct tp_dest *dest, const struct iovec *iov,
		size_t iov_count);
void tp_conn_close(struct tp_conn *conn, const char *why);
void tp_conns_close_all(struct transport *tp);

bool tp_tcp_has_conn(struct transport *tp, const struct tp_addr *peer);
/* Another loop's transport with a live connection to peer, or NULL. */
struct transport *tp_tcp_owner(struct transport *tp, const struct tp_addr *peer);

#endif

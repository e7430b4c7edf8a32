/*
 * txn_int.h - what txn.c, txn_server.c and txn_client.c share: the layer,
 * the transaction object, the timer constants, and the common life-cycle
 * helpers. Not for use outside src/txn/.
 */
#ifndef SIPD_TXN_TXN_INT_H
#define SIPD_TXN_TXN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/hashmap.h"
#include "base/timer.h"
#include "txn/txn.h"

/* RFC 3261 §17, Table 4. Timers B, F, H and J last 64*T1. */
#define TXN_TIMEOUT_T1_MULTIPLE 64u
#define TXN_TIMER_D_MS 32000u /* client INVITE Completed, unreliable transport */
#define TXN_ACK_MAX_FORWARDS 70u
/* "z9hG4bK": a branch that begins with it follows RFC 3261 (§8.1.1.7). */
#define TXN_MAGIC_COOKIE "z9hG4bK"
#define TXN_MAGIC_COOKIE_LEN (sizeof(TXN_MAGIC_COOKIE) - 1)
/*
 * Initial bucket counts of the two tables (they grow on demand). A server
 * transaction over UDP outlives its final response by 64*T1 (Timer J; an
 * INVITE's by the same after its 2xx), so at 1,000 requests/s about 64,000
 * are alive: the server table starts at that size rather than growing to
 * it under the first load, each doubling moving every entry (a cache miss
 * each). Client transactions wait only T4 after their final response.
 * Buckets are 8 bytes and calloc'ed: pages no entry has touched cost no
 * memory.
 */
#define TXN_SERVER_BUCKETS 65536u
#define TXN_CLIENT_BUCKETS 16384u
/* Room for ";received=<IPv6>;rport=65535". */
#define TXN_VIA_PARAMS_MAX 128u

enum txn_kind {
	TXN_KIND_SERVER_INVITE,
	TXN_KIND_SERVER_NON_INVITE,
	TXN_KIND_CLIENT_INVITE,
	TXN_KIND_CLIENT_NON_INVITE,
};

struct txn_layer {
	struct timer_wheel *wheel; /* borrowed; the loop's */
	uint32_t t1_ms, t2_ms, t4_ms;
	txn_send_h *send;
	void *send_arg;
	struct txn_handlers h;
	struct hmap servers; /* struct txn (server kinds) by branch or, for RFC 2543, Call-ID */
	struct hmap clients; /* struct txn (client kinds) by branch */
};

/*
 * One transaction. Everything here is loop-thread only. Views (branch,
 * method, response To tag) point into request->data or into out.data,
 * which never change while the view is in use (out.data is replaced only
 * together with the view that points into it).
 */
struct txn {
	struct hmap_node node;   /* in layer->servers or ->clients while linked */
	struct txn_layer *layer; /* borrowed; NULL once Terminated */
	enum txn_kind kind;
	enum txn_state state;
	bool linked;             /* node is in a table (and the layer holds a ref) */
	bool reliable;           /* TCP/TLS/WS: no retransmissions, zero-length waits */
	bool cookie;             /* server: RFC 3261 branch (else RFC 2543 matching) */
	unsigned status;         /* last status sent (server) or received (client); 0 = none */

	struct timer retransmit; /* A, E or G; embedded */
	struct timer timeout;    /* B, D, F, H, I, J or K; embedded */
	uint32_t interval_ms;    /* ms; the current retransmission interval */

	struct tp_dest dest;     /* where every send of this transaction goes */
	struct tp_conn *conn;    /* client: a reference on dest.conn, or NULL */

	/* server */
	struct tp_packet *request; /* owned reference: the request that created it;
				      NULL once compacted (see txn_server.c) */
	char *key_store;           /* compacted: owned copy of the matching key */
	struct view key_branch, key_host, key_method;
	bool key_has_port;
	uint16_t key_port;
	struct view resp_to_tag;   /* RFC 2543 INVITE: To tag of the last response (into out) */

	/* client */
	struct view branch;      /* top Via branch of the request (into out) */
	struct view method;      /* method of the request (into out) */
	struct buf ack;          /* client INVITE: the ACK for its non-2xx final, once built */
	txn_client_h *cb;        /* NULL once detached */
	void *cb_arg;

	/* server: the last response sent; client: the request */
	struct buf out;          /* owned */
};

/* txn.c */
struct txn *txn_new(struct txn_layer *layer, enum txn_kind kind);
void txn_link(struct txn *t, struct hmap *table, uint64_t hash);
/* Unlink, cancel the timers and drop the layer's reference (t may be freed
 * unless the caller holds one). No-op when already Terminated. */
void txn_terminate(struct txn *t);
/* Send bytes to t->dest; 0 or the send's errno (EINVAL without a layer). */
int txn_send_bytes(struct txn *t, const struct buf *bytes);
/* Starts timer, or terminates t at once for a zero wait (RFC 3261: the
 * "zero seconds on a reliable transport" values). */
void txn_wait_then_terminate(struct txn *t, uint64_t delay_ms);
bool txn_branch_has_cookie(struct view branch);
/* Both absent, or both present with the same bytes. */
bool txn_view_opt_eq(struct view a, struct view b);

/* txn_server.c */
void txn_server_receive(struct txn_layer *layer, struct tp_packet *pkt);

/* txn_client.c */
void txn_client_receive(struct txn_layer *layer, struct tp_packet *pkt);

#endif

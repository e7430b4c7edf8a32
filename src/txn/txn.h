/*
 * txn.h - RFC 3261 §17 transactions: server INVITE, server non-INVITE,
 * client INVITE and client non-INVITE, with timers A-K and matching.
 *
 * One struct txn_layer per event loop. The transport hands it every decoded
 * message (txn_layer_receive); the layer matches a request to a server
 * transaction (a retransmission is answered from the transaction and never
 * reaches the TU again) or creates one and calls handlers.request, and
 * matches a response to a client transaction and calls its callback. The TU
 * (core/) answers through txn_server_reply and sends through
 * txn_client_start. All sends go through the txn_send_h given at alloc; all
 * timers run on the given wheel, so a test drives the whole layer with a
 * fake clock.
 *
 * References: a struct txn is an obj. The layer holds one reference from
 * creation until the transaction is Terminated, then drops it and unlinks
 * the transaction from its tables at once. A pointer handed to a callback
 * is borrowed for the duration of the call; a TU that answers or watches a
 * transaction later takes its own reference (obj_ref) and drops it with
 * obj_unref. Every call below stays valid on a Terminated transaction (and
 * after txn_layer_free): it then does nothing or returns EINVAL.
 *
 * Not done (documented trade-offs): RFC 6026 (the INVITE server transaction
 * ends at once on a 2xx: sipd is a proxy, the 2xx is forwarded and its
 * retransmissions are the UAS's business); merged-request detection
 * (§8.2.2.2, a UAS matter); notifying the TU when timer H fires.
 *
 * Threads: a layer and its transactions belong to one event loop; every
 * call is made on that loop's thread.
 */
#ifndef SIPD_TXN_TXN_H
#define SIPD_TXN_TXN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "base/timer.h"
#include "base/view.h"
#include "transport/transport.h"

/* RFC 3261 §17.1.1.1 timer values, the defaults of struct txn_config. */
#define TXN_T1_MS 500u   /* RTT estimate */
#define TXN_T2_MS 4000u  /* maximum retransmit interval for non-INVITE / responses */
#define TXN_T4_MS 5000u  /* maximum time a message stays in the network */

struct txn_config {
	uint32_t t1_ms; /* ms; 0 = TXN_T1_MS */
	uint32_t t2_ms; /* ms; 0 = TXN_T2_MS */
	uint32_t t4_ms; /* ms; 0 = TXN_T4_MS */
};

struct txn_layer; /* one per event loop; opaque */
struct txn;       /* refcounted (obj); opaque */

enum txn_state {
	TXN_TRYING,     /* non-INVITE, no response yet */
	TXN_CALLING,    /* client INVITE, no response yet */
	TXN_PROCEEDING, /* a 1xx was sent / received (server INVITE starts here) */
	TXN_COMPLETED,  /* a final response was sent / received */
	TXN_CONFIRMED,  /* server INVITE: the ACK for its non-2xx arrived */
	TXN_TERMINATED, /* out of the tables; no more sends, timers or callbacks */
};

/*
 * Sends one message: the transport's tp_send. Returns 0 or an errno. The
 * iovec and the bytes it points to are valid only during the call.
 */
typedef int (txn_send_h)(const struct tp_dest *dest, const struct iovec *iov, size_t iov_count,
			 void *arg);

/*
 * What the layer reports to the TU. Each pkt is borrowed for the call (take
 * a reference to keep it). Any handler but request may be NULL.
 */
struct txn_handlers {
	/* A new server transaction. The TU answers with txn_server_reply now
	 * or later. An INVITE the TU has not answered by the time this returns
	 * gets "100 Trying" from the layer at once. */
	void (*request)(struct txn *st, struct tp_packet *pkt, void *arg);
	/* An ACK that matches no INVITE server transaction: the ACK for a 2xx
	 * (or a stray one). */
	void (*ack)(struct tp_packet *pkt, void *arg);
	/* A new CANCEL server transaction (answer it like any request), with
	 * the INVITE server transaction it cancels, or NULL when none matches
	 * (then the TU answers 481). */
	void (*cancel)(struct txn *cancel_st, struct txn *invite_st, struct tp_packet *pkt,
		       void *arg);
	/* A response that matches no client transaction (a proxy forwards it
	 * statelessly: e.g. a 2xx retransmission, or a 2xx from another fork). */
	void (*stray_response)(struct tp_packet *pkt, void *arg);
	void *arg;
};

/*
 * cfg may be NULL (all defaults). send and h->request are required; h is
 * copied. Returns 0, EINVAL, ENOMEM (or the errno of random_bytes, which
 * keys the tables). *out is written only on success.
 */
int txn_layer_alloc(struct txn_layer **out, struct timer_wheel *wheel, const struct txn_config *cfg,
		    txn_send_h *send, void *send_arg, const struct txn_handlers *h);
/* Terminates every transaction (no callbacks), cancels every timer, drops
 * the layer's references. Transactions the TU still holds stay valid as
 * Terminated objects. NULL-safe. Not from inside a layer callback. */
void txn_layer_free(struct txn_layer *layer);
/* A decoded request or response from the transport. Takes its own
 * references; the caller keeps its own. */
void txn_layer_receive(struct txn_layer *layer, struct tp_packet *pkt);
/* Live (not Terminated) transactions, server and client. */
size_t txn_layer_count(const struct txn_layer *layer);

/* ---- server transactions (§17.2) ---- */

/*
 * Send a response (100-699) built by the TU and move the transaction on.
 * The contents of *response move into the transaction, which keeps the
 * last response to retransmit it; *response is left empty whatever the
 * result. Returns 0; EINVAL when st is not a server transaction, the status
 * is out of range, or a final response was already sent (or st is
 * Terminated); or the errno of the send. A failed send does not change what
 * the state machine does (timer G retries on UDP; a retransmitted request
 * gets the response again).
 */
int txn_server_reply(struct txn *st, unsigned status, struct buf *response);
/*
 * Convenience: build the response with sip_response_print (the Via gets
 * tp_via_params, To gets to_tag when the request's To has none; extra_lines
 * each end in CRLF, may be empty; reason NULL = the standard phrase), then
 * txn_server_reply. Returns as txn_server_reply, or ENOMEM.
 */
int txn_server_reply_simple(struct txn *st, unsigned status, const char *reason,
			    struct view extra_lines, struct view to_tag);
/* The request that created a server transaction (borrowed: valid while st
 * is held); NULL for a client transaction, and for a non-INVITE server
 * transaction over UDP once its final response is sent (it keeps only what
 * matching needs: a TU that needs the request later holds a reference). */
struct tp_packet *txn_request(const struct txn *t);
enum txn_state txn_state(const struct txn *t);
/* The last status sent (server) or received (client); 0 when none. */
unsigned txn_status(const struct txn *t);

/* ---- client transactions (§17.1) ---- */

/*
 * A response for the TU, or the end of the transaction without one:
 * response NULL and error ETIMEDOUT (timer B or F) or the errno of a failed
 * send (§17.1.4). response is borrowed for the call. Called for every 1xx
 * and for the final response, never for retransmissions absorbed by the
 * transaction. ct is borrowed for the call.
 */
typedef void (txn_client_h)(struct txn *ct, struct tp_packet *response, int error, void *arg);

/*
 * Start a client transaction: send the request to dest and run timers
 * A/B (INVITE) or E/F (any other method). request holds the complete
 * request bytes with a top Via carrying a z9hG4bK branch; its contents move
 * into the transaction (left empty whatever the result). dest is copied;
 * a connection in it gets a reference for the transaction's lifetime.
 * out, when not NULL, receives a reference for the caller (release with
 * obj_unref). Returns 0; EINVAL when the bytes are not a request line
 * followed by a top Via on one line (they are not decoded in full: the TU
 * built them), the method is ACK (never a transaction), or the branch lacks
 * the magic cookie; EEXIST when a client transaction with this branch and method is
 * live; ENOMEM; or the errno of the first send (the transaction is then
 * gone and the callback is never called).
 */
int txn_client_start(struct txn_layer *layer, const struct tp_dest *dest, struct buf *request,
		     txn_client_h *cb, void *arg, struct txn **out);
/* No more callbacks (the TU went away); the transaction still runs its
 * course (retransmissions, ACK, timers). An INVITE transaction in
 * Proceeding, which has no timer of its own, then ends 64*T1 after the
 * detach (or after its first 1xx, when detached in Calling) unless a final
 * response comes first (RFC 3261 §9.1). */
void txn_client_detach(struct txn *ct);
/* The request bytes of a client transaction (borrowed: valid while ct is
 * held), e.g. to build its CANCEL (§9.1); an empty view for a server one. */
struct view txn_client_request(const struct txn *ct);

#endif

/*
 * txn_client.c - client transactions (RFC 3261 §17.1) and the matching of
 * responses to them (§17.1.3): top Via branch + CSeq method.
 *
 * INVITE client transaction (§17.1.1, Figure 5):
 *
 *                        txn_client_start: send INVITE, start A (UDP), B
 *                               |
 *                               v
 *           A: resend,    +-----------+
 *           A = 2A     +--|  Calling  |--------------+ B: callback ETIMEDOUT,
 *                      +->|           |-----------+  | or a send fails:
 *                         +-----------+           |  | callback errno
 *                 1xx: callback | (A, B stop)     |  |
 *                               v                 |  |
 *           1xx: callback +-----------+           |  |
 *                      +--| Proceeding|--+        |  |
 *                      +->|           |  |        |  |
 *                         +-----------+  |        |  |
 *    300-699: send ACK,         |        | 2xx:   |  |
 *    callback, start D  +-------+        | callback  |
 *    (from Calling too) v                |        |  |
 *                  +-----------+         |        |  |
 *   300-699:    +--| Completed |         |        |  |
 *   resend ACK  +->|           |         |        |  |
 *                  +-----------+         v        v  v
 *                        | D         +----------------+
 *                        +---------->|   Terminated   |
 *                                    +----------------+
 *
 * Non-INVITE client transaction (§17.1.2, Figure 6):
 *
 *                 txn_client_start: send, start E (UDP), F
 *                               |
 *                               v
 *           E: resend,    +-----------+
 *           E=min(2E,T2)+-|  Trying   |------------+ F: callback ETIMEDOUT,
 *                      +->|           |---------+  | or a send fails:
 *                         +-----------+         |  | callback errno
 *             1xx: callback     |               |  |
 *                               v               |  |
 *      E: resend, E = T2  +-----------+         |  |
 *      1xx: callback   +--| Proceeding|------+  |  |
 *                      +->|           |---+  |  |  |
 *                         +-----------+   |  |  |  |
 *         200-699: callback, start K      |  |  |  |
 *         (from Trying too)   +-----------+  |  |  |
 *                             v              |  |  |
 *                       +-----------+        |  |  |
 *   any response:    +--| Completed |        |  |  |
 *   absorbed         +->|           |        |  |  |
 *                       +-----------+        v  v  v
 *                             | K         +----------------+
 *                             +---------->|   Terminated   |
 *                                         +----------------+
 *
 * Timers (T1, T2, T4 from struct txn_config):
 *
 *   timer  what                          unreliable          reliable
 *   A      INVITE retransmission         T1, doubling        not started
 *   B      INVITE transaction timeout    64*T1               64*T1
 *   D      absorb final retransmissions  32 s                0 (at once)
 *   E      non-INVITE retransmission     T1, doubling to T2;  not started
 *                                        T2 in Proceeding
 *   F      non-INVITE timeout            64*T1               64*T1
 *   K      absorb response retransmits   T4                  0 (at once)
 *
 * Timer B acts only in Calling, so a 1xx stops it; how long a proxy waits
 * in Proceeding (timer C, §16.6) is the TU's business, until the TU lets go
 * (txn_client_detach): then nobody would end an INVITE transaction in
 * Proceeding whose final response never comes, so it ends 64*T1 after the
 * detach or the 1xx, whichever is later (§9.1: a transaction cancelled
 * without a final response is destroyed after 64*T1). A failed first send
 * is returned by txn_client_start instead of being called back (the TU is
 * inside the call); a failed retransmission ends the transaction with the
 * callback (§17.1.4). A failed ACK send is not reported: the next
 * retransmission of the final response gets the ACK again.
 */
#include <errno.h>
#include <string.h>

#include "base/obj.h"
#include "sip/print.h"
#include "txn/txn_int.h"

struct client_key {
	struct view branch;
	struct view method;
};

static bool client_match(const struct hmap_node *node, const void *arg)
{
	const struct txn *t = HMAP_ENTRY(node, struct txn, node);
	const struct client_key *k = arg;

	return view_eq(t->branch, k->branch) && view_eq(t->method, k->method);
}

static uint64_t branch_hash(struct txn_layer *layer, struct view branch)
{
	return hmap_hash(&layer->clients, branch.p, branch.len);
}

static struct txn *client_find_hashed(struct txn_layer *layer, uint64_t hash, struct view branch,
				      struct view method)
{
	struct client_key k = { .branch = branch, .method = method };
	struct hmap_node *n = hmap_find(&layer->clients, hash, client_match, &k);

	return n ? HMAP_ENTRY(n, struct txn, node) : NULL;
}

static struct txn *client_find(struct txn_layer *layer, struct view branch, struct view method)
{
	if (branch.p == NULL)
		return NULL;
	return client_find_hashed(layer, branch_hash(layer, branch), branch, method);
}

static void client_deliver(struct txn *ct, struct tp_packet *response, int error)
{
	if (ct->cb)
		ct->cb(ct, response, error, ct->cb_arg);
}

/* The end without a response: a timeout or a transport error. */
static void client_fail(struct txn *ct, int error)
{
	obj_ref(ct);
	txn_terminate(ct);
	client_deliver(ct, NULL, error);
	obj_unref(ct);
}

static void on_timer_a(struct timer *timer, void *arg)
{
	struct txn *ct = arg;
	int rc;

	(void)timer;
	rc = txn_send_bytes(ct, &ct->out);
	if (rc != 0) {
		client_fail(ct, rc);
		return;
	}
	ct->interval_ms *= 2;
	timer_start(ct->layer->wheel, &ct->retransmit, ct->interval_ms, on_timer_a, ct);
}

static void on_timer_e(struct timer *timer, void *arg)
{
	struct txn *ct = arg;
	struct txn_layer *layer = ct->layer;
	int rc;

	(void)timer;
	rc = txn_send_bytes(ct, &ct->out);
	if (rc != 0) {
		client_fail(ct, rc);
		return;
	}
	if (ct->state == TXN_PROCEEDING)
		ct->interval_ms = layer->t2_ms;
	else
		ct->interval_ms = ct->interval_ms * 2 < layer->t2_ms ? ct->interval_ms * 2 : layer->t2_ms;
	timer_start(layer->wheel, &ct->retransmit, ct->interval_ms, on_timer_e, ct);
}

/* B and F */
static void on_timer_timeout(struct timer *timer, void *arg)
{
	(void)timer;
	client_fail(arg, ETIMEDOUT);
}

/* An INVITE transaction in Proceeding that its TU let go of: ends after
 * 64*T1 without a callback, unless its final response comes first. */
static void abandon_if_detached(struct txn *ct)
{
	if (ct->kind == TXN_KIND_CLIENT_INVITE && ct->state == TXN_PROCEEDING && !ct->cb &&
	    ct->layer && !timer_pending(&ct->timeout))
		timer_start(ct->layer->wheel, &ct->timeout,
			    (uint64_t)TXN_TIMEOUT_T1_MULTIPLE * ct->layer->t1_ms, on_timer_timeout, ct);
}

/* §17.1.1.3: the ACK for a non-2xx final response, into ct->ack. */
static int ack_build(struct txn *ct, const struct sip_msg *response)
{
	const struct sip_hdr *to = sip_msg_hdr_find(response, SIP_HDR_TO);
	const struct sip_hdr *from;
	struct sip_msg req;
	struct sip_error err;
	size_t used;
	int rc;

	rc = sip_msg_decode(&req, ct->out.data, ct->out.len, SIP_FRAMING_DGRAM, &used, &err);
	if (rc != 0)
		goto out;
	from = sip_msg_hdr_find(&req, SIP_HDR_FROM);
	if (!to || !from) {
		rc = EBADMSG;
		goto out;
	}
	rc = buf_printf(&ct->ack, "ACK %.*s SIP/2.0\r\n", (int)req.ruri_raw.len, req.ruri_raw.p);
	if (rc == 0)
		rc = sip_header_print(&ct->ack, "Via: ", req.via.raw);
	for (const struct sip_hdr *h = sip_msg_hdr_find(&req, SIP_HDR_ROUTE); rc == 0 && h;
	     h = sip_msg_hdr_next(&req, h))
		rc = sip_header_print(&ct->ack, "Route: ", h->value);
	if (rc == 0)
		rc = sip_header_print(&ct->ack, "From: ", from->value);
	if (rc == 0)
		rc = sip_header_print(&ct->ack, "To: ", to->value);
	if (rc == 0)
		rc = sip_header_print(&ct->ack, "Call-ID: ", req.call_id);
	if (rc == 0)
		rc = buf_printf(&ct->ack, "CSeq: %u ACK\r\nMax-Forwards: %u\r\nContent-Length: 0\r\n\r\n",
				req.cseq.number, TXN_ACK_MAX_FORWARDS);
	if (rc != 0)
		buf_reset(&ct->ack);
out:
	sip_msg_fini(&req);
	return rc;
}

static void ack_send(struct txn *ct, const struct sip_msg *response)
{
	if (ct->ack.len == 0 && ack_build(ct, response) != 0)
		return; /* the next retransmission of the response tries again */
	(void)txn_send_bytes(ct, &ct->ack);
}

static void client_invite_response(struct txn *ct, struct tp_packet *pkt)
{
	unsigned status = pkt->msg.status;

	if (ct->state == TXN_COMPLETED) {
		if (status >= 300)
			ack_send(ct, &pkt->msg);
		return;
	}
	if (ct->state != TXN_CALLING && ct->state != TXN_PROCEEDING)
		return;
	ct->status = status;
	if (status < 200) {
		if (ct->state == TXN_CALLING) { /* A and B stop; a later 1xx changes nothing */
			ct->state = TXN_PROCEEDING;
			timer_cancel(&ct->retransmit);
			timer_cancel(&ct->timeout);
			abandon_if_detached(ct);
		}
	} else if (status < 300) {
		txn_terminate(ct);
	} else {
		timer_cancel(&ct->retransmit);
		timer_cancel(&ct->timeout);
		ack_send(ct, &pkt->msg);
		ct->state = TXN_COMPLETED;
		txn_wait_then_terminate(ct, ct->reliable ? 0 : TXN_TIMER_D_MS);
	}
	client_deliver(ct, pkt, 0);
}

static void client_non_invite_response(struct txn *ct, struct tp_packet *pkt)
{
	unsigned status = pkt->msg.status;

	if (ct->state != TXN_TRYING && ct->state != TXN_PROCEEDING)
		return; /* Completed: a retransmission, absorbed */
	ct->status = status;
	if (status < 200) {
		ct->state = TXN_PROCEEDING;
	} else {
		timer_cancel(&ct->retransmit);
		timer_cancel(&ct->timeout);
		ct->state = TXN_COMPLETED;
		txn_wait_then_terminate(ct, ct->reliable ? 0 : ct->layer->t4_ms); /* K */
	}
	client_deliver(ct, pkt, 0);
}

void txn_client_receive(struct txn_layer *layer, struct tp_packet *pkt)
{
	struct txn *ct = client_find(layer, pkt->msg.via.branch, pkt->msg.cseq.method);

	if (!ct) {
		if (layer->h.stray_response)
			layer->h.stray_response(pkt, layer->h.arg);
		return;
	}
	obj_ref(ct); /* the callback may drop the TU's reference */
	if (ct->kind == TXN_KIND_CLIENT_INVITE)
		client_invite_response(ct, pkt);
	else
		client_non_invite_response(ct, pkt);
	obj_unref(ct);
}

static void client_start_timers(struct txn *ct)
{
	struct txn_layer *layer = ct->layer;
	bool invite = ct->kind == TXN_KIND_CLIENT_INVITE;

	if (!ct->reliable) {
		ct->interval_ms = layer->t1_ms;
		timer_start(layer->wheel, &ct->retransmit, ct->interval_ms,
			    invite ? on_timer_a : on_timer_e, ct);
	}
	timer_start(layer->wheel, &ct->timeout, (uint64_t)TXN_TIMEOUT_T1_MULTIPLE * layer->t1_ms,
		    on_timer_timeout, ct); /* B or F */
}

/*
 * What a client transaction keys on: the method of the request line and the
 * branch of the top Via, read without decoding the whole request (the TU
 * built it a moment ago; a full decode cost as much as the rest of the
 * start). The top Via must sit on one line, as the TU writes it. EINVAL when
 * the bytes do not look like that.
 */
static int request_key(const char *p, size_t len, struct view *method, struct view *branch)
{
	const char *end = p + len, *sp = memchr(p, ' ', len), *line;

	if (!sp || sp == p || (len >= 4 && memcmp(p, "SIP/", 4) == 0))
		return EINVAL;
	*method = view_make(p, (size_t)(sp - p));
	line = memchr(p, '\n', len);
	if (!line)
		return EINVAL;
	for (line++; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t n = eol ? (size_t)(eol - line) : (size_t)(end - line);
		struct view whole = view_trim(view_make(line, n));
		if (whole.len == 0)
			break; /* the end of the headers */
		const char *colon = memchr(line, ':', n);
		if (colon) {
			struct view name = view_trim(view_make(line, (size_t)(colon - line)));
			if (view_eq_lit_nocase(name, "Via") || view_eq_lit_nocase(name, "v")) {
				struct view value = view_make(colon + 1, (size_t)(line + n - colon - 1));
				const char *comma = memchr(value.p, ',', value.len);
				if (comma)
					value.len = (size_t)(comma - value.p);
				/* the parameters start at the first ';' (a sent-by
				 * has none); the TU wrote this Via, so only the
				 * branch is looked for, not the whole Via decoded */
				const char *semi = memchr(value.p, ';', value.len);
				if (!semi)
					return EINVAL;
				struct view params = view_make(semi, (size_t)(value.p + value.len - semi));
				if (!sip_param_find(view_trim(params), "branch", branch) ||
				    branch->p == NULL)
					return EINVAL;
				return 0;
			}
		}
		if (!eol)
			break;
		line = eol + 1;
	}
	return EINVAL;
}

int txn_client_start(struct txn_layer *layer, const struct tp_dest *dest, struct buf *request,
		     txn_client_h *cb, void *arg, struct txn **out)
{
	struct view method, branch = VIEW_NULL;
	enum sip_method method_id;
	struct txn *ct;
	bool invite;
	int rc;

	if (!request)
		return EINVAL;
	if (!layer || !dest || request->len == 0) {
		buf_fini(request);
		return EINVAL;
	}
	rc = request_key(request->data, request->len, &method, &branch);
	method_id = rc == 0 ? sip_method_from_view(method) : SIP_METHOD_UNKNOWN;
	if (rc != 0 || method_id == SIP_METHOD_ACK || !txn_branch_has_cookie(branch)) {
		rc = EINVAL;
		goto out;
	}
	uint64_t hash = branch_hash(layer, branch); /* found or linked under it */
	if (client_find_hashed(layer, hash, branch, method)) {
		rc = EEXIST;
		goto out;
	}
	invite = method_id == SIP_METHOD_INVITE;
	ct = txn_new(layer, invite ? TXN_KIND_CLIENT_INVITE : TXN_KIND_CLIENT_NON_INVITE);
	if (!ct) {
		rc = ENOMEM;
		goto out;
	}
	/* the views stay valid: the bytes move, their address does not */
	ct->out = *request;
	buf_init(request);
	ct->branch = branch;
	ct->method = method;
	ct->state = invite ? TXN_CALLING : TXN_TRYING;
	ct->dest = *dest;
	ct->conn = obj_ref(dest->conn);
	ct->reliable = tp_proto_reliable(dest->proto);
	ct->cb = cb;
	ct->cb_arg = arg;
	rc = txn_send_bytes(ct, &ct->out);
	if (rc != 0) {
		obj_unref(ct); /* never linked: this was the only reference */
		goto out;
	}
	txn_link(ct, &layer->clients, hash);
	client_start_timers(ct);
	if (out)
		*out = obj_ref(ct);
out:
	buf_fini(request);
	return rc;
}

void txn_client_detach(struct txn *ct)
{
	if (!ct)
		return;
	ct->cb = NULL;
	ct->cb_arg = NULL;
	abandon_if_detached(ct);
}

struct view txn_client_request(const struct txn *ct)
{
	if (ct->kind != TXN_KIND_CLIENT_INVITE && ct->kind != TXN_KIND_CLIENT_NON_INVITE)
		return view_make("", 0);
	return buf_view(&ct->out);
}

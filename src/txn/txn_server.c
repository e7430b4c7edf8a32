/*
 * txn_server.c - server transactions (RFC 3261 §17.2) and the matching of
 * requests to them (§17.2.3, §9.2 for CANCEL).
 *
 * INVITE server transaction (§17.2.1, Figure 7; no RFC 6026 Accepted state):
 *
 *                      INVITE: TU called (request / cancel handler);
 *                      "100 Trying" sent if it has not answered
 *                           |
 *                           v
 *     INVITE again     +-----------+  1xx from TU: send
 *     (resend last) +--|Proceeding |--+
 *                   +->|           |<-+
 *                      +-----------+
 *           300-699 from TU |     | 2xx from TU: send
 *           send; G, H      |     +---------------------------+
 *                           v                                 |
 *     INVITE again     +-----------+                          |
 *     (resend)      +--| Completed |--+ G: resend,            |
 *                   +->|           |<-+ G = min(2G, T2)       |
 *                      +-----------+                          |
 *                   ACK    |     | H: (no ACK came)           |
 *                   start I|     +------------------------+   |
 *                          v                              |   |
 *     ACK, INVITE      +-----------+                      |   |
 *     (absorbed)    +--| Confirmed |                      |   |
 *                   +->|           |                      |   |
 *                      +-----------+                      |   |
 *                          | I                            v   v
 *                          +------------------------->+-----------+
 *                                                     | Terminated|
 *                                                     +-----------+
 *
 * Non-INVITE server transaction (§17.2.2, Figure 8):
 *
 *              request: TU called
 *                    |
 *                    v         request again: absorbed (nothing to resend)
 *              +-----------+
 *              |  Trying   |--------------+
 *              +-----------+              |
 *         1xx from TU |                   | 200-699 from TU: send
 *         send        v                   |
 *              +-----------+  1xx: send   |
 *  request:    | Proceeding|--+           |
 *  resend last +-----------+<-+           |
 *         200-699 from TU |               |
 *         send            v               |
 *              +-----------+<-------------+
 *  request:    | Completed |
 *  resend last +-----------+
 *                    | J
 *                    v
 *              +-----------+
 *              | Terminated|
 *              +-----------+
 *
 * Timers (T1, T2, T4 from struct txn_config):
 *
 *   timer  what                         unreliable         reliable
 *   G      response retransmission      T1, doubling,      not started
 *                                       capped at T2
 *   H      wait for the ACK             64*T1              64*T1
 *   I      absorb ACK retransmissions   T4                 0 (at once)
 *   J      absorb request retransmits   64*T1              0 (at once)
 *
 * Matching (§17.2.3). A top Via branch that begins with the magic cookie
 * "z9hG4bK" (and has more after it) keys the transaction as branch +
 * sent-by + method, an ACK looking for method INVITE; the table hashes the
 * branch. Anything else (no branch, a bare "z9hG4bK", an RFC 2543 branch)
 * is matched on Request-URI, To tag, From tag, Call-ID, CSeq number and
 * top Via sent-by plus the method, an ACK comparing its To tag with the
 * To tag of the response the transaction sent; the table hashes the
 * Call-ID. Comparisons are byte for byte (a retransmission is a copy),
 * except the sent-by host, which is case-insensitive. A CANCEL is its own
 * non-INVITE transaction; the INVITE it cancels is found with the same
 * rules and method INVITE.
 *
 * A send that fails is not retried beyond what the timers do, and does not
 * change the state: the error goes back to the TU from txn_server_reply.
 *
 * Memory: a non-INVITE transaction over UDP lingers 64*T1 (timer J) after
 * its final response only to answer retransmissions, which it matches by
 * branch, sent-by and method. It then keeps a copy of those and its
 * response, and lets the request go (a registrar at thousands of requests
 * per second holds 32 s of them): txn_request() is NULL from then on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/obj.h"
#include "sip/response.h"
#include "txn/txn_int.h"

struct server_key {
	const struct sip_msg *msg; /* the request being matched */
	struct view method;        /* method of the transaction sought */
	bool cookie;               /* RFC 3261 branch matching */
	bool ack;                  /* RFC 2543: To tag against the response's */
};

static bool sent_by_eq(const struct sip_via *a, const struct sip_via *b)
{
	return view_eq_nocase(a->host, b->host) && a->has_port == b->has_port && a->port == b->port;
}

static bool server_match(const struct hmap_node *node, const void *arg)
{
	const struct txn *t = HMAP_ENTRY(node, struct txn, node);
	const struct server_key *k = arg;
	const struct sip_msg *m = k->msg;

	if (!t->request) /* compacted: branch matching only */
		return k->cookie && view_eq(t->key_method, k->method) &&
		       view_eq_nocase(t->key_host, m->via.host) && t->key_has_port == m->via.has_port &&
		       t->key_port == m->via.port && view_eq(t->key_branch, m->via.branch);
	const struct sip_msg *tm = &t->request->msg;

	if (t->cookie != k->cookie || !view_eq(tm->method, k->method) ||
	    !sent_by_eq(&tm->via, &m->via))
		return false;
	if (k->cookie)
		return view_eq(tm->via.branch, m->via.branch);
	return view_eq(tm->call_id, m->call_id) && tm->cseq.number == m->cseq.number &&
	       txn_view_opt_eq(tm->from.tag, m->from.tag) && view_eq(tm->ruri_raw, m->ruri_raw) &&
	       txn_view_opt_eq(k->ack ? t->resp_to_tag : tm->to.tag, m->to.tag);
}

/* The table key of a request: its branch, or its Call-ID for RFC 2543. */
static uint64_t server_hash(const struct txn_layer *layer, const struct sip_msg *m)
{
	struct view key = txn_branch_has_cookie(m->via.branch) ? m->via.branch : m->call_id;
	return hmap_hash(&layer->servers, key.p, key.len);
}

static struct txn *server_find(struct txn_layer *layer, const struct sip_msg *m,
			       struct view method, bool ack)
{
	struct server_key k = {
		.msg = m,
		.method = method,
		.cookie = txn_branch_has_cookie(m->via.branch),
		.ack = ack,
	};
	struct hmap_node *n = hmap_find(&layer->servers, server_hash(layer, m), server_match, &k);

	return n ? HMAP_ENTRY(n, struct txn, node) : NULL;
}

/* RFC 2543 ACK matching needs the To tag of the response sent; the view
 * points into st->out, replaced only together with it. */
static struct view response_to_tag(const struct buf *response)
{
	struct sip_msg m;
	struct sip_error err;
	size_t used;
	struct view tag = VIEW_NULL;

	if (sip_msg_decode(&m, response->data, response->len, SIP_FRAMING_DGRAM, &used, &err) == 0 &&
	    !m.is_request)
		tag = m.to.tag;
	sip_msg_fini(&m);
	return tag;
}

static void on_timer_g(struct timer *timer, void *arg)
{
	struct txn *st = arg;
	struct txn_layer *layer = st->layer;

	(void)timer;
	(void)txn_send_bytes(st, &st->out);
	st->interval_ms = st->interval_ms * 2 < layer->t2_ms ? st->interval_ms * 2 : layer->t2_ms;
	timer_start(layer->wheel, &st->retransmit, st->interval_ms, on_timer_g, st);
}

static void on_timer_h(struct timer *timer, void *arg)
{
	(void)timer;
	txn_terminate(arg);
}

static bool is_server(const struct txn *t)
{
	return t->kind == TXN_KIND_SERVER_INVITE || t->kind == TXN_KIND_SERVER_NON_INVITE;
}

/* Keep the matching key, let the request go (see the file comment). On
 * ENOMEM the request is simply kept. */
static void server_compact(struct txn *st)
{
	const struct sip_msg *m = &st->request->msg;
	size_t need = m->via.branch.len + m->via.host.len + m->method.len;
	char *k = malloc(need ? need : 1);

	if (!k)
		return;
	memcpy(k, m->via.branch.p, m->via.branch.len);
	memcpy(k + m->via.branch.len, m->via.host.p, m->via.host.len);
	memcpy(k + m->via.branch.len + m->via.host.len, m->method.p, m->method.len);
	st->key_branch = view_make(k, m->via.branch.len);
	st->key_host = view_make(k + m->via.branch.len, m->via.host.len);
	st->key_method = view_make(k + m->via.branch.len + m->via.host.len, m->method.len);
	st->key_has_port = m->via.has_port;
	st->key_port = m->via.port;
	st->key_store = k;
	st->request = obj_unref(st->request);
}

/* The state change a response sent by the TU makes. */
static void server_advance(struct txn *st, unsigned status)
{
	struct txn_layer *layer = st->layer;
	uint64_t timeout_ms = (uint64_t)TXN_TIMEOUT_T1_MULTIPLE * layer->t1_ms;

	if (status < 200) {
		st->state = TXN_PROCEEDING;
		return;
	}
	if (st->kind == TXN_KIND_SERVER_NON_INVITE) {
		st->state = TXN_COMPLETED;
		if (!st->reliable && st->cookie)
			server_compact(st);
		txn_wait_then_terminate(st, st->reliable ? 0 : timeout_ms); /* J */
		return;
	}
	if (status < 300) {
		txn_terminate(st);
		return;
	}
	st->state = TXN_COMPLETED;
	if (!st->reliable) {
		st->interval_ms = layer->t1_ms;
		timer_start(layer->wheel, &st->retransmit, st->interval_ms, on_timer_g, st);
	}
	timer_start(layer->wheel, &st->timeout, timeout_ms, on_timer_h, st);
}

int txn_server_reply(struct txn *st, unsigned status, struct buf *response)
{
	int rc;

	if (!response)
		return EINVAL;
	if (!st || !is_server(st) || !st->layer || status < 100 || status > 699 ||
	    response->len == 0 || (st->state != TXN_TRYING && st->state != TXN_PROCEEDING)) {
		buf_fini(response);
		return EINVAL;
	}
	obj_ref(st); /* a 2xx terminates it under the caller */
	buf_fini(&st->out);
	st->out = *response;
	buf_init(response);
	st->status = status;
	if (st->kind == TXN_KIND_SERVER_INVITE && !st->cookie)
		st->resp_to_tag = response_to_tag(&st->out);
	rc = txn_send_bytes(st, &st->out);
	server_advance(st, status);
	obj_unref(st);
	return rc;
}

int txn_server_reply_simple(struct txn *st, unsigned status, const char *reason,
			    struct view extra_lines, struct view to_tag)
{
	char via_params[TXN_VIA_PARAMS_MAX];
	struct buf out;
	int rc;

	if (!st || !st->request)
		return EINVAL;
	tp_via_params(st->request, via_params, sizeof(via_params));
	struct sip_response_spec spec = {
		.status = status,
		.reason = reason,
		.via_params = view_from_cstr(via_params),
		.to_tag = to_tag,
		.extra = extra_lines,
	};
	buf_init(&out);
	rc = sip_response_print(&out, &st->request->msg, &spec);
	if (rc != 0) {
		buf_fini(&out);
		return rc;
	}
	return txn_server_reply(st, status, &out);
}

/* An ACK: for a non-2xx of ours (absorbed) or for the TU. */
static void server_ack(struct txn_layer *layer, struct tp_packet *pkt)
{
	struct txn *st = server_find(layer, &pkt->msg, VIEW_LIT("INVITE"), true);

	if (!st) {
		if (layer->h.ack)
			layer->h.ack(pkt, layer->h.arg);
		return;
	}
	if (st->state != TXN_COMPLETED)
		return; /* Confirmed: a retransmitted ACK; Proceeding: nothing to ACK */
	timer_cancel(&st->retransmit);
	timer_cancel(&st->timeout);
	st->state = TXN_CONFIRMED;
	txn_wait_then_terminate(st, st->reliable ? 0 : layer->t4_ms); /* I */
}

/* §17.2.1, §17.2.2: a retransmission gets the last response again. */
static void server_retransmission(struct txn *st)
{
	if ((st->state == TXN_PROCEEDING || st->state == TXN_COMPLETED) && st->out.len > 0)
		(void)txn_send_bytes(st, &st->out);
}

static void server_create(struct txn_layer *layer, struct tp_packet *pkt)
{
	const struct sip_msg *m = &pkt->msg;
	bool invite = m->method_id == SIP_METHOD_INVITE;
	struct txn *st = txn_new(layer, invite ? TXN_KIND_SERVER_INVITE : TXN_KIND_SERVER_NON_INVITE);

	if (!st)
		return; /* one message lost; the client retransmits */
	st->state = invite ? TXN_PROCEEDING : TXN_TRYING;
	st->request = obj_ref(pkt);
	st->reliable = tp_proto_reliable(pkt->proto);
	st->cookie = txn_branch_has_cookie(m->via.branch);
	tp_response_dest(pkt, &st->dest);
	txn_link(st, &layer->servers, server_hash(layer, m));

	obj_ref(st); /* the TU may answer with a 2xx and end it */
	if (m->method_id == SIP_METHOD_CANCEL && layer->h.cancel) {
		struct txn *invite_st = obj_ref(server_find(layer, m, VIEW_LIT("INVITE"), false));
		layer->h.cancel(st, invite_st, pkt, layer->h.arg);
		obj_unref(invite_st);
	} else {
		layer->h.request(st, pkt, layer->h.arg);
	}
	/* §17.2.1: the TU did not answer at once */
	if (invite && st->state == TXN_PROCEEDING && st->status == 0)
		(void)txn_server_reply_simple(st, 100, NULL, VIEW_NULL, VIEW_NULL);
	obj_unref(st);
}

void txn_server_receive(struct txn_layer *layer, struct tp_packet *pkt)
{
	const struct sip_msg *m = &pkt->msg;
	struct txn *st;

	if (m->method_id == SIP_METHOD_ACK) {
		server_ack(layer, pkt);
		return;
	}
	st = server_find(layer, m, m->method, false);
	if (st)
		server_retransmission(st);
	else
		server_create(layer, pkt);
}

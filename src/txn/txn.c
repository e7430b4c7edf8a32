/*
 * txn.c - the transaction layer: its two tables, the dispatch of received
 * messages, and the life cycle every transaction shares. The state
 * machines are in txn_server.c (§17.2) and txn_client.c (§17.1).
 *
 * Life cycle: txn_new (one reference, the layer's) → txn_link (into a
 * table) → ... → txn_terminate (state Terminated, both timers cancelled,
 * unlinked, the layer's reference dropped) → the destructor when the TU's
 * last reference goes too. A Terminated transaction has no layer pointer,
 * so nothing it does afterwards can reach the tables, the wheel or the
 * transport: a TU may keep one past txn_layer_free.
 *
 * Invariant: a transaction is in a table iff it is not Terminated iff the
 * layer holds a reference on it iff its layer pointer is set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/obj.h"
#include "txn/txn_int.h"

static void txn_destroy(void *obj)
{
	struct txn *t = obj;

	/* the layer's reference kept it alive while linked */
	timer_cancel(&t->retransmit);
	timer_cancel(&t->timeout);
	t->request = obj_unref(t->request);
	free(t->key_store);
	t->key_store = NULL;
	t->conn = obj_unref(t->conn);
	buf_fini(&t->out);
	buf_fini(&t->ack);
}

struct txn *txn_new(struct txn_layer *layer, enum txn_kind kind)
{
	struct txn *t = obj_alloc(sizeof(*t), txn_destroy);

	if (!t)
		return NULL;
	t->layer = layer;
	t->kind = kind;
	timer_init(&t->retransmit);
	timer_init(&t->timeout);
	buf_init(&t->out);
	buf_init(&t->ack);
	return t;
}

void txn_link(struct txn *t, struct hmap *table, uint64_t hash)
{
	hmap_insert(table, &t->node, hash);
	t->linked = true;
}

void txn_terminate(struct txn *t)
{
	struct txn_layer *layer = t->layer;

	if (t->state == TXN_TERMINATED)
		return;
	t->state = TXN_TERMINATED;
	timer_cancel(&t->retransmit);
	timer_cancel(&t->timeout);
	t->layer = NULL;
	if (t->linked) {
		bool server = t->kind == TXN_KIND_SERVER_INVITE || t->kind == TXN_KIND_SERVER_NON_INVITE;
		hmap_remove(server ? &layer->servers : &layer->clients, &t->node);
		t->linked = false;
		obj_unref(t);
	}
}

int txn_send_bytes(struct txn *t, const struct buf *bytes)
{
	struct iovec iov = { .iov_base = bytes->data, .iov_len = bytes->len };

	if (!t->layer || bytes->len == 0)
		return EINVAL;
	return t->layer->send(&t->dest, &iov, 1, t->layer->send_arg);
}

static void on_final_wait(struct timer *timer, void *arg)
{
	(void)timer;
	txn_terminate(arg);
}

void txn_wait_then_terminate(struct txn *t, uint64_t delay_ms)
{
	if (delay_ms == 0) {
		txn_terminate(t);
		return;
	}
	timer_start(t->layer->wheel, &t->timeout, delay_ms, on_final_wait, t);
}

bool txn_branch_has_cookie(struct view branch)
{
	/* a bare "z9hG4bK" (RFC 4475 badbranch) is no RFC 3261 branch */
	return branch.p != NULL && branch.len > TXN_MAGIC_COOKIE_LEN &&
	       memcmp(branch.p, TXN_MAGIC_COOKIE, TXN_MAGIC_COOKIE_LEN) == 0;
}

bool txn_view_opt_eq(struct view a, struct view b)
{
	if (a.p == NULL || b.p == NULL)
		return a.p == NULL && b.p == NULL;
	return view_eq(a, b);
}

int txn_layer_alloc(struct txn_layer **out, struct timer_wheel *wheel, const struct txn_config *cfg,
		    txn_send_h *send, void *send_arg, const struct txn_handlers *h)
{
	struct txn_layer *layer;
	int rc;

	if (!out || !wheel || !send || !h || !h->request)
		return EINVAL;
	layer = calloc(1, sizeof(*layer));
	if (!layer)
		return ENOMEM;
	layer->wheel = wheel;
	layer->t1_ms = cfg && cfg->t1_ms ? cfg->t1_ms : TXN_T1_MS;
	layer->t2_ms = cfg && cfg->t2_ms ? cfg->t2_ms : TXN_T2_MS;
	layer->t4_ms = cfg && cfg->t4_ms ? cfg->t4_ms : TXN_T4_MS;
	layer->send = send;
	layer->send_arg = send_arg;
	layer->h = *h;
	rc = hmap_init(&layer->servers, TXN_SERVER_BUCKETS);
	if (rc != 0)
		goto out;
	rc = hmap_init(&layer->clients, TXN_CLIENT_BUCKETS);
	if (rc != 0) {
		hmap_fini(&layer->servers);
		goto out;
	}
	*out = layer;
	return 0;
out:
	free(layer);
	return rc;
}

static void table_terminate_all(struct hmap *table)
{
	struct hmap_iter it;
	struct hmap_node *n;

	/* removing (and freeing) the node last returned is allowed */
	hmap_iter_init(&it, table);
	while ((n = hmap_iter_next(&it)) != NULL)
		txn_terminate(HMAP_ENTRY(n, struct txn, node));
}

void txn_layer_free(struct txn_layer *layer)
{
	if (!layer)
		return;
	table_terminate_all(&layer->servers);
	table_terminate_all(&layer->clients);
	hmap_fini(&layer->servers);
	hmap_fini(&layer->clients);
	free(layer);
}

void txn_layer_receive(struct txn_layer *layer, struct tp_packet *pkt)
{
	if (!layer || !pkt)
		return;
	if (pkt->msg.is_request)
		txn_server_receive(layer, pkt);
	else
		txn_client_receive(layer, pkt);
}

size_t txn_layer_count(const struct txn_layer *layer)
{
	return hmap_count(&layer->servers) + hmap_count(&layer->clients);
}

struct tp_packet *txn_request(const struct txn *t)
{
	return t->request;
}

enum txn_state txn_state(const struct txn *t)
{
	return t->state;
}

unsigned txn_status(const struct txn *t)
{
	return t->status;
}

/*
 * proxy.c - the stateful proxy (RFC 3261 §16): requests other than
 * REGISTER, to local users and along routes; forking; the response context;
 * CANCEL; redirect mode; stateless forwarding of ACK for 2xx and of stray
 * responses.
 *
 * A request (server transaction st) goes through:
 *   1. §16.3 validation (Max-Forwards, Proxy-Require: core.c did them) and
 *      loop detection: a Via of ours whose branch carries this request's
 *      loop hash → 482.
 *   2. §16.4 route information: Route values naming sipd are dropped (two
 *      when sipd Record-Routed twice); a strict-routing peer's request (the
 *      Request-URI names sipd, Routes follow) gets its last Route as the
 *      Request-URI.
 *   3. Who may send it. A request in a dialog sipd Record-Routed (a To
 *      tag, and a Route of sipd's, or a strict router's Request-URI, that
 *      carries the dialog's token) is relayed as its route says. Every
 *      other request gets the out-of-dialog policy, To tag or not: from a
 *      served domain, digest with 407 (realm = the From domain), and the
 *      authenticated user must be the From user (403); from elsewhere,
 *      only to our users, and only when proxy.foreign_callers (else 403);
 *      a Route sipd did not record is taken from nobody (403). sipd is no
 *      open relay, and a forged To tag or Route impersonates nobody.
 *   4. Targets: the next Route; else a local AOR (404 no such user, 480 no
 *      binding, 302 in redirect mode); else an IP-literal Request-URI (a
 *      phone on some host, DESIGN.md §4); else 501 (no DNS routing yet).
 *   5. §16.6 forwarding per target: Request-URI set to the contact, Max-
 *      Forwards decremented (70 when absent), Record-Route for initial
 *      INVITE/SUBSCRIBE/REFER (two when the legs use different transports,
 *      RFC 5658), sipd's Via with a unique branch, the consumed
 *      Proxy-Authorization removed, Path values as Route; sent where the
 *      binding's REGISTER came from (NAT) or to the first Path hop.
 *   6. §16.7 response context: contacts of the highest q in parallel, the
 *      next q group when all of those failed; 1xx but 100 forwarded; every
 *      2xx of an INVITE forwarded at once (after the first, statelessly);
 *      a 2xx or 6xx cancels the other pending branches; otherwise the best
 *      final answer (6xx, else the lowest class; 401/407 challenges merged;
 *      503 sent as 500; 408 for branches that timed out); timer C cancels a
 *      branch that rings too long.
 *
 * CANCEL from the caller: 200, CANCEL on every pending branch (a branch
 * with no provisional response yet gets it when one arrives, §9.1), and
 * 487 to the INVITE once every branch is done.
 *
 * The dialog token is the head of HMAC-SHA256 over the Call-ID and the
 * caller's From tag, under a key drawn at start (core_dialog_key), in a
 * "dlg" parameter of each Record-Route URI sipd inserts. The caller's
 * requests carry that tag as From tag, the callee's as To tag, so both
 * directions check against the same token, and it does not depend on the
 * callee's tag or on target refreshes. A restart draws a new key: the
 * dialogs of before are then challenged like new requests (their ACKs for
 * 2xx are dropped).
 *
 * The loop hash (§16.6 step 8) covers the Request-URI, From tag, To tag,
 * Call-ID and CSeq number of the request as received: a request that comes
 * back unchanged is a loop, one with another Request-URI is a spiral.
 *
 * Each context holds a reference to its server transaction and to each
 * client transaction; it lives until its final answer is sent and every
 * branch has ended.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/obj.h"
#include "base/random.h"
#include "base/text.h"
#include "core/core_int.h"
#include "core/proxy.h"
#include "sip/edit.h"
#include "sip/print.h"

#define PROXY_MAX_BRANCHES 32      /* targets of one request (bindings are capped lower) */
#define PROXY_HOSTPORT_MAX TP_HOSTPORT_MAX
#define PROXY_VIA_MAX 160
#define PROXY_RR_MAX 128
#define PROXY_DEFAULT_MAX_FORWARDS 70
#define PROXY_BRANCH_PREFIX "z9hG4bKsd"
/* The branch's last hex digit is the worker loop that sent it. */
#define PROXY_WORKER_BITS 4
#define PROXY_LOOP_HEX 16
#define PROXY_DIALOG_PARAM "dlg" /* the dialog token's Record-Route URI parameter */

enum branch_state {
	BR_WAITING,   /* not started (a later q group) */
	BR_CALLING,   /* sent, no response */
	BR_RINGING,   /* a provisional response came */
	BR_DONE,
};

struct proxy_ctx;

struct branch {
	struct proxy_ctx *ctx;
	struct txn *ct; /* a reference, while running */
	enum branch_state state;
	uint16_t q;
	bool cancel_wanted; /* CANCEL once a provisional arrives */
	bool cancelled;     /* CANCEL sent */
	unsigned status;    /* final status, once done */
	struct timer timer_c;
	struct tp_dest dest;
	char *target;     /* Request-URI to send (owned); NULL: keep the received one */
	char *path;       /* Path values of the binding (owned), or NULL */
};

struct proxy_ctx {
	struct hmap_node node; /* in proxy->by_st, keyed by st */
	struct proxy *proxy;
	struct core *core;
	struct txn *st;          /* a reference */
	struct tp_packet *req;   /* a reference (st lets it go when it completes) */
	bool invite;
	bool record_route;
	bool caller_cancelled;
	bool final_sent;
	bool no_more_branches;  /* a 2xx or 6xx arrived: no new q group */
	unsigned remove_routes; /* Route values of ours to drop */
	bool strict_route;      /* the Request-URI is the last Route */
	char loop_hash[PROXY_LOOP_HEX + 1];
	char dialog_token[DIGEST_TOKEN_HEX_LEN + 1]; /* for the Record-Route, when record_route */
	struct branch *br;      /* cap of them, allocated with the context */
	unsigned cap;
	unsigned count;
	unsigned running;       /* branches sent and not done */
	/* the best final response so far */
	struct tp_packet *best; /* a reference, or NULL */
	unsigned best_status;   /* also for local ones (408) */
	struct buf challenges;  /* WWW-/Proxy-Authenticate lines of every 401/407 */
};

#define PROXY_SIDE_CACHE 8 /* "IP:PORT" texts of sipd's sides, remembered */

struct proxy {
	struct core *core;
	struct hmap by_st;
	uint64_t branch_counter;
	struct {
		struct tp_addr addr;
		char text[PROXY_HOSTPORT_MAX];
	} side[PROXY_SIDE_CACHE];
	unsigned side_count, side_next;
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t ptr_hash(const struct proxy *p, const void *ptr)
{
	uintptr_t v = (uintptr_t)ptr;
	return hmap_hash(&p->by_st, &v, sizeof(v));
}

static bool ctx_match(const struct hmap_node *node, const void *arg)
{
	return HMAP_ENTRY(node, struct proxy_ctx, node)->st == arg;
}

static struct proxy_ctx *ctx_find(struct proxy *p, const struct txn *st)
{
	struct hmap_node *n = hmap_find(&p->by_st, ptr_hash(p, st), ctx_match, st);
	return n ? HMAP_ENTRY(n, struct proxy_ctx, node) : NULL;
}

static const char *proto_upper(enum tp_proto p)
{
	return tp_proto_name(p);
}

/* The loop hash of a request as received (§16.6 step 8): each field is
 * hashed on its own, whatever its length, and the hashes with the CSeq
 * number are hashed again (no buffer to bound: no field is cut short). */
static void loop_hash(const struct core *core, const struct sip_msg *m, char out[PROXY_LOOP_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	const struct view parts[] = { m->ruri_raw, m->from.tag, m->to.tag, m->call_id };
	uint64_t fields[sizeof(parts) / sizeof(parts[0]) + 1];
	uint64_t h;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		fields[i] = siphash24(&core->tag_key, parts[i].p ? parts[i].p : "",
				      parts[i].p ? parts[i].len : 0);
	fields[sizeof(parts) / sizeof(parts[0])] = m->cseq.number;
	h = siphash24(&core->tag_key, fields, sizeof(fields));
	for (int i = PROXY_LOOP_HEX - 1; i >= 0; i--) {
		out[i] = digits[h & 15];
		h >>= 4;
	}
	out[PROXY_LOOP_HEX] = '\0';
}

/* The token of the dialog whose caller sent Call-ID call_id with From tag
 * tag. false when libcrypto fails. */
static bool dialog_token(const struct core *core, struct view call_id, struct view tag,
			 char out[DIGEST_TOKEN_HEX_LEN + 1])
{
	const struct view parts[] = { VIEW_LIT("sipd dialog 1"), call_id, tag };

	return digest_token(core_dialog_key(core), parts, sizeof(parts) / sizeof(parts[0]), out);
}

/* Is m (with a To tag) in a dialog sipd Record-Routed: does one of its
 * own Routes, or the strict router's Request-URI strict_uri (may be NULL),
 * carry the token of its Call-ID with its From tag (the caller sends) or
 * its To tag (the callee sends)? Compared in constant time. */
static bool dialog_signed(const struct core *core, const struct sip_msg *m,
			  const struct sip_addr *routes, size_t own, const struct sip_uri *strict_uri)
{
	char expect[2][DIGEST_TOKEN_HEX_LEN + 1];
	bool computed = false;

	if (view_is_null(m->to.tag))
		return false;
	for (size_t i = 0; i <= own; i++) {
		const struct sip_uri *uri = i < own ? &routes[i].uri : strict_uri;
		struct view got;
		if (!uri || !sip_uri_param(uri, PROXY_DIALOG_PARAM, &got) ||
		    got.len != DIGEST_TOKEN_HEX_LEN)
			continue;
		if (!computed) {
			if (!dialog_token(core, m->call_id, m->from.tag, expect[0]) ||
			    !dialog_token(core, m->call_id, m->to.tag, expect[1]))
				return false;
			computed = true;
		}
		bool from_caller = digest_hex_equal(got, view_make(expect[0], DIGEST_TOKEN_HEX_LEN));
		bool from_callee = digest_hex_equal(got, view_make(expect[1], DIGEST_TOKEN_HEX_LEN));
		if (from_caller || from_callee)
			return true;
	}
	return false;
}

/* A Via that sipd wrote: its sent-by is an own address and port. */
static bool via_is_ours(const struct core *core, const struct sip_via *via)
{
	struct tp_addr a;
	uint16_t port = via->has_port ? via->port : 5060;

	if (tp_addr_from_text(&a, via->host, port) != 0)
		return false;
	return core_addr_is_self(core, &a);
}

/* Could a Via line of m hold a branch sipd wrote for this loop hash? A
 * plain search of the raw lines: most requests never passed through sipd,
 * and then their Vias need no decoding. */
static bool branch_text_present(const struct sip_msg *m, const char *hash)
{
	char needle[sizeof(PROXY_BRANCH_PREFIX) - 1 + PROXY_LOOP_HEX];

	memcpy(needle, PROXY_BRANCH_PREFIX, sizeof(PROXY_BRANCH_PREFIX) - 1);
	memcpy(needle + sizeof(PROXY_BRANCH_PREFIX) - 1, hash, PROXY_LOOP_HEX);
	for (const struct sip_hdr *h = sip_msg_hdr_find(m, SIP_HDR_VIA); h;
	     h = sip_msg_hdr_next(m, h))
		if (memmem(h->value.p, h->value.len, needle, sizeof(needle)))
			return true;
	return false;
}

static bool looped(struct core *core, struct sip_msg *m, const char *hash)
{
	const struct sip_via *vias;
	size_t n;

	if (!branch_text_present(m, hash))
		return false;
	if (sip_msg_vias(m, &vias, &n, NULL) != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		struct view b = vias[i].branch;
		size_t plen = sizeof(PROXY_BRANCH_PREFIX) - 1;
		if (b.len < plen + PROXY_LOOP_HEX || memcmp(b.p, PROXY_BRANCH_PREFIX, plen) != 0)
			continue;
		if (memcmp(b.p + plen, hash, PROXY_LOOP_HEX) == 0 && via_is_ours(core, &vias[i]))
			return true;
	}
	return false;
}

/* Where a URI leads (next hop): its host must be an IP literal; the
 * protocol is its transport parameter, else proto. */
static int uri_dest_proto(const struct sip_uri *uri, enum tp_proto proto, struct tp_dest *dest)
{
	struct view transport;
	uint16_t port;

	memset(dest, 0, sizeof(*dest));
	dest->proto = uri->scheme == SIP_URI_SIPS ? TP_TLS : proto;
	if (sip_uri_param(uri, "transport", &transport) && !view_is_null(transport)) {
		if (view_eq_lit_nocase(transport, "tcp"))
			dest->proto = TP_TCP;
		else if (view_eq_lit_nocase(transport, "tls"))
			dest->proto = TP_TLS;
		else if (!view_eq_lit_nocase(transport, "udp"))
			return EPROTONOSUPPORT;
	}
	port = uri->has_port ? uri->port : dest->proto == TP_TLS ? 5061 : 5060;
	if (tp_addr_from_text(&dest->addr, uri->host, port) != 0)
		return EHOSTUNREACH;
	return 0;
}

static int uri_dest(const struct sip_uri *uri, struct tp_dest *dest)
{
	return uri_dest_proto(uri, TP_UDP, dest);
}

static bool same_ip(const struct tp_addr *a, const struct tp_addr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
	return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
}

/*
 * Where a binding is reached. Its REGISTER came from lb->source over
 * lb->proto; its Contact may say otherwise:
 *  - over a stream whose connection is still open: that connection (the
 *    only way back through NAT or a firewall, RFC 5626 §5.3 in spirit);
 *  - the Contact's host is an IP literal at the source's IP (no NAT): the
 *    Contact's address and transport (a phone may register from another
 *    port than the one it listens on);
 *  - otherwise (a private or unresolvable Contact: NAT): the source.
 */
static void binding_target(struct core *core, struct loc_binding *lb, struct tp_dest *dest)
{
	struct tp_addr source;
	enum tp_proto proto = (enum tp_proto)lb->proto;

	loc_source(lb, &source);
	if (lb->hop == LOC_HOP_UNKNOWN) {
		/* the contact is read once per binding, not per request */
		struct tp_dest contact;
		struct sip_uri uri;
		lb->hop = LOC_HOP_SOURCE;
		if (loc_uri(lb, &uri) == 0 && uri_dest_proto(&uri, proto, &contact) == 0 &&
		    same_ip(&contact.addr, &source)) {
			lb->hop = LOC_HOP_CONTACT;
			lb->hop_proto = (uint8_t)contact.proto;
			lb->hop_port = tp_addr_port(&contact.addr);
		}
	}
	memset(dest, 0, sizeof(*dest));
	dest->proto = proto;
	dest->addr = source;
	if (lb->hop == LOC_HOP_CONTACT && !tp_has_conn(core->tp, proto, &source)) {
		dest->proto = (enum tp_proto)lb->hop_proto;
		tp_addr_set_port(&dest->addr, lb->hop_port);
	}
}

static bool binding_dest(struct core *core, const struct sip_msg *m, const struct sip_uri *target,
			 struct tp_dest *dest)
{
	const char *domain = core_uri_domain(core, &m->to.uri);
	char user[STORE_USER_MAX], key[STORE_AOR_MAX];
	long ulen;

	if (!domain || view_is_null(m->to.uri.user))
		return false;
	ulen = sip_unescape(m->to.uri.user, user, sizeof(user) - 1);
	if (ulen <= 0)
		return false;
	if (!core_aor_key(key, sizeof(key), view_make(user, (size_t)ulen), domain))
		return false;
	location_lock(core->loc);
	struct loc_binding *b = location_binding_find(location_find(core->loc, view_from_cstr(key)),
						       target);
	if (b)
		binding_target(core, b, dest);
	location_unlock(core->loc);
	return b != NULL;
}

/* Credentials for a realm of sipd's are not forwarded (RFC 3261 §22.3):
 * every Proxy-Authorization line naming a served domain goes. */
static int drop_credentials(const struct core *core, struct sip_edit *e, struct sip_msg *m)
{
	const struct sip_auth *auths;
	size_t n;

	if (sip_msg_auths(m, SIP_HDR_PROXY_AUTHORIZATION, &auths, &n, NULL) != 0 || n == 0)
		return 0;
	for (const struct sip_hdr *h = sip_msg_hdr_find(m, SIP_HDR_PROXY_AUTHORIZATION); h;
	     h = sip_msg_hdr_next(m, h)) {
		bool ours = false;
		for (size_t i = 0; i < n; i++) {
			const char *p = auths[i].scheme.p;
			if (!p || p < h->value.p || p >= h->value.p + h->value.len)
				continue; /* on another line */
			for (unsigned d = 0; d < core->cfg.domain_count; d++)
				if (view_eq_cstr(auths[i].realm, core->domain[d].name))
					ours = true;
		}
		if (ours) {
			int rc = sip_edit_remove_header(e, h);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* ---- answering -------------------------------------------------------- */

static size_t ctx_size(unsigned branches)
{
	return sizeof(struct proxy_ctx) + branches * sizeof(struct branch);
}

static void ctx_free(struct proxy_ctx *ctx)
{
	for (unsigned i = 0; i < ctx->count; i++) {
		struct branch *b = &ctx->br[i];
		timer_cancel(&b->timer_c);
		if (b->ct) {
			txn_client_detach(b->ct);
			obj_unref(b->ct);
		}
		free(b->target);
		free(b->path);
	}
	if (ctx->best)
		obj_unref(ctx->best);
	buf_fini(&ctx->challenges);
	hmap_remove(&ctx->proxy->by_st, &ctx->node);
	obj_unref(ctx->req);
	obj_unref(ctx->st);
	mem_free(ctx, ctx_size(ctx->cap));
}

static void ctx_maybe_free(struct proxy_ctx *ctx)
{
	if (ctx->final_sent && ctx->running == 0)
		ctx_free(ctx);
}

/* Forward a response of a branch to the caller: sipd's Via removed, the
 * challenges of other branches added (extra, may be empty). */
static void forward_response(struct proxy_ctx *ctx, struct tp_packet *resp, struct view extra)
{
	struct sip_edit e;
	struct buf out;
	unsigned status = resp->msg.status;
	int rc;

	sip_edit_init(&e, &resp->msg);
	rc = sip_edit_remove_top_via(&e);
	/* extra lines, one edit each */
	for (struct view rest = extra; rc == 0 && rest.len > 0;) {
		const char *eol = memchr(rest.p, '\n', rest.len);
		size_t len = eol ? (size_t)(eol - rest.p) + 1 : rest.len;
		struct view line = view_make(rest.p, len);
		const char *colon = memchr(line.p, ':', line.len);
		if (colon) {
			struct view name = view_make(line.p, (size_t)(colon - line.p));
			struct view value = view_trim(view_make(colon + 1, line.len - (size_t)(colon + 1 - line.p)));
			rc = sip_edit_add_header(&e, name, value);
		}
		rest.p += len;
		rest.len -= len;
	}
	buf_init(&out);
	if (rc == 0)
		rc = sip_edit_render_buf(&e, &out);
	if (rc != 0) {
		log_warn("cannot forward a %u response (Call-ID %.*s): %s", status,
			 (int)resp->msg.call_id.len, resp->msg.call_id.p, strerror(rc));
		buf_fini(&out);
		return;
	}
	if (status >= 200 && ctx->final_sent) {
		/* a further 2xx of an INVITE: statelessly, where the first went */
		struct tp_dest dest;
		struct iovec one = { .iov_base = out.data, .iov_len = out.len };
		tp_response_dest(ctx->req, &dest);
		rc = core_send(ctx->core, &dest, &one, 1);
		if (rc != 0)
			log_warn("cannot forward a further %u (Call-ID %.*s): %s", status,
				 (int)resp->msg.call_id.len, resp->msg.call_id.p, strerror(rc));
		buf_fini(&out);
		return;
	}
	if (status >= 200) {
		ctx->final_sent = true;
		core_log_final(ctx->core, ctx->req, status, resp->msg.reason);
	}
	rc = txn_server_reply(ctx->st, status, &out);
	if (rc != 0 && rc != EINVAL)
		log_warn("cannot forward a %u (Call-ID %.*s): %s", status,
			 (int)resp->msg.call_id.len, resp->msg.call_id.p, strerror(rc));
	buf_fini(&out);
}

static void answer_local(struct proxy_ctx *ctx, unsigned status, const char *reason)
{
	ctx->final_sent = true;
	core_reply(ctx->core, ctx->st, status, reason, VIEW_NULL);
}

/* Every branch is done and no 2xx went out: send the best answer. */
static void send_best(struct proxy_ctx *ctx)
{
	if (ctx->final_sent)
		return;
	if (ctx->caller_cancelled) {
		answer_local(ctx, 487, NULL);
		return;
	}
	if (!ctx->best) {
		answer_local(ctx, ctx->best_status ? ctx->best_status : 408, NULL);
		return;
	}
	if (ctx->best_status == 503) {
		answer_local(ctx, 500, "Next Hop Unavailable");
		return;
	}
	struct view extra = VIEW_NULL;
	if (ctx->best_status == 401 || ctx->best_status == 407)
		extra = buf_view(&ctx->challenges);
	forward_response(ctx, ctx->best, extra);
}

/* §16.7 step 6: is status a better final answer than the current best? */
static bool better(unsigned status, unsigned best)
{
	if (best == 0)
		return true;
	if (best >= 600)
		return false;
	if (status >= 600)
		return true;
	return status / 100 < best / 100;
}

static void start_next_group(struct proxy_ctx *ctx);
static void branch_cancel(struct branch *b);

static void cancel_pending(struct proxy_ctx *ctx, const struct branch *except)
{
	for (unsigned i = 0; i < ctx->count; i++) {
		struct branch *b = &ctx->br[i];
		if (b == except)
			continue;
		if (b->state == BR_WAITING)
			b->state = BR_DONE;
		else if (b->state != BR_DONE)
			branch_cancel(b);
	}
}

/* A branch ended (final response, error, or given up). */
static void branch_done(struct branch *b, unsigned status)
{
	struct proxy_ctx *ctx = b->ctx;

	if (b->state == BR_DONE)
		return;
	b->state = BR_DONE;
	b->status = status;
	timer_cancel(&b->timer_c);
	if (b->ct) {
		txn_client_detach(b->ct);
		obj_unref(b->ct);
		b->ct = NULL;
	}
	ctx->running--;
	if (ctx->running == 0 && !ctx->final_sent) {
		if (!ctx->no_more_branches && !ctx->caller_cancelled)
			start_next_group(ctx);
		if (ctx->running == 0)
			send_best(ctx);
	}
	ctx_maybe_free(ctx);
}

/* The caller gave up or another branch won: CANCEL b (§9.1, §16.10). */
static void send_cancel(struct branch *b)
{
	struct proxy_ctx *ctx = b->ctx;
	struct view inv = txn_client_request(b->ct);
	struct sip_msg m;
	struct sip_error err;
	struct buf out;
	size_t used;
	int rc;

	b->cancelled = true;
	if (sip_msg_decode(&m, inv.p, inv.len, SIP_FRAMING_DGRAM, &used, &err) != 0) {
		sip_msg_fini(&m);
		return;
	}
	buf_init(&out);
	rc = buf_printf(&out, "CANCEL %.*s SIP/2.0\r\n", (int)m.ruri_raw.len, m.ruri_raw.p);
	if (rc == 0)
		rc = sip_header_print(&out, "Via: ", m.via.raw);
	for (const struct sip_hdr *h = sip_msg_hdr_find(&m, SIP_HDR_ROUTE); rc == 0 && h;
	     h = sip_msg_hdr_next(&m, h))
		rc = sip_header_print(&out, "Route: ", h->value);
	const struct sip_hdr *from = sip_msg_hdr_find(&m, SIP_HDR_FROM);
	const struct sip_hdr *to = sip_msg_hdr_find(&m, SIP_HDR_TO);
	if (rc == 0 && from)
		rc = sip_header_print(&out, "From: ", from->value);
	if (rc == 0 && to)
		rc = sip_header_print(&out, "To: ", to->value);
	if (rc == 0)
		rc = sip_header_print(&out, "Call-ID: ", m.call_id);
	if (rc == 0)
		rc = buf_printf(&out, "CSeq: %u CANCEL\r\nMax-Forwards: %u\r\nContent-Length: 0\r\n\r\n",
				m.cseq.number, PROXY_DEFAULT_MAX_FORWARDS);
	sip_msg_fini(&m);
	if (rc == 0)
		rc = txn_client_start(core_txn_layer(ctx->core), &b->dest, &out, NULL, NULL, NULL);
	buf_fini(&out);
	if (rc != 0)
		log_warn("cannot send CANCEL for Call-ID %.*s: %s", (int)ctx->req->msg.call_id.len,
			 ctx->req->msg.call_id.p, strerror(rc));
}

static void on_give_up(struct timer *timer, void *arg)
{
	struct branch *b = arg;
	(void)timer;
	/* no final answer 64*T1 after our CANCEL (or timer C without a
	 * provisional): the branch counts as timed out */
	branch_done(b, 408);
}

static void branch_cancel(struct branch *b)
{
	struct proxy_ctx *ctx = b->ctx;

	if (b->state == BR_DONE || b->cancelled)
		return;
	if (!ctx->invite) {
		/* a non-INVITE cannot be cancelled: let it run its course */
		return;
	}
	if (b->state == BR_RINGING) {
		send_cancel(b);
		timer_start(loop_timers(ctx->core->loop), &b->timer_c, 64u * ctx->core->cfg.t1_ms,
			    on_give_up, b);
	} else {
		b->cancel_wanted = true;
	}
}

static void on_timer_c(struct timer *timer, void *arg)
{
	struct branch *b = arg;
	(void)timer;
	if (b->state == BR_RINGING)
		branch_cancel(b);
	else
		branch_done(b, 408);
}

static void on_branch_response(struct txn *ct, struct tp_packet *resp, int error, void *arg)
{
	struct branch *b = arg;
	struct proxy_ctx *ctx = b->ctx;
	(void)ct;

	if (!resp) {
		/* timer B/F, or the send failed */
		unsigned status = error == ETIMEDOUT ? 408 : 503;
		if (!ctx->best && better(status, ctx->best_status))
			ctx->best_status = status;
		branch_done(b, status);
		return;
	}
	unsigned status = resp->msg.status;
	if (status < 200) {
		if (b->state == BR_CALLING)
			b->state = BR_RINGING;
		if (ctx->invite && !b->cancelled)
			timer_start(loop_timers(ctx->core->loop), &b->timer_c,
				    ctx->core->cfg.timer_c_ms, on_timer_c, b);
		if (b->cancel_wanted && !b->cancelled)
			branch_cancel(b);
		if (status > 100 && !ctx->final_sent && !ctx->caller_cancelled)
			forward_response(ctx, resp, VIEW_NULL);
		return;
	}
	if (status < 300) {
		ctx->no_more_branches = true;
		if (!ctx->invite && ctx->final_sent) {
			branch_done(b, status);
			return;
		}
		forward_response(ctx, resp, VIEW_NULL);
		if (ctx->invite)
			cancel_pending(ctx, b);
		branch_done(b, status);
		return;
	}
	if (status == 401 || status == 407) {
		const enum sip_hdr_id id = status == 401 ? SIP_HDR_WWW_AUTHENTICATE
							: SIP_HDR_PROXY_AUTHENTICATE;
		const char *name = status == 401 ? "WWW-Authenticate: " : "Proxy-Authenticate: ";
		if (ctx->best && (ctx->best_status == 401 || ctx->best_status == 407) &&
		    ctx->best != resp) {
			/* keep the first one; the others' challenges are added */
			for (const struct sip_hdr *h = sip_msg_hdr_find(&resp->msg, id); h;
			     h = sip_msg_hdr_next(&resp->msg, h))
				(void)sip_header_print(&ctx->challenges, name, h->value);
		}
	}
	if (status >= 600) {
		ctx->no_more_branches = true;
		cancel_pending(ctx, b);
	}
	/* a real response beats a local one (408, 503) of its class */
	if (better(status, ctx->best_status) ||
	    (!ctx->best && status / 100 == ctx->best_status / 100)) {
		if (ctx->best)
			obj_unref(ctx->best);
		ctx->best = obj_ref(resp);
		ctx->best_status = status;
	}
	branch_done(b, status);
}

/* ---- sending a branch ------------------------------------------------- */

/* "IP:PORT" of sipd on the side facing peer over proto; its listener. */
static int local_side(struct core *core, enum tp_proto proto, const struct tp_addr *peer,
		      char *out, size_t size, struct tp_listener **listener)
{
	struct proxy *p = core->proxy;
	struct tp_addr local;
	int rc = tp_local_for(core->tp, proto, peer, listener, &local);

	if (rc != 0)
		return rc;
	for (unsigned i = 0; i < p->side_count; i++) {
		if (tp_addr_equal(&p->side[i].addr, &local)) {
			size_t n = strlen(p->side[i].text);
			if (n >= size)
				return EMSGSIZE;
			memcpy(out, p->side[i].text, n + 1);
			return 0;
		}
	}
	tp_addr_hostport(&local, out, size);
	unsigned slot = p->side_count < PROXY_SIDE_CACHE ? p->side_count++
						       : p->side_next++ % PROXY_SIDE_CACHE;
	p->side[slot].addr = local;
	struct text t;
	text_init(&t, p->side[slot].text, sizeof(p->side[slot].text));
	text_cstr(&t, out);
	return 0;
}

/* A Via of sipd's up to its branch value: "SIP/2.0/UDP host:port;branch=". */
static void via_begin(struct text *t, char *out, size_t size, enum tp_proto proto,
		      const char *hostport)
{
	text_init(t, out, size);
	text_cstr(t, "SIP/2.0/");
	text_cstr(t, proto_upper(proto));
	text_cstr(t, " ");
	text_cstr(t, hostport);
	text_cstr(t, ";branch=");
}

static int rr_value(enum tp_proto proto, const char *hostport, const char *token, char *out,
		    size_t size)
{
	struct text t;

	text_init(&t, out, size);
	text_cstr(&t, "<sip:");
	text_cstr(&t, hostport);
	text_cstr(&t, proto == TP_TCP ? ";transport=tcp;lr;" PROXY_DIALOG_PARAM "="
				      : ";lr;" PROXY_DIALOG_PARAM "=");
	text_cstr(&t, token);
	text_cstr(&t, ">");
	return text_status(&t);
}

static int branch_start(struct branch *b)
{
	struct proxy_ctx *ctx = b->ctx;
	struct core *core = ctx->core;
	struct sip_msg *m = &ctx->req->msg;
	struct sip_edit e;
	char hostport[PROXY_HOSTPORT_MAX], via[PROXY_VIA_MAX], rr[PROXY_RR_MAX];
	struct tp_listener *listener = NULL;
	struct buf out;
	int rc;

	rc = local_side(core, b->dest.proto, &b->dest.addr, hostport, sizeof(hostport), &listener);
	if (rc != 0)
		return rc;
	if (b->dest.proto == TP_UDP)
		b->dest.listener = listener;
	sip_edit_init(&e, m);
	if (b->target)
		rc = sip_edit_set_request_uri(&e, view_from_cstr(b->target));
	else if (ctx->strict_route)
		rc = sip_edit_remove_last_route(&e);
	if (rc == 0 && ctx->strict_route && b->target)
		rc = sip_edit_remove_last_route(&e);
	if (rc == 0 && ctx->remove_routes)
		rc = sip_edit_remove_routes(&e, ctx->remove_routes);
	if (rc == 0)
		rc = sip_edit_set_max_forwards(&e, m->has_max_forwards ? m->max_forwards - 1
								     : PROXY_DEFAULT_MAX_FORWARDS);
	if (rc == 0)
		rc = drop_credentials(core, &e, m);
	if (rc == 0 && ctx->record_route) {
		/* the side facing the callee on top, then the caller's side when
		 * the legs differ (RFC 5658) */
		rc = rr_value(b->dest.proto, hostport, ctx->dialog_token, rr, sizeof(rr));
		if (rc == 0)
			rc = sip_edit_insert_record_route(&e, view_from_cstr(rr));
		if (rc == 0 && (ctx->req->proto != b->dest.proto)) {
			char in_hostport[PROXY_HOSTPORT_MAX];
			struct tp_listener *l;
			rc = local_side(core, ctx->req->proto, &ctx->req->src, in_hostport,
					sizeof(in_hostport), &l);
			if (rc == 0)
				rc = rr_value(ctx->req->proto, in_hostport, ctx->dialog_token, rr,
					      sizeof(rr));
			if (rc == 0)
				rc = sip_edit_insert_record_route(&e, view_from_cstr(rr));
		}
	}
	if (rc == 0 && b->path && b->path[0])
		rc = sip_edit_add_header(&e, VIEW_LIT("Route"), view_from_cstr(b->path));
	if (rc == 0) {
		struct text t;
		via_begin(&t, via, sizeof(via), b->dest.proto, hostport);
		text_cstr(&t, PROXY_BRANCH_PREFIX);
		text_cstr(&t, ctx->loop_hash);
		text_cstr(&t, ".");
		text_hex(&t, ++ctx->proxy->branch_counter << PROXY_WORKER_BITS | ctx->core->worker, 0);
		text_cstr(&t, ";rport");
		rc = text_status(&t);
		if (rc == 0)
			rc = sip_edit_insert_via(&e, view_make(via, t.len));
	}
	if (rc != 0)
		return rc;
	buf_init(&out);
	rc = sip_edit_render_buf(&e, &out);
	if (rc == 0)
		rc = txn_client_start(core->txn, &b->dest, &out, on_branch_response, b, &b->ct);
	buf_fini(&out);
	if (rc != 0)
		return rc;
	b->state = BR_CALLING;
	ctx->running++;
	if (ctx->invite)
		timer_start(loop_timers(core->loop), &b->timer_c, core->cfg.timer_c_ms, on_timer_c,
			    b);
	return 0;
}

/* Start every waiting branch of the highest q left. */
static void start_next_group(struct proxy_ctx *ctx)
{
	int q = -1;

	for (unsigned i = 0; i < ctx->count; i++)
		if (ctx->br[i].state == BR_WAITING && (int)ctx->br[i].q > q)
			q = ctx->br[i].q;
	if (q < 0)
		return;
	for (unsigned i = 0; i < ctx->count; i++) {
		struct branch *b = &ctx->br[i];
		if (b->state != BR_WAITING || (int)b->q != q)
			continue;
		int rc = branch_start(b);
		if (rc != 0) {
			char t[64];
			tp_addr_ip_string(&b->dest.addr, t, sizeof(t));
			log_warn("cannot forward %.*s to %s (%s): %s", (int)ctx->req->msg.method.len,
				 ctx->req->msg.method.p, b->target ? b->target : "next hop", t,
				 strerror(rc));
			b->state = BR_DONE;
			b->status = 503;
			if (better(503, ctx->best_status) && !ctx->best)
				ctx->best_status = 503;
		}
	}
}

/* ---- targets ---------------------------------------------------------- */

static struct branch *branch_add(struct proxy_ctx *ctx)
{
	if (ctx->count == ctx->cap)
		return NULL;
	struct branch *b = &ctx->br[ctx->count++];
	memset(b, 0, sizeof(*b));
	b->ctx = ctx;
	b->state = BR_WAITING;
	b->q = 1000;
	timer_init(&b->timer_c);
	return b;
}

/* One branch per binding of aor. 0 or ENOMEM. */
static int targets_from_location(struct proxy_ctx *ctx, struct loc_aor *aor)
{
	for (struct loc_binding *lb = aor->head; lb; lb = lb->next) {
		struct branch *b = branch_add(ctx);
		if (!b)
			break;
		b->q = lb->q;
		b->target = strdup(loc_contact(lb));
		if (!b->target)
			return ENOMEM;
		binding_target(ctx->core, lb, &b->dest);
		if (lb->path_len) {
			const char *lpath = loc_path(lb);
			/* through the first Path hop */
			struct sip_addr first;
			const char *reason;
			const char *comma = strchr(lpath, ',');
			size_t len = comma ? (size_t)(comma - lpath) : strlen(lpath);
			if (sip_addr_decode(&first, view_make(lpath, len), &reason) == 0 &&
			    uri_dest(&first.uri, &b->dest) == 0) {
				b->path = strdup(lpath);
				if (!b->path)
					return ENOMEM;
			} else {
				binding_target(ctx->core, lb, &b->dest);
			}
		}
	}
	return 0;
}

/* ---- requests --------------------------------------------------------- */

static void reply(struct core *core, struct txn *st, unsigned status, const char *reason)
{
	core_reply(core, st, status, reason, VIEW_NULL);
}

/* 302 with every binding of aor (redirect mode). */
static void redirect(struct core *core, struct txn *st, struct loc_aor *aor)
{
	struct buf extra;
	int rc = 0;
	int64_t now = core_now_s();

	buf_init(&extra);
	for (struct loc_binding *b = aor->head; b && rc == 0; b = b->next) {
		rc = buf_printf(&extra, "Contact: <%s>", loc_contact(b));
		if (rc == 0 && b->q != 1000)
			rc = buf_printf(&extra, ";q=%u.%03u", b->q / 1000, b->q % 1000);
		if (rc == 0)
			rc = buf_printf(&extra, ";expires=%lld\r\n",
					(long long)(b->expires_at > now ? b->expires_at - now : 0));
	}
	if (rc == 0)
		core_reply(core, st, 302, NULL, buf_view(&extra));
	else
		reply(core, st, 500, "Out Of Memory");
	buf_fini(&extra);
}

static bool redirect_domain(const struct core *core, const char *domain)
{
	if (core->cfg.redirect_all)
		return true;
	for (unsigned i = 0; i < core->cfg.domain_count; i++)
		if (core->cfg.redirect[i] && strcmp(core->domain[i].name, domain) == 0)
			return true;
	return false;
}

/* The URI of our own that a Route value names (our Record-Route). */
static bool route_is_self(const struct core *core, const struct sip_addr *a)
{
	return core_uri_is_self(core, &a->uri);
}

int proxy_alloc(struct proxy **out, struct core *core)
{
	struct proxy *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return ENOMEM;
	rc = hmap_init(&p->by_st, 64);
	if (rc != 0) {
		free(p);
		return rc;
	}
	p->core = core;
	(void)random_u64(&p->branch_counter);
	p->branch_counter &= 0xffffffffffull;
	*out = p;
	return 0;
}

void proxy_free(struct proxy *p)
{
	struct hmap_iter it;
	struct hmap_node *n;

	if (!p)
		return;
	hmap_iter_init(&it, &p->by_st);
	while ((n = hmap_iter_next(&it)) != NULL)
		ctx_free(HMAP_ENTRY(n, struct proxy_ctx, node));
	hmap_fini(&p->by_st);
	free(p);
}

/* A context with room for targets branches (they never move: their
 * addresses are the arguments of timers and client transactions). */
static struct proxy_ctx *ctx_new(struct proxy *p, struct txn *st, struct tp_packet *pkt,
				 unsigned targets)
{
	if (targets == 0)
		targets = 1;
	if (targets > PROXY_MAX_BRANCHES)
		targets = PROXY_MAX_BRANCHES;
	struct proxy_ctx *ctx = mem_zalloc(ctx_size(targets));
	if (!ctx)
		return NULL;
	ctx->br = (struct branch *)(void *)(ctx + 1);
	ctx->cap = targets;
	ctx->proxy = p;
	ctx->core = p->core;
	ctx->st = obj_ref(st);
	ctx->req = obj_ref(pkt);
	ctx->invite = pkt->msg.method_id == SIP_METHOD_INVITE;
	buf_init(&ctx->challenges);
	hmap_insert(&p->by_st, &ctx->node, ptr_hash(p, st));
	return ctx;
}

/* Authenticate a caller of a served domain. true: go on; false: answered. */
static bool caller_ok(struct core *core, struct txn *st, struct tp_packet *pkt,
		      const char *from_domain)
{
	struct sip_msg *m = &pkt->msg;
	struct auth_result ar;
	char user[STORE_USER_MAX], src[STORE_ADDR_MAX];
	long ulen;

	auth_check(core->auth, m, SIP_HDR_PROXY_AUTHORIZATION, view_from_cstr(from_domain),
		   (uint64_t)core_now_s(), &ar);
	if (ar.verdict != AUTH_OK) {
		if (strcmp(ar.why, "no credentials") != 0) {
			location_source_text(pkt->proto, &pkt->src, src, sizeof(src));
			log_info("%.*s from sip:%.*s@%s: authentication failed for user '%.*s' from "
				 "%s: %s",
				 (int)m->method.len, m->method.p, (int)m->from.uri.user.len,
				 m->from.uri.user.p ? m->from.uri.user.p : "", from_domain,
				 (int)ar.user.len, ar.user.p ? ar.user.p : "", src, ar.why);
		}
		if (ar.verdict == AUTH_BAD_REQUEST) {
			reply(core, st, 400, ar.why);
		} else {
			struct buf out;
			buf_init(&out);
			if (auth_challenge(core->auth, true, view_from_cstr(from_domain),
					   ar.verdict == AUTH_STALE, (uint64_t)core_now_s(), &out) == 0)
				core_reply(core, st, 407, NULL, buf_view(&out));
			else
				reply(core, st, 500, "Cannot Make A Challenge");
			buf_fini(&out);
		}
		return false;
	}
	ulen = m->from.uri.user.p ? sip_unescape(m->from.uri.user, user, sizeof(user) - 1) : -1;
	if (ulen < 0 || !view_eq(ar.user, view_make(user, (size_t)ulen))) {
		location_source_text(pkt->proto, &pkt->src, src, sizeof(src));
		log_info("%.*s: user '%.*s' from %s may not send as From %.*s", (int)m->method.len,
			 m->method.p, (int)ar.user.len, ar.user.p, src, (int)m->from.uri_raw.len,
			 m->from.uri_raw.p);
		reply(core, st, 403, "From Does Not Match The Authenticated User");
		return false;
	}
	return true;
}

/* A request that is not in a dialog sipd signed: the out-of-dialog
 * policy (step 3 of the banner). foreign_route: a Route sipd did not
 * record; not_local: the target is not one of our users. true: go on;
 * false: answered. */
static bool caller_allowed(struct core *core, struct txn *st, struct tp_packet *pkt,
			   bool foreign_route, bool not_local)
{
	const char *fdomain;

	if (foreign_route) {
		reply(core, st, 403, "Preloaded Route Denied");
		return false;
	}
	fdomain = core_uri_domain(core, &pkt->msg.from.uri);
	if (fdomain)
		return caller_ok(core, st, pkt, fdomain);
	if (not_local) {
		reply(core, st, 403, "Relaying Denied");
		return false;
	}
	if (!core->cfg.foreign_callers) {
		reply(core, st, 403, "Calls From Other Domains Refused");
		return false;
	}
	return true;
}

void proxy_request(struct proxy *p, struct txn *st, struct tp_packet *pkt)
{
	struct core *core = p->core;
	struct sip_msg *m = &pkt->msg;
	struct sip_error err = { 400, "Bad Request" };
	const struct sip_addr *routes;
	size_t route_count, own_routes = 0;
	char hash[PROXY_LOOP_HEX + 1];
	bool strict = false;
	const struct sip_uri *target_uri = &m->ruri;
	int rc;

	/* 1: loops */
	loop_hash(core, m, hash);
	if (looped(core, m, hash)) {
		reply(core, st, 482, NULL);
		return;
	}
	/* 2: route information */
	rc = sip_msg_addrs(m, SIP_HDR_ROUTE, &routes, &route_count, &err);
	if (rc != 0) {
		reply(core, st, rc == EBADMSG ? (unsigned)err.status : 500,
		      rc == EBADMSG ? err.reason : "Out Of Memory");
		return;
	}
	if (core_uri_is_self(core, &m->ruri) && route_count > 0) {
		/* a strict router sent it: the real target is the last Route */
		strict = true;
		target_uri = &routes[route_count - 1].uri;
		route_count--;
	}
	while (own_routes < route_count && route_is_self(core, &routes[own_routes]))
		own_routes++;

	bool in_dialog = !view_is_null(m->to.tag);
	bool have_route = own_routes < route_count;
	const char *rdomain = NULL;
	struct view ruser = VIEW_NULL;
	if (!have_route && (target_uri->scheme == SIP_URI_SIP || target_uri->scheme == SIP_URI_SIPS)) {
		rdomain = core_uri_domain(core, target_uri);
		ruser = target_uri->user;
	}
	bool local_target = rdomain && !view_is_null(ruser) && ruser.len > 0;

	/* 3: who may send this */
	bool via_us = own_routes > 0 || strict;
	bool signed_dialog = via_us && dialog_signed(core, m, routes, own_routes,
						     strict ? &m->ruri : NULL);
	if (!signed_dialog &&
	    !caller_allowed(core, st, pkt, have_route && !via_us, have_route || !local_target))
		return;

	/* 4: targets */
	struct proxy_ctx *ctx;
	if (have_route) {
		ctx = ctx_new(p, st, pkt, 1);
		if (!ctx)
			goto oom;
		struct branch *b = branch_add(ctx);
		if (uri_dest(&routes[own_routes].uri, &b->dest) != 0) {
			ctx->final_sent = true;
			reply(core, st, 501, "Next Hop Is A Host Name: No DNS Routing Yet");
			ctx_free(ctx);
			return;
		}
	} else if (rdomain) {
		char user[STORE_USER_MAX], aor_key[STORE_AOR_MAX];
		long ulen;
		if (!local_target) {
			reply(core, st, 404, "No User Part");
			return;
		}
		ulen = sip_unescape(ruser, user, sizeof(user) - 1);
		if (ulen < 0 || memchr(user, '\0', (size_t)ulen)) {
			reply(core, st, 404, NULL);
			return;
		}
		user[ulen] = '\0';
		if (!users_exists(core->users, view_make(user, (size_t)ulen), view_from_cstr(rdomain))) {
			reply(core, st, 404, NULL);
			return;
		}
		/* longer than any AOR the registrar stores: nobody */
		if (!core_aor_key(aor_key, sizeof(aor_key), view_make(user, (size_t)ulen), rdomain)) {
			reply(core, st, 404, NULL);
			return;
		}
		location_lock(core->loc); /* the bindings are copied into the branches */
		struct loc_aor *aor = location_find(core->loc, view_from_cstr(aor_key));
		if (!aor) {
			location_unlock(core->loc);
			reply(core, st, 480, NULL);
			return;
		}
		if (redirect_domain(core, rdomain)) {
			redirect(core, st, aor);
			location_unlock(core->loc);
			return;
		}
		ctx = ctx_new(p, st, pkt, aor->count);
		rc = ctx ? targets_from_location(ctx, aor) : ENOMEM;
		location_unlock(core->loc);
		if (rc != 0)
			goto oom_ctx;
	} else if (target_uri->scheme == SIP_URI_SIP || target_uri->scheme == SIP_URI_SIPS) {
		struct tp_dest dest;
		if (!(in_dialog && binding_dest(core, m, target_uri, &dest)) &&
		    uri_dest(target_uri, &dest) != 0) {
			reply(core, st, 501, "Other Domains Are Not Reachable Yet (No DNS Routing)");
			return;
		}
		ctx = ctx_new(p, st, pkt, 1);
		if (!ctx)
			goto oom;
		struct branch *b = branch_add(ctx);
		b->dest = dest;
		if (strict) {
			b->target = strndup(target_uri->raw.p, target_uri->raw.len);
			if (!b->target)
				goto oom_ctx;
		}
	} else {
		reply(core, st, 416, NULL);
		return;
	}
	ctx->strict_route = strict;
	ctx->remove_routes = (unsigned)own_routes;
	ctx->record_route = core->cfg.record_route && !in_dialog &&
			    (m->method_id == SIP_METHOD_INVITE || m->method_id == SIP_METHOD_SUBSCRIBE ||
			     m->method_id == SIP_METHOD_REFER);
	memcpy(ctx->loop_hash, hash, sizeof(hash));
	if (ctx->record_route && !dialog_token(core, m->call_id, m->from.tag, ctx->dialog_token))
		goto oom_ctx;
	start_next_group(ctx);
	if (ctx->running == 0) {
		send_best(ctx);
		ctx_maybe_free(ctx);
	}
	return;
oom_ctx:
	if (ctx) {
		ctx->final_sent = true;
		ctx_free(ctx);
	}
oom:
	reply(core, st, 500, "Out Of Memory");
}

bool proxy_cancel(struct proxy *p, struct txn *invite_st)
{
	struct proxy_ctx *ctx = ctx_find(p, invite_st);

	if (!ctx)
		return false;
	if (!ctx->final_sent) {
		ctx->caller_cancelled = true;
		ctx->no_more_branches = true;
		for (unsigned i = 0; i < ctx->count; i++) {
			struct branch *b = &ctx->br[i];
			if (b->state == BR_WAITING)
				b->state = BR_DONE;
			else
				branch_cancel(b);
		}
		if (ctx->running == 0) {
			send_best(ctx);
			ctx_maybe_free(ctx);
		}
	}
	return true;
}

/* ---- stateless: ACK for 2xx, stray responses ---------------------------- */

void proxy_ack(struct proxy *p, struct tp_packet *pkt)
{
	struct core *core = p->core;
	struct sip_msg *m = &pkt->msg;
	const struct sip_addr *routes;
	size_t route_count, own = 0;
	struct tp_dest dest;
	const struct sip_uri *next;
	struct tp_listener *listener;
	char hostport[PROXY_HOSTPORT_MAX], via[PROXY_VIA_MAX];
	struct sip_edit e;
	struct iovec iov[SIP_EDIT_MAX_IOV];
	size_t n, total;
	int rc;

	if (sip_msg_addrs(m, SIP_HDR_ROUTE, &routes, &route_count, NULL) != 0)
		return;
	while (own < route_count && route_is_self(core, &routes[own]))
		own++;
	if (own == 0 || !dialog_signed(core, m, routes, own, NULL))
		return; /* not on a route sipd recorded: not relayed */
	next = own < route_count ? &routes[own].uri : &m->ruri;
	if (own == route_count && core_uri_domain(core, next))
		return; /* not routable statelessly (an AOR): dropped */
	if (!(own == route_count && binding_dest(core, m, next, &dest)) && uri_dest(next, &dest) != 0)
		return;
	if (m->has_max_forwards && m->max_forwards == 0)
		return;
	if (local_side(core, dest.proto, &dest.addr, hostport, sizeof(hostport), &listener) != 0)
		return;
	if (dest.proto == TP_UDP)
		dest.listener = listener;
	/* the branch: a hash of the incoming one, so that a retransmitted ACK
	 * gets the same (§16.11) */
	uint64_t h = siphash24(&core->tag_key, m->via.branch.p ? m->via.branch.p : "",
			       m->via.branch.len);
	struct text t;
	via_begin(&t, via, sizeof(via), dest.proto, hostport);
	text_cstr(&t, "z9hG4bKsa");
	text_hex(&t, h, 16);
	sip_edit_init(&e, m);
	rc = text_status(&t);
	if (rc == 0 && own)
		rc = sip_edit_remove_routes(&e, (unsigned)own);
	if (rc == 0)
		rc = sip_edit_set_max_forwards(&e, m->has_max_forwards ? m->max_forwards - 1
								     : PROXY_DEFAULT_MAX_FORWARDS);
	if (rc == 0)
		rc = drop_credentials(core, &e, m);
	if (rc == 0)
		rc = sip_edit_insert_via(&e, view_from_cstr(via));
	if (rc == 0)
		rc = sip_edit_render(&e, iov, SIP_EDIT_MAX_IOV, &n, &total);
	if (rc == 0)
		rc = core_send(core, &dest, iov, n);
	if (rc != 0)
		log_debug("ACK (Call-ID %.*s) not forwarded: %s", (int)m->call_id.len, m->call_id.p,
			  strerror(rc));
}

bool proxy_branch_worker(struct view branch, unsigned *worker)
{
	size_t plen = sizeof(PROXY_BRANCH_PREFIX) - 1;
	int digit;

	if (branch.len <= plen + PROXY_LOOP_HEX + 1 || memcmp(branch.p, PROXY_BRANCH_PREFIX, plen) != 0)
		return false;
	char c = branch.p[branch.len - 1];
	digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
	if (digit < 0)
		return false;
	*worker = (unsigned)digit;
	return true;
}

void proxy_stray_response(struct proxy *p, struct tp_packet *pkt)
{
	struct core *core = p->core;
	struct sip_msg *m = &pkt->msg;
	const struct sip_via *vias;
	size_t count;
	struct tp_dest dest;
	struct sip_edit e;
	struct iovec iov[SIP_EDIT_MAX_IOV];
	size_t n, total;

	/* only responses to what sipd sent (a 2xx retransmission, a 2xx of
	 * another fork) go on, to the next Via */
	if (sip_msg_vias(m, &vias, &count, NULL) != 0 || count < 2)
		return;
	if (!via_is_ours(core, &vias[0]))
		return;
	if (tp_dest_from_via(&vias[1], &dest) != 0)
		return;
	sip_edit_init(&e, m);
	if (sip_edit_remove_top_via(&e) != 0 ||
	    sip_edit_render(&e, iov, SIP_EDIT_MAX_IOV, &n, &total) != 0)
		return;
	(void)core_send(core, &dest, iov, n);
}

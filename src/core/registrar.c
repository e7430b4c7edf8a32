/*
 * registrar.c - REGISTER (RFC 3261 §10.3, RFC 3327 Path, RFC 5626
 * instance and reg-id, RFC 7315 P-Associated-URI).
 *
 * Order, first failure answers:
 *   0. Contact and Expires must decode: 400 naming the header (RFC 4475
 *      regbadct), before anything else.
 *   1. To must be a sip/sips URI with a user part: 400 "Bad To header ...".
 *   2. To and Request-URI must name a served domain, or an own address at
 *      a port sipd listens on (the default domain, DESIGN.md §4): else 403
 *      "Domain Not Served". The AOR is "user@domain".
 *   3. Digest (auth.c) with realm = that domain: 401 with a fresh challenge
 *      (stale=true for an expired nonce); a failure with credentials is
 *      logged with the user, the source and the reason.
 *   4. The authenticated user must be the To user: 403.
 *   5. "*" only alone and with Expires: 0 (400).
 *   6. Per contact: expiry = its expires parameter, else Expires, else
 *      registrar.default_expires; non-zero and below min_expires: 423 with
 *      Min-Expires for the whole request; above max_expires: lowered (the
 *      200 lists the granted value).
 *   7. §10.3 step 7: a binding set by the same Call-ID with a CSeq not
 *      lower than this request's: the request fails (400) and nothing
 *      changes.
 *   8. More bindings than registrar.max_bindings would result: 403 and
 *      nothing changes.
 *   9. Apply to the location service, write each change to the store, and
 *      answer 200 once every write is durable (500 if one failed). A query
 *      (no Contact) is answered at once.
 * The 200 lists every binding of the AOR with its remaining expires (and q,
 * +sip.instance, reg-id), echoes Path when the client supports it, names
 * the AOR in P-Associated-URI, carries Authentication-Info and a Date.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/obj.h"
#include "base/text.h"
#include "core/core_int.h"

#define REG_REPLY_MAX 512 /* bytes of a small answer's extra lines */

struct reg_pending {
	struct reg_pending *prev, *next; /* core->pending */
	struct core *core;
	struct txn *st; /* a reference */
	unsigned outstanding;
	int err;
	char aor[STORE_AOR_MAX];
	char info[AUTH_INFO_MAX];
};

/* What one Contact of the request asks. */
struct reg_change {
	const struct sip_contact *c;
	uint32_t expires; /* granted; 0 = remove */
};

static void reply_text(struct core *core, struct txn *st, unsigned status, const char *reason)
{
	core_reply(core, st, status, reason, VIEW_NULL);
}

/* "1", "0.5", "0.001" */
static void q_text(uint16_t q, char *out, size_t size)
{
	if (q >= 1000) {
		snprintf(out, size, "1");
		return;
	}
	snprintf(out, size, "0.%03u", q);
	size_t len = strlen(out);
	while (len > 3 && out[len - 1] == '0')
		out[--len] = '\0';
}

static bool client_supports_path(struct sip_msg *m)
{
	const struct view *tags;
	size_t n;

	if (sip_msg_tokens(m, SIP_HDR_SUPPORTED, &tags, &n, NULL) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (view_eq_lit_nocase(tags[i], "path"))
			return true;
	return false;
}

/* RFC 1123 date of now_s, formatted once per second. */
static const char *date_text(int64_t now_s)
{
	static _Thread_local int64_t cached_s = -1;
	static _Thread_local char text[64];

	if (now_s != cached_s) {
		time_t t = (time_t)now_s;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		cached_s = now_s;
	}
	return text;
}

/* The 200: bindings, Path, P-Associated-URI, Authentication-Info, Date. */
static void reply_ok(struct core *core, struct txn *st, const char *aor_key, const char *info)
{
	struct tp_packet *pkt = txn_request(st);
	int64_t now = core_now_s();
	struct buf out;
	int rc = 0;

	buf_init(&out);
	(void)buf_reserve(&out, 512); /* the usual answer's lines in one allocation */
	location_lock(core->loc); /* recursive: apply answers under it */
	struct loc_aor *aor = location_find(core->loc, view_from_cstr(aor_key));
	for (struct loc_binding *b = aor ? aor->head : NULL; b && rc == 0; b = b->next) {
		char q[8], expires[VIEW_U64_DIGITS + 1];
		int64_t left = b->expires_at - now;

		expires[view_u64_format((uint64_t)(left > 0 ? left : 0), expires)] = '\0';
		rc = buf_append_strs(&out, "Contact: <", loc_contact(b), ">;expires=", expires, NULL);
		if (rc == 0 && b->q != 1000) {
			q_text(b->q, q, sizeof(q));
			rc = buf_append_strs(&out, ";q=", q, NULL);
		}
		if (rc == 0 && b->instance_len)
			rc = buf_append_strs(&out, ";+sip.instance=", loc_instance(b), NULL);
		if (rc == 0 && b->reg_id) {
			rc = buf_append_cstr(&out, ";reg-id=");
			if (rc == 0)
				rc = buf_append_uint(&out, b->reg_id);
		}
		if (rc == 0)
			rc = buf_append_cstr(&out, "\r\n");
	}
	location_unlock(core->loc);
	if (rc == 0 && pkt && client_supports_path(&pkt->msg)) {
		for (const struct sip_hdr *h = sip_msg_hdr_find(&pkt->msg, SIP_HDR_PATH); h && rc == 0;
		     h = sip_msg_hdr_next(&pkt->msg, h))
			rc = buf_printf(&out, "Path: %.*s\r\n", (int)h->value.len, h->value.p);
	}
	if (rc == 0)
		rc = buf_append_strs(&out, "P-Associated-URI: <sip:", aor_key, ">\r\n", info,
				     "Date: ", date_text(now), "\r\n", NULL);
	if (rc == 0)
		core_reply(core, st, 200, NULL, buf_view(&out));
	else
		reply_text(core, st, 500, "Out Of Memory");
	buf_fini(&out);
}

static void pending_unlink(struct core *core, struct reg_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		core->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

static void pending_free(struct reg_pending *p)
{
	obj_unref(p->st);
	free(p);
}

void registrar_free_pending(struct core *core)
{
	while (core->pending) {
		struct reg_pending *p = core->pending;
		pending_unlink(core, p);
		pending_free(p);
	}
}

/* The store finished one write of a registration. */
static void on_stored(int err, void *arg)
{
	struct reg_pending *p = arg;

	if (err)
		p->err = err;
	if (--p->outstanding > 0)
		return;
	pending_unlink(p->core, p);
	if (p->err) {
		log_error("registration of %s not stored: %s", p->aor, strerror(p->err));
		reply_text(p->core, p->st, 500, "Registration Not Stored");
	} else {
		reply_ok(p->core, p->st, p->aor, p->info);
	}
	pending_free(p);
}

static void challenge(struct core *core, struct txn *st, const char *realm, bool stale)
{
	struct buf out;

	buf_init(&out);
	if (auth_challenge(core->auth, false, view_from_cstr(realm), stale, (uint64_t)core_now_s(),
			   &out) == 0)
		core_reply(core, st, 401, NULL, buf_view(&out));
	else
		reply_text(core, st, 500, "Cannot Make A Challenge");
	buf_fini(&out);
}

static void source_text(const struct tp_packet *pkt, char *out, size_t size)
{
	location_source_text(pkt->proto, &pkt->src, out, size);
}

/* "Path" values of the request, comma-separated, into out; false if too long. */
static bool path_join(struct sip_msg *m, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (const struct sip_hdr *h = sip_msg_hdr_find(m, SIP_HDR_PATH); h;
	     h = sip_msg_hdr_next(m, h)) {
		int w = snprintf(out + used, size - used, "%s%.*s", used ? "," : "",
				 (int)h->value.len, h->value.p);
		if (w < 0 || (size_t)w >= size - used)
			return false;
		used += (size_t)w;
	}
	return true;
}

/* The pending context for n writes; NULL on ENOMEM. */
static struct reg_pending *pending_new(struct core *core, struct txn *st, const char *aor,
				       const char *info)
{
	struct reg_pending *p = zalloc(sizeof(*p));
	if (!p)
		return NULL;
	p->core = core;
	p->st = obj_ref(st);
	struct text t;
	text_init(&t, p->aor, sizeof(p->aor));
	text_cstr(&t, aor);
	text_init(&t, p->info, sizeof(p->info));
	text_cstr(&t, info);
	p->next = core->pending;
	if (p->next)
		p->next->prev = p;
	core->pending = p;
	p->outstanding = 1; /* held until every write is queued */
	return p;
}

static void pending_queue(struct reg_pending *p, int rc)
{
	if (rc == 0)
		p->outstanding++;
	else
		p->err = rc;
}

/* Contact: * with Expires: 0: every binding of the AOR goes. */
static void remove_all(struct core *core, struct txn *st, struct sip_msg *m, const char *aor_key,
		       const char *info)
{
	struct loc_aor *aor = location_find(core->loc, view_from_cstr(aor_key));

	for (struct loc_binding *b = aor ? aor->head : NULL; b; b = b->next) {
		if (view_eq_cstr(m->call_id, loc_call_id(b)) && m->cseq.number <= b->cseq) {
			reply_text(core, st, 400, "CSeq Not Higher Than The Registration's");
			return;
		}
	}
	if (!aor) {
		reply_ok(core, st, aor_key, info);
		return;
	}
	while (aor->count > 1)
		location_remove(core->loc, aor->head);
	location_remove(core->loc, aor->head); /* the AOR goes with it */
	if (!core->store) {
		reply_ok(core, st, aor_key, info);
		return;
	}
	struct reg_pending *p = pending_new(core, st, aor_key, info);
	if (!p) {
		reply_text(core, st, 500, "Out Of Memory");
		return;
	}
	pending_queue(p, store_binding_del_aor(core->store, aor_key, on_stored, p));
	on_stored(0, p); /* drop the hold */
}

/* Apply the checked changes and answer (now, or once stored). */
static void apply(struct core *core, struct txn *st, struct tp_packet *pkt, const char *aor_key,
		  const char *info, const struct reg_change *ch, size_t n)
{
	struct sip_msg *m = &pkt->msg;
	struct view ua = sip_msg_user_agent(m);
	char path[STORE_URI_MAX];
	int64_t now = core_now_s();
	struct reg_pending *p = NULL;

	if (!path_join(m, path, sizeof(path))) {
		reply_text(core, st, 400, "Path Too Long");
		return;
	}
	if (ua.len >= STORE_URI_MAX)
		ua.len = STORE_URI_MAX - 1;
	if (core->store) {
		p = pending_new(core, st, aor_key, info);
		if (!p) {
			reply_text(core, st, 500, "Out Of Memory");
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct sip_contact *c = ch[i].c;
		struct loc_aor *aor = location_find(core->loc, view_from_cstr(aor_key));
		struct loc_binding *old = location_binding_find(aor, &c->addr.uri);
		char old_contact[STORE_URI_MAX] = "";

		if (old)
			snprintf(old_contact, sizeof(old_contact), "%s", loc_contact(old));
		if (ch[i].expires == 0) {
			if (!old)
				continue;
			location_remove(core->loc, old);
			if (p)
				pending_queue(p, store_binding_del(core->store, aor_key, old_contact,
								   on_stored, p));
			continue;
		}
		struct loc_binding_spec spec = {
			.contact = c->addr.uri_raw,
			.path = view_from_cstr(path),
			.instance = view_is_null(c->instance) ? VIEW_LIT("") : c->instance,
			.reg_id = c->has_reg_id ? c->reg_id : 0,
			.q = c->has_q ? c->q : 1000,
			.expires_at = now + ch[i].expires,
			.call_id = m->call_id,
			.cseq = m->cseq.number,
			.proto = pkt->proto,
			.source = pkt->src,
		};
		struct loc_binding *b;
		int rc = location_put(core->loc, view_from_cstr(aor_key), &spec, now, &b);
		if (rc != 0) {
			log_error("cannot keep binding %.*s of %s: %s", (int)c->addr.uri_raw.len,
				  c->addr.uri_raw.p, aor_key, strerror(rc));
			if (p)
				p->err = rc;
			else
				reply_text(core, st, 500, "Out Of Memory");
			if (!p)
				return;
			continue;
		}
		if (!p)
			continue;
		if (old_contact[0] && strcmp(old_contact, loc_contact(b)) != 0)
			pending_queue(p, store_binding_del(core->store, aor_key, old_contact, on_stored,
							   p));
		struct store_binding *sb = store_binding_new();
		if (!sb) {
			p->err = ENOMEM;
			continue;
		}
		char ua_text[STORE_URI_MAX];
		struct text t;
		text_init(&t, ua_text, sizeof(ua_text));
		text_add(&t, ua.p ? ua.p : "", ua.len < sizeof(ua_text) ? ua.len : sizeof(ua_text) - 1);
		location_binding_to_store(b, ua_text, sb);
		pending_queue(p, store_binding_queue(core->store, sb, on_stored, p));
	}
	if (p)
		on_stored(0, p); /* drop the hold: answers now if nothing was queued */
	else
		reply_ok(core, st, aor_key, info);
}

static bool valid_user(const char *user, size_t len)
{
	return len > 0 && memchr(user, '\0', len) == NULL && memchr(user, '@', len) == NULL;
}

/* Steps 6-9 for the contacts cs[0..n): every check first, then the
 * changes. Under the location lock. */
static void check_and_apply(struct core *core, struct txn *st, struct tp_packet *pkt,
			    const char *aor_key, const char *info, const struct sip_contact *cs,
			    size_t n, bool has_hexp, uint32_t hexp)
{
	struct sip_msg *m = &pkt->msg;
	struct reg_change ch[SIP_MAX_LIST];
	char extra[REG_REPLY_MAX], src[STORE_ADDR_MAX];

	struct loc_aor *aor = location_find(core->loc, view_from_cstr(aor_key));
	long count = aor ? (long)aor->count : 0;
	const struct core_config *cfg = &core->cfg;
	for (size_t i = 0; i < n; i++) {
		const struct sip_contact *c = &cs[i];
		uint32_t e = c->has_expires ? c->expires : has_hexp ? hexp : cfg->default_expires_s;

		if (c->addr.uri.scheme != SIP_URI_SIP && c->addr.uri.scheme != SIP_URI_SIPS) {
			reply_text(core, st, 400, "Bad Contact header: not a sip or sips URI");
			return;
		}
		if (c->addr.uri_raw.len >= STORE_URI_MAX ||
		    (!view_is_null(c->instance) && c->instance.len >= STORE_URI_MAX)) {
			reply_text(core, st, 400, "Bad Contact header: too long");
			return;
		}
		if (e != 0 && e < cfg->min_expires_s) {
			snprintf(extra, sizeof(extra), "Min-Expires: %u\r\n", cfg->min_expires_s);
			core_reply(core, st, 423, NULL, view_from_cstr(extra));
			return;
		}
		if (e > cfg->max_expires_s)
			e = cfg->max_expires_s;
		struct loc_binding *old = location_binding_find(aor, &c->addr.uri);
		if (old && view_eq_cstr(m->call_id, loc_call_id(old)) && m->cseq.number <= old->cseq) {
			reply_text(core, st, 400, "CSeq Not Higher Than The Registration's");
			return;
		}
		if (old && e == 0)
			count--;
		else if (!old && e != 0)
			count++;
		ch[i] = (struct reg_change){ .c = c, .expires = e };
	}
	if (m->call_id.len >= STORE_CALLID_MAX) {
		reply_text(core, st, 400, "Bad Call-ID header: too long");
		return;
	}
	if (count > (long)cfg->max_bindings) {
		snprintf(extra, sizeof(extra), "Too Many Bindings: At Most %u Per Address-of-Record",
			 cfg->max_bindings);
		source_text(pkt, src, sizeof(src));
		log_info("REGISTER %s from %s refused: more than %u bindings", aor_key, src,
			 cfg->max_bindings);
		reply_text(core, st, 403, extra);
		return;
	}
	apply(core, st, pkt, aor_key, info, ch, n);
}

void registrar_request(struct core *core, struct txn *st, struct tp_packet *pkt)
{
	struct sip_msg *m = &pkt->msg;
	struct sip_error err = { 400, "Bad Request" };
	char user[STORE_USER_MAX], aor_key[STORE_AOR_MAX], src[STORE_ADDR_MAX];
	const struct sip_contact *cs;
	struct auth_result ar;
	const char *domain;
	uint32_t hexp = 0;
	bool has_hexp;
	size_t n;
	long ulen;
	int rc;

	/* 0: the headers the registrar reads must decode, whoever asks */
	rc = sip_msg_contacts(m, &cs, &n, &err);
	if (rc == 0) {
		rc = sip_msg_expires(m, &hexp, &err);
		has_hexp = rc == 0;
		if (rc == ENOENT)
			rc = 0;
	}
	if (rc != 0) {
		reply_text(core, st, rc == EBADMSG ? (unsigned)err.status : 500,
			   rc == EBADMSG ? err.reason : "Out Of Memory");
		return;
	}

	/* 1, 2: the AOR */
	if (m->to.uri.scheme != SIP_URI_SIP && m->to.uri.scheme != SIP_URI_SIPS) {
		reply_text(core, st, 400, "Bad To header: not a sip or sips URI");
		return;
	}
	if (view_is_null(m->to.uri.user) || m->to.uri.user.len == 0) {
		reply_text(core, st, 400, "Bad To header: no user part");
		return;
	}
	domain = core_uri_domain(core, &m->to.uri);
	if (!domain || !core_uri_domain(core, &m->ruri)) {
		reply_text(core, st, 403, "Domain Not Served");
		return;
	}
	ulen = sip_unescape(m->to.uri.user, user, sizeof(user) - 1);
	if (ulen < 0 || !valid_user(user, (size_t)ulen)) {
		reply_text(core, st, 400, "Bad To header: bad user part");
		return;
	}
	user[ulen] = '\0';
	if (!core_aor_key(aor_key, sizeof(aor_key), view_make(user, (size_t)ulen), domain)) {
		reply_text(core, st, 400, "Bad To header: address-of-record too long");
		return;
	}

	/* 3, 4: who is asking */
	auth_check(core->auth, m, SIP_HDR_AUTHORIZATION, view_from_cstr(domain),
		   (uint64_t)core_now_s(), &ar);
	if (ar.verdict != AUTH_OK) {
		if (strcmp(ar.why, "no credentials") != 0) {
			source_text(pkt, src, sizeof(src));
			log_info("REGISTER %s: authentication failed for user '%.*s' from %s: %s",
				 aor_key, (int)ar.user.len, ar.user.p ? ar.user.p : "", src, ar.why);
		}
		if (ar.verdict == AUTH_BAD_REQUEST)
			reply_text(core, st, 400, ar.why);
		else
			challenge(core, st, domain, ar.verdict == AUTH_STALE);
		return;
	}
	if (!view_eq(ar.user, view_make(user, (size_t)ulen))) {
		source_text(pkt, src, sizeof(src));
		log_info("REGISTER %s: user '%.*s' from %s may not register it", aor_key,
			 (int)ar.user.len, ar.user.p, src);
		reply_text(core, st, 403, "Not Your Address-of-Record");
		return;
	}

	/* 5: what is asked */
	if (n == 0) {
		reply_ok(core, st, aor_key, ar.info);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!cs[i].star)
			continue;
		if (n != 1) {
			reply_text(core, st, 400, "Bad Contact header: * must be alone");
			return;
		}
		if (!has_hexp || hexp != 0 || (cs[i].has_expires && cs[i].expires != 0)) {
			reply_text(core, st, 400, "Bad Contact header: * needs Expires: 0");
			return;
		}
		location_lock(core->loc);
		remove_all(core, st, m, aor_key, ar.info);
		location_unlock(core->loc);
		return;
	}

	/* 6-9 see and change the AOR's bindings as one step: another worker
	 * loop may be registering the same AOR */
	location_lock(core->loc);
	check_and_apply(core, st, pkt, aor_key, ar.info, cs, n, has_hexp, hexp);
	location_unlock(core->loc);
}

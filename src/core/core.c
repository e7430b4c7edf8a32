/*
 * core.c - request handling as a server (RFC 3261 §8.2, §16.3, §11).
 *
 * Order of checks, each answered with its own status and reason:
 *   1. Max-Forwards 0 → 483 (an OPTIONS to sipd itself is answered instead,
 *      RFC 3261 §16.3 step 3 allows it; pings often use Max-Forwards 0)
 *   2. Request-URI scheme other than sip/sips → 416
 *   3. unknown method → 501 with Allow
 *   4. Require / Proxy-Require with an option sipd lacks → 420 with
 *      Unsupported (never for ACK and CANCEL, RFC 3261 §8.2.2.3)
 *   5. OPTIONS to sipd → 200 with Allow, Accept, Supported (§11.2)
 *   6. REGISTER → the registrar (registrar.c)
 *   7. anything else → 501, saying what is not there yet
 * A header that fails to decode when read is answered 400 with its name.
 *
 * "To sipd itself" here means a Request-URI without a user part; with the
 * proxy, a URI that names a served domain or an own address (DESIGN.md §4,
 * core_uri_domain) will be told apart from a user's.
 *
 * The core also owns what the registrar and (later) the proxy share: the
 * subscribers in memory (reloaded when another process changes them), the
 * location service, the digest state and sipd's own addresses.
 */
#include "core/core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/obj.h"
#include "base/random.h"
#include "base/siphash.h"
#include "base/text.h"
#include "core/core_int.h"
#include "core/proxy.h"
#include "sip/msg.h"
#include "sip/response.h"

#define CORE_ACCEPT "application/sdp"
#define CORE_EXTRA_MAX 1024
#define CORE_USERS_POLL_MS 1000
#define CORE_TIMER_C_MS 180000 /* RFC 3261 §16.6 step 11: more than 3 minutes */

int64_t core_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static bool self_uri(const struct sip_uri *uri, void *arg)
{
	return core_uri_is_self(arg, uri);
}

static int ha1_lookup(struct view user, struct view realm, enum digest_alg alg,
		      char ha1[DIGEST_HEX_MAX], void *arg)
{
	struct core *core = arg;
	return users_ha1(core->users, user, realm, alg, ha1);
}

/* Reload the users when another process (the CLI) changed them. */
static void on_users_timer(struct timer *timer, void *arg)
{
	struct core *core = arg;
	uint64_t rev = store_users_rev(core->store);

	if (rev != core->users_rev) {
		int rc = users_load(core->users, core->store);
		if (rc == 0) {
			core->users_rev = rev;
			log_info("subscribers reloaded: %zu user(s)", users_count(core->users));
		} else {
			log_warn("cannot reload the subscribers: %s", strerror(rc));
		}
	}
	timer_start(loop_timers(core->loop), timer, core->cfg.users_poll_ms, on_users_timer, core);
}

struct users_job {
	struct users *users;
	struct store *store; /* its own connection */
	int rc;
};

static void *users_job_run(void *arg)
{
	struct users_job *job = arg;
	job->rc = users_load(job->users, job->store);
	return NULL;
}

/*
 * Users and bindings at start: the users on a second thread with its own
 * database connection while this one loads the bindings (a million of
 * each load in about half the time). Falls back to one after the other.
 */
static int load_all(struct core *core, struct store *store, size_t *bindings)
{
	struct users_job job = { .users = core->users, .rc = 0 };
	pthread_t thread;
	bool threaded = false;
	int rc;

	if (store_open_again(store, &job.store) == 0) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		threaded = pthread_create(&thread, NULL, users_job_run, &job) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!threaded)
			store_close(job.store);
	}
	if (!threaded)
		job.rc = users_load(core->users, store);
	rc = location_load(core->loc, core_now_s(), bindings);
	if (threaded) {
		pthread_join(thread, NULL);
		store_close(job.store);
	}
	return rc != 0 ? rc : job.rc;
}

static void config_defaults(struct core_config *c)
{
	if (!c->min_expires_s)
		c->min_expires_s = 60;
	if (!c->max_expires_s)
		c->max_expires_s = 3600;
	if (c->max_expires_s < c->min_expires_s)
		c->max_expires_s = c->min_expires_s;
	if (!c->default_expires_s)
		c->default_expires_s = 3600;
	if (c->default_expires_s < c->min_expires_s)
		c->default_expires_s = c->min_expires_s;
	if (c->default_expires_s > c->max_expires_s)
		c->default_expires_s = c->max_expires_s;
	if (!c->max_bindings)
		c->max_bindings = 10;
	if (!c->nonce_lifetime_s)
		c->nonce_lifetime_s = 300;
	if (!c->users_poll_ms)
		c->users_poll_ms = CORE_USERS_POLL_MS;
	if (!c->t1_ms)
		c->t1_ms = TXN_T1_MS;
	if (!c->timer_c_ms)
		c->timer_c_ms = CORE_TIMER_C_MS;
}

/* The bytes of an IP literal host (IPv6 with or without brackets): its
 * family, or 0 for a name. */
static int host_ip(struct view host, uint8_t ip[16])
{
	if (sip_ipv4_parse(host, ip))
		return AF_INET;
	if (sip_ipv6_reference_parse(host, ip) || sip_ipv6_parse(host, ip))
		return AF_INET6;
	return 0;
}

int core_alloc(struct core **out, const struct core_config *cfg, struct loop *loop,
	       struct store *store)
{
	struct core *core;
	int rc;

	if (!cfg || cfg->domain_count == 0 || cfg->domain_count > CORE_MAX_DOMAINS || !loop)
		return EINVAL;
	core = calloc(1, sizeof(*core));
	if (!core)
		return ENOMEM;
	core->cfg = *cfg;
	config_defaults(&core->cfg);
	for (unsigned i = 0; i < cfg->domain_count; i++) {
		struct core_domain *d = &core->domain[i];
		snprintf(d->name, sizeof(d->name), "%s", cfg->domains[i]);
		core->cfg.domains[i] = d->name;
		d->len = strlen(d->name);
		d->family = host_ip(view_make(d->name, d->len), d->ip);
	}
	core->loop = loop;
	core->store = store;
	core->worker_count = 1;
	timer_init(&core->users_timer);
	struct auth_config acfg = { .nonce_lifetime_s = core->cfg.nonce_lifetime_s,
				    .allow_no_qop = core->cfg.allow_no_qop,
				    .algorithm_count = core->cfg.algorithm_count,
				    .self_uri = self_uri,
				    .self_arg = core };
	memcpy(acfg.algorithms, core->cfg.algorithms, sizeof(acfg.algorithms));
	rc = random_bytes(&core->tag_key, sizeof(core->tag_key));
	if (rc == 0)
		rc = digest_nonce_key_init(&core->dialog_key);
	if (rc == 0)
		rc = users_alloc(&core->users);
	if (rc == 0)
		rc = location_alloc(&core->loc, loop_timers(loop), store);
	if (rc == 0)
		rc = auth_alloc(&core->auth, &acfg, ha1_lookup, core);
	if (rc == 0)
		rc = proxy_alloc(&core->proxy, core);
	if (rc == 0 && store) {
		size_t n = 0;
		core->users_rev = store_users_rev(store);
		rc = load_all(core, store, &n);
		if (rc == 0) {
			log_info("%zu user(s), %zu binding(s) loaded", users_count(core->users), n);
			timer_start(loop_timers(loop), &core->users_timer, core->cfg.users_poll_ms,
				    on_users_timer, core);
		}
	}
	if (rc != 0) {
		core_free(core);
		return rc;
	}
	*out = core;
	return 0;
}

int core_alloc_worker(struct core **out, struct core *first, struct loop *loop)
{
	struct core *core;
	int rc;

	if (!first || first->first || !loop)
		return EINVAL;
	core = calloc(1, sizeof(*core));
	if (!core)
		return ENOMEM;
	core->cfg = first->cfg;
	memcpy(core->domain, first->domain, sizeof(core->domain));
	for (unsigned i = 0; i < core->cfg.domain_count; i++)
		core->cfg.domains[i] = core->domain[i].name;
	core->first = first;
	core->loop = loop;
	core->store = first->store;
	core->users = first->users;
	core->loc = first->loc;
	core->auth = first->auth;
	core->worker_count = 1;
	timer_init(&core->users_timer);
	memcpy(core->self, first->self, sizeof(core->self));
	core->self_count = first->self_count;
	rc = random_bytes(&core->tag_key, sizeof(core->tag_key));
	if (rc == 0)
		rc = proxy_alloc(&core->proxy, core);
	if (rc != 0) {
		core_free(core);
		return rc;
	}
	*out = core;
	return 0;
}

void core_set_workers(struct core *core, struct core **all, unsigned count, unsigned index)
{
	core->workers = all;
	core->worker_count = count;
	core->worker = index;
}

void core_free(struct core *core)
{
	if (!core)
		return;
	timer_cancel(&core->users_timer);
	proxy_free(core->proxy);
	registrar_free_pending(core);
	if (!core->first) {
		location_free(core->loc);
		auth_free(core->auth);
		users_free(core->users);
	}
	explicit_bzero(&core->dialog_key, sizeof(core->dialog_key));
	free(core);
}

const struct digest_nonce_key *core_dialog_key(const struct core *core)
{
	return &(core->first ? core->first : core)->dialog_key;
}

size_t core_user_count(const struct core *core)
{
	return users_count(core->users);
}

size_t core_binding_count(const struct core *core)
{
	return location_binding_count(core->loc);
}

/* ---- own addresses and domains ---------------------------------------- */

static void self_add(struct core *core, int family, const void *ip, uint16_t port)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < core->self_count; i++)
		if (core->self[i].family == family && core->self[i].port == port &&
		    memcmp(core->self[i].ip, ip, len) == 0)
			return;
	if (core->self_count == CORE_SELF_MAX) {
		log_warn("more than %d own addresses: the rest are not recognised in URIs",
			 CORE_SELF_MAX);
		return;
	}
	struct core_self *s = &core->self[core->self_count++];
	memset(s, 0, sizeof(*s));
	s->family = family;
	memcpy(s->ip, ip, len);
	s->port = port;
}

int core_add_listener(struct core *core, enum tp_proto proto, const struct tp_addr *bound)
{
	static const uint8_t any6[16];
	uint16_t port = tp_addr_port(bound);
	int family = bound->u.sa.sa_family;
	const void *ip = family == AF_INET ? (const void *)&bound->u.in.sin_addr
					   : (const void *)&bound->u.in6.sin6_addr;
	bool wildcard = family == AF_INET ? bound->u.in.sin_addr.s_addr == htonl(INADDR_ANY)
					  : memcmp(ip, any6, 16) == 0;
	struct ifaddrs *ifs, *ifa;

	(void)proto;
	if (!wildcard) {
		self_add(core, family, ip, port);
		return 0;
	}
	if (getifaddrs(&ifs) != 0)
		return errno;
	for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			self_add(core, family, &((struct sockaddr_in *)(void *)ifa->ifa_addr)->sin_addr,
				 port);
		else
			self_add(core, family,
				 &((struct sockaddr_in6 *)(void *)ifa->ifa_addr)->sin6_addr, port);
	}
	freeifaddrs(ifs);
	return 0;
}

bool core_aor_key(char *out, size_t size, struct view user, const char *domain)
{
	struct text t;

	text_init(&t, out, size);
	text_view(&t, user);
	text_cstr(&t, "@");
	text_cstr(&t, domain);
	return !t.over;
}

const char *core_uri_domain(const struct core *core, const struct sip_uri *uri)
{
	uint8_t ip[16];
	int family;

	if (uri->scheme != SIP_URI_SIP && uri->scheme != SIP_URI_SIPS)
		return NULL;
	/* the decoder told a name from an address already */
	family = uri->host_type == SIP_HOST_NAME ? 0 : host_ip(uri->host, ip);
	for (unsigned i = 0; i < core->cfg.domain_count; i++) {
		const struct core_domain *d = &core->domain[i];
		if (uri->host.len == d->len && view_eq_nocase(uri->host, view_make(d->name, d->len)))
			return d->name;
		if (family && d->family == family &&
		    memcmp(ip, d->ip, family == AF_INET ? 4 : 16) == 0)
			return d->name;
	}
	if (!family)
		return NULL;
	uint16_t port = uri->has_port ? uri->port : uri->scheme == SIP_URI_SIPS ? 5061 : 5060;
	for (unsigned i = 0; i < core->self_count; i++)
		if (core->self[i].family == family && core->self[i].port == port &&
		    memcmp(core->self[i].ip, ip, family == AF_INET ? 4 : 16) == 0)
			return core->domain[0].name;
	return NULL;
}

bool core_addr_is_self(const struct core *core, const struct tp_addr *addr)
{
	int family = addr->u.sa.sa_family;
	const void *ip = family == AF_INET ? (const void *)&addr->u.in.sin_addr
					   : (const void *)&addr->u.in6.sin6_addr;
	uint16_t port = tp_addr_port(addr);

	for (unsigned i = 0; i < core->self_count; i++)
		if (core->self[i].family == family && core->self[i].port == port &&
		    memcmp(core->self[i].ip, ip, family == AF_INET ? 4 : 16) == 0)
			return true;
	return false;
}

bool core_uri_is_self(const struct core *core, const struct sip_uri *uri)
{
	if (uri->scheme != SIP_URI_SIP && uri->scheme != SIP_URI_SIPS)
		return false;
	if (!view_is_null(uri->user) && uri->user.len > 0)
		return false;
	return core_uri_domain(core, uri) != NULL;
}

void core_attach(struct core *core, struct transport *tp, struct txn_layer *txn)
{
	core->tp = tp;
	core->txn = txn;
}

int core_send(struct core *core, const struct tp_dest *dest, const struct iovec *iov, size_t n)
{
	if (!core->tp)
		return ENOTCONN;
	return tp_send(core->tp, dest, iov, n);
}

struct txn_layer *core_txn_layer(struct core *core)
{
	return core->txn;
}

void core_log_final(struct core *core, const struct tp_packet *req, unsigned status,
		    struct view reason)
{
	const struct sip_msg *m = &req->msg;

	if (!core->cfg.log_transactions || !log_level_enabled(LOG_INFO))
		return;
	if (view_is_null(reason) || reason.len == 0)
		reason = view_from_cstr(sip_reason_phrase(status));
	uint64_t now = loop_now_ms(core->loop);
	log_info("%.*s from %.*s to %.*s: %u %.*s in %llu ms", (int)m->method.len, m->method.p,
		 (int)m->from.uri_raw.len, m->from.uri_raw.p, (int)m->to.uri_raw.len, m->to.uri_raw.p,
		 status, (int)reason.len, reason.p,
		 (unsigned long long)(now > req->received_ms ? now - req->received_ms : 0));
}

/* ---- answers ---------------------------------------------------------- */

static void new_tag(struct core *core, char tag[CORE_TAG_LEN + 1])
{
	uint64_t counter = ++core->tag_counter;
	uint64_t h = siphash24(&core->tag_key, &counter, sizeof(counter));
	struct text t;
	text_init(&t, tag, CORE_TAG_LEN + 1);
	text_hex(&t, h, CORE_TAG_LEN);
}

void core_reply(struct core *core, struct txn *st, unsigned status, const char *reason,
		struct view extra)
{
	char tag[CORE_TAG_LEN + 1];
	/* held: a final answer may release the transaction's request */
	struct tp_packet *pkt = txn_request(st);

	if (pkt)
		obj_ref(pkt);
	new_tag(core, tag);
	int rc = txn_server_reply_simple(st, status, reason, extra.p ? extra : VIEW_LIT(""),
					 view_make(tag, CORE_TAG_LEN));
	if (rc != 0 && pkt)
		log_warn("cannot answer %.*s (Call-ID %.*s): %s", (int)pkt->msg.method.len,
			 pkt->msg.method.p, (int)pkt->msg.call_id.len, pkt->msg.call_id.p, strerror(rc));
	else if (pkt && status >= 200)
		core_log_final(core, pkt, status, view_from_cstr(reason ? reason : ""));
	if (pkt)
		obj_unref(pkt);
}

static void reply(struct core *core, struct txn *st, unsigned status, const char *reason,
		  const char *extra)
{
	core_reply(core, st, status, reason, view_from_cstr(extra ? extra : ""));
}

static bool to_self(const struct sip_msg *m)
{
	return (m->ruri.scheme == SIP_URI_SIP || m->ruri.scheme == SIP_URI_SIPS) &&
	       m->ruri.user.p == NULL;
}

/* The option tags sipd implements: Path (RFC 3327) at the registrar. */
static bool option_supported(struct view tag)
{
	return view_eq_lit_nocase(tag, "path");
}

/* 0 when every required option is supported; else the Unsupported line in
 * extra, or a decode error in err. */
static int check_require(struct sip_msg *m, char *extra, size_t size, struct sip_error *err)
{
	static const enum sip_hdr_id ids[] = { SIP_HDR_REQUIRE, SIP_HDR_PROXY_REQUIRE };
	size_t used = 0;
	bool missing = false;

	for (size_t k = 0; k < 2; k++) {
		const struct view *tags;
		size_t n;
		int rc = sip_msg_tokens(m, ids[k], &tags, &n, err);
		if (rc != 0)
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (option_supported(tags[i]))
				continue;
			int w = snprintf(extra + used, size - used, "%s%.*s", missing ? ", " : "Unsupported: ",
					 (int)tags[i].len, tags[i].p);
			if (w < 0 || (size_t)w >= size - used)
				return EMSGSIZE;
			used += (size_t)w;
			missing = true;
		}
	}
	if (!missing)
		return 0;
	if (used + 3 > size)
		return EMSGSIZE;
	memcpy(extra + used, "\r\n", 3);
	return ENOTSUP;
}

static void on_request(struct txn *st, struct tp_packet *pkt, void *arg)
{
	struct core *core = arg;
	struct sip_msg *m = &pkt->msg;
	struct sip_error err = { 400, "Bad Request" };
	char extra[CORE_EXTRA_MAX];
	bool self = to_self(m);

	if (m->has_max_forwards && m->max_forwards == 0 &&
	    !(m->method_id == SIP_METHOD_OPTIONS && self)) {
		reply(core, st, 483, NULL, NULL);
		return;
	}
	if (m->ruri.scheme != SIP_URI_SIP && m->ruri.scheme != SIP_URI_SIPS) {
		reply(core, st, 416, NULL, NULL);
		return;
	}
	if (m->method_id == SIP_METHOD_UNKNOWN) {
		reply(core, st, 501, NULL, "Allow: " CORE_ALLOW "\r\n");
		return;
	}
	if (m->method_id != SIP_METHOD_CANCEL) {
		int rc = check_require(m, extra, sizeof(extra), &err);
		if (rc == ENOTSUP) {
			reply(core, st, 420, NULL, extra);
			return;
		}
		if (rc != 0) {
			reply(core, st, 400, rc == EBADMSG ? err.reason : "Bad Require header", NULL);
			return;
		}
	}
	if (m->method_id == SIP_METHOD_OPTIONS && self) {
		reply(core, st, 200, NULL,
		      "Allow: " CORE_ALLOW "\r\nAccept: " CORE_ACCEPT "\r\nSupported: path\r\n");
		return;
	}
	if (m->method_id == SIP_METHOD_REGISTER)
		registrar_request(core, st, pkt);
	else
		proxy_request(core->proxy, st, pkt);
}

static void on_ack(struct tp_packet *pkt, void *arg)
{
	struct core *core = arg;
	/* the ACK for a 2xx: end to end, forwarded statelessly */
	proxy_ack(core->proxy, pkt);
}

static void on_cancel(struct txn *cancel_st, struct txn *invite_st, struct tp_packet *pkt,
		      void *arg)
{
	struct core *core = arg;
	(void)pkt;

	if (!invite_st) {
		reply(core, cancel_st, 481, NULL, NULL);
		return;
	}
	reply(core, cancel_st, 200, NULL, NULL);
	if (proxy_cancel(core->proxy, invite_st))
		return;
	if (txn_state(invite_st) == TXN_PROCEEDING)
		reply(core, invite_st, 487, NULL, NULL);
}

struct handover {
	struct core *core;
	struct tp_packet *pkt;
};

/* On the worker that sent the request: its client transaction's answer. */
static void handover_run(void *arg)
{
	struct handover *h = arg;
	txn_layer_receive(h->core->txn, h->pkt);
	obj_unref(h->pkt);
	free(h);
}

/* A response for a branch of another worker goes to that worker's loop
 * (a copy: the packet and its connection stay with this loop). */
static bool handed_over(struct core *core, struct tp_packet *pkt)
{
	unsigned w;
	struct handover *h;

	if (core->worker_count < 2 || !proxy_branch_worker(pkt->msg.via.branch, &w) ||
	    w == core->worker || w >= core->worker_count)
		return false;
	h = malloc(sizeof(*h));
	if (!h)
		return true; /* one allocation failure costs one message */
	h->core = core->workers[w];
	h->pkt = tp_packet_copy(pkt);
	log_debug("response %u %.*s handed to worker %u", pkt->msg.status,
		  (int)pkt->msg.via.branch.len, pkt->msg.via.branch.p, w);
	if (!h->pkt || loop_post(h->core->loop, handover_run, h) != 0) {
		if (h->pkt)
			obj_unref(h->pkt);
		free(h);
	}
	return true;
}

static void on_stray_response(struct tp_packet *pkt, void *arg)
{
	struct core *core = arg;

	if (handed_over(core, pkt))
		return;
	proxy_stray_response(core->proxy, pkt);
}

void core_txn_handlers(struct core *core, struct txn_handlers *h)
{
	memset(h, 0, sizeof(*h));
	h->request = on_request;
	h->ack = on_ack;
	h->cancel = on_cancel;
	h->stray_response = on_stray_response;
	h->arg = core;
}

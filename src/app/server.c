/*
 * server.c - start and run the server: one event loop, the listeners of
 * the configuration, the transaction layer and the core; stop on SIGINT or
 * SIGTERM.
 *
 * Start-up contract (DESIGN.md §5): once every listener is bound, one line
 * "listening PROTO ADDR:PORT" per listener and then "ready" go to standard
 * output (flushed), so scripts and tests can wait for them. A listener that
 * cannot be bound (port in use, address not local) or a database that
 * cannot be opened is a configuration error: one line on stderr, exit
 * status 2.
 *
 * First start: when the database holds no subscriber at all, users 100 and
 * 101 of the default domain are created with random passwords, and the
 * passwords, the domain and the address to register to are printed (before
 * "ready"), so that two phones can register at once.
 */
#include "app/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/loop.h"
#include "core/core.h"
#include "core/digest.h"
#include "store/store.h"
#include "transport/transport.h"
#include "txn/txn.h"

#define FIRST_PASSWORD_LEN 16

struct server {
	struct loop *loop;
	struct transport *tp;
	struct txn_layer *txn;
	struct core *core;
	struct store *store;
	char domain[CONFIG_DOMAIN_MAX];
	char first_users[2][STORE_USER_MAX + FIRST_PASSWORD_LEN + 2]; /* "100 PASSWORD" */
	unsigned first_user_count;
	char register_to[80]; /* "udp 192.0.2.1:5060" of the first listener */
};

static void on_packet(struct tp_packet *pkt, void *arg)
{
	struct server *s = arg;
	txn_layer_receive(s->txn, pkt);
}

static int on_send(const struct tp_dest *dest, const struct iovec *iov, size_t iov_count, void *arg)
{
	struct server *s = arg;
	return tp_send(s->tp, dest, iov, iov_count);
}

static void on_signal(int signo, void *arg)
{
	struct server *s = arg;
	log_info("signal %d: stopping", signo);
	loop_stop(s->loop);
}

static enum tp_proto proto_of(enum config_proto p)
{
	switch (p) {
	case CONFIG_TCP:
		return TP_TCP;
	case CONFIG_TLS:
		return TP_TLS;
	case CONFIG_WS:
		return TP_WS;
	case CONFIG_WSS:
		return TP_WSS;
	case CONFIG_UDP:
		break;
	}
	return TP_UDP;
}

static const char *proto_word(enum tp_proto p)
{
	static const char *const words[] = { "udp", "tcp", "tls", "ws", "wss" };
	return words[p];
}

/* The address a phone should register to for a listener: its own, or for
 * 0.0.0.0 / [::] the first address of that family that is not loopback
 * (loopback when there is none). */
static void register_address(const struct tp_addr *bound, char *out, size_t size)
{
	int family = bound->u.sa.sa_family;
	char ip[48];
	struct ifaddrs *ifs, *ifa;
	static const uint8_t any6[16];
	bool any = family == AF_INET ? bound->u.in.sin_addr.s_addr == htonl(INADDR_ANY)
				     : memcmp(&bound->u.in6.sin6_addr, any6, 16) == 0;

	tp_addr_ip_string(bound, ip, sizeof(ip));
	if (any) {
		snprintf(ip, sizeof(ip), "%s", family == AF_INET ? "127.0.0.1" : "::1");
		if (getifaddrs(&ifs) == 0) {
			for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
				if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != family ||
				    (ifa->ifa_flags & IFF_LOOPBACK))
					continue;
				struct tp_addr a;
				memcpy(&a.u.ss, ifa->ifa_addr,
				       family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6));
				a.len = family == AF_INET ? sizeof(struct sockaddr_in)
							  : sizeof(struct sockaddr_in6);
				if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&a.u.in6.sin6_addr))
					continue;
				tp_addr_ip_string(&a, ip, sizeof(ip));
				break;
			}
			freeifaddrs(ifs);
		}
	}
	snprintf(out, size, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, tp_addr_port(bound));
}

/* Bind every listener and print its line. Returns 0 or the exit status. */
static int bind_all(struct server *s, const struct config *cfg)
{
	for (unsigned i = 0; i < cfg->listen_count; i++) {
		const struct config_listen *l = &cfg->listen[i];
		enum tp_proto proto = proto_of(l->proto);
		struct tp_addr addr, bound;
		char ip[48];

		memcpy(&addr.u.ss, &l->addr, l->addr_len);
		addr.len = l->addr_len;
		int rc = transport_listen(s->tp, proto, &addr, &bound);
		if (rc == EPROTONOSUPPORT) {
			fprintf(stderr, "sipd: listen %s: %s is not supported yet\n", l->text,
				proto_word(proto));
			return 2;
		}
		if (rc != 0 && cfg->listen_is_default && addr.u.sa.sa_family == AF_INET6 &&
		    (rc == EAFNOSUPPORT || rc == EADDRNOTAVAIL)) {
			/* the default [::] listeners on a host without IPv6 */
			log_warn("no IPv6 here: not listening on %s", l->text);
			continue;
		}
		if (rc != 0) {
			fprintf(stderr, "sipd: cannot listen on %s: %s\n", l->text, strerror(rc));
			return 2;
		}
		rc = core_add_listener(s->core, proto, &bound);
		if (rc != 0)
			log_warn("cannot list the local addresses of %s: %s", l->text, strerror(rc));
		tp_addr_ip_string(&bound, ip, sizeof(ip));
		if (!s->register_to[0])
			register_address(&bound, s->register_to, sizeof(s->register_to));
		if (bound.u.sa.sa_family == AF_INET6)
			printf("listening %s [%s]:%u\n", proto_word(proto), ip, tp_addr_port(&bound));
		else
			printf("listening %s %s:%u\n", proto_word(proto), ip, tp_addr_port(&bound));
	}
	return 0;
}

/* First start: users 100 and 101 with random passwords. 0 or errno. */
static int create_first_users(struct server *s)
{
	static const char *const names[] = { "100", "101" };

	if (store_user_count(s->store) != 0)
		return 0;
	for (unsigned i = 0; i < 2; i++) {
		struct store_user u;
		char password[FIRST_PASSWORD_LEN + 1];
		struct view realm = view_from_cstr(s->domain);
		int rc = digest_random_text(password, FIRST_PASSWORD_LEN);

		if (rc != 0)
			return rc;
		memset(&u, 0, sizeof(u));
		snprintf(u.user, sizeof(u.user), "%s", names[i]);
		snprintf(u.domain, sizeof(u.domain), "%s", s->domain);
		digest_ha1(DIGEST_MD5, view_from_cstr(u.user), realm, view_from_cstr(password),
			   u.ha1_md5);
		digest_ha1(DIGEST_SHA256, view_from_cstr(u.user), realm, view_from_cstr(password),
			   u.ha1_sha256);
		digest_ha1(DIGEST_SHA512_256, view_from_cstr(u.user), realm,
			   view_from_cstr(password), u.ha1_sha512_256);
		rc = store_user_put(s->store, &u, false);
		if (rc != 0)
			return rc;
		snprintf(s->first_users[i], sizeof(s->first_users[i]), "%s %s", names[i], password);
		s->first_user_count++;
	}
	return 0;
}

static void print_first_users(const struct server *s)
{
	if (!s->first_user_count)
		return;
	printf("first start: created %u SIP users (manage them with 'sipd user add/del/list'):\n",
	       s->first_user_count);
	for (unsigned i = 0; i < s->first_user_count; i++) {
		char user[STORE_USER_MAX];
		const char *sp = strchr(s->first_users[i], ' ');
		snprintf(user, sizeof(user), "%.*s", (int)(sp - s->first_users[i]), s->first_users[i]);
		printf("  user %s  domain %s  password %s\n", user, s->domain, sp + 1);
	}
	printf("  register to %s (UDP or TCP) as sip:100@%s\n", s->register_to, s->domain);
}

/* proxy.redirect: "none", "all", or domains; a domain not served is
 * warned about and ignored. */
static void redirect_domains(const struct config *cfg, struct core_config *cc)
{
	const char *p = cfg->proxy_redirect;

	if (strcmp(p, "all") == 0) {
		cc->redirect_all = true;
		return;
	}
	if (strcmp(p, "none") == 0 || !p[0])
		return;
	while (*p) {
		size_t len = strcspn(p, ",");
		bool found = false;
		for (unsigned i = 0; i < cc->domain_count; i++) {
			if (strlen(cc->domains[i]) == len && strncmp(cc->domains[i], p, len) == 0) {
				cc->redirect[i] = true;
				found = true;
			}
		}
		if (!found)
			log_warn("proxy.redirect names %.*s, which is not a served domain", (int)len, p);
		p += len + (p[len] == ',');
	}
}

static uint32_t seconds(uint32_t ms)
{
	return ms / 1000;
}

int server_run(const struct config *cfg)
{
	struct server s;
	struct txn_handlers handlers;
	int status = 1, rc;

	memset(&s, 0, sizeof(s));
	signal(SIGPIPE, SIG_IGN);
	struct transport_config tcfg = {
		.max_message_size = cfg->max_message_size,
		.max_connections = cfg->max_connections,
		.max_connections_per_ip = cfg->max_connections_per_ip,
		.tcp_idle_timeout_ms = cfg->tcp_idle_timeout_ms,
		.tcp_message_timeout_ms = cfg->tcp_message_timeout_ms,
		.allow = CORE_ALLOW,
	};
	struct txn_config xcfg = { .t1_ms = cfg->t1_ms, .t2_ms = cfg->t2_ms, .t4_ms = cfg->t4_ms };

	char err[512];
	struct core_config ccfg = {
		.min_expires_s = seconds(cfg->min_expires_ms),
		.max_expires_s = seconds(cfg->max_expires_ms),
		.default_expires_s = seconds(cfg->default_expires_ms),
		.max_bindings = cfg->max_bindings,
		.nonce_lifetime_s = seconds(cfg->nonce_lifetime_ms),
		.allow_no_qop = cfg->allow_no_qop,
		.record_route = cfg->record_route,
		.foreign_callers = cfg->foreign_callers,
		.t1_ms = cfg->t1_ms,
		.timer_c_ms = cfg->timer_c_ms,
		.log_transactions = true,
	};

	/* "SHA-256,MD5": names config.c has checked */
	for (const char *a = cfg->auth_algorithms; *a && ccfg.algorithm_count < DIGEST_ALG_COUNT;) {
		size_t len = strcspn(a, ",");
		if (digest_alg_from_view(view_make(a, len), &ccfg.algorithms[ccfg.algorithm_count]))
			ccfg.algorithm_count++;
		a += len + (a[len] == ',');
	}
	if (cfg->workers > 1)
		log_warn("server.workers = %u: this version runs one event loop; the setting is "
			 "kept for the multi-loop server to come", cfg->workers);
	config_default_domain(cfg, s.domain, sizeof(s.domain));
	ccfg.domains[0] = s.domain;
	ccfg.domain_count = 1;
	for (unsigned i = 1; i < cfg->domain_count && i < CORE_MAX_DOMAINS; i++)
		ccfg.domains[ccfg.domain_count++] = cfg->domains[i];
	redirect_domains(cfg, &ccfg);

	rc = loop_alloc(&s.loop);
	if (rc != 0) {
		fprintf(stderr, "sipd: cannot start: %s\n", strerror(rc));
		return 1;
	}
	rc = store_open(&s.store, cfg->db, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "sipd: %s\n", rc == ENOMEM ? "out of memory" : err);
		status = 2;
		goto out;
	}
	rc = create_first_users(&s);
	if (rc != 0) {
		fprintf(stderr, "sipd: cannot create the first users: %s\n", strerror(rc));
		goto out;
	}
	rc = store_attach(s.store, s.loop);
	if (rc == 0)
		rc = transport_alloc(&s.tp, s.loop, &tcfg, on_packet, &s);
	if (rc == 0)
		rc = core_alloc(&s.core, &ccfg, s.loop, s.store);
	if (rc == 0) {
		core_txn_handlers(s.core, &handlers);
		rc = txn_layer_alloc(&s.txn, loop_timers(s.loop), &xcfg, on_send, &s, &handlers);
		if (rc == 0)
			core_attach(s.core, s.tp, s.txn);
	}
	if (rc == 0)
		rc = loop_signal(s.loop, SIGINT, on_signal, &s);
	if (rc == 0)
		rc = loop_signal(s.loop, SIGTERM, on_signal, &s);
	if (rc != 0) {
		fprintf(stderr, "sipd: cannot start: %s\n", strerror(rc));
		goto out;
	}
	status = bind_all(&s, cfg);
	if (status != 0)
		goto out;
	print_first_users(&s);
	printf("ready\n");
	fflush(stdout);
	log_info("sipd ready with %u listener(s); domain %s; %zu user(s), %zu binding(s)",
		 cfg->listen_count, s.domain, core_user_count(s.core), core_binding_count(s.core));
	rc = loop_run(s.loop);
	status = rc == 0 ? 0 : 1;
	if (rc != 0)
		log_error("event loop failed: %s", strerror(rc));
out:
	/* Transactions first: they hold packets that hold connections. The
	 * store next: queued writes are committed, unanswered registrations
	 * dropped (the core frees them, with the transactions they hold). */
	txn_layer_free(s.txn);
	store_close(s.store);
	core_free(s.core);
	transport_free(s.tp);
	loop_free(s.loop);
	fflush(stdout);
	return status;
}

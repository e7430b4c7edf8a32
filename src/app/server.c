/*
 * server.c - start and run the server: server.workers worker threads, each
 * with its event loop, its transport (every listener of the configuration
 * bound once per worker with SO_REUSEPORT), its transaction layer and its
 * core; the users, the location service and the store's writer are shared
 * (DESIGN.md §3). Worker 0 runs on the main thread and takes the signals:
 * SIGINT or SIGTERM stops every loop.
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
#include <pthread.h>
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

#define SERVER_MAX_WORKERS 16
/* rounds of running what the stopped loops posted to each other */
#define SERVER_DRAIN_ROUNDS 4

struct server;

struct worker {
	struct server *s;
	unsigned index;
	struct loop *loop;
	struct transport *tp;
	struct txn_layer *txn;
	struct core *core;
	pthread_t thread;
	bool running; /* its thread was started */
	int rc;       /* what loop_run returned */
};

struct server {
	struct worker w[SERVER_MAX_WORKERS];
	unsigned workers;
	struct transport *tps[SERVER_MAX_WORKERS];
	struct core *cores[SERVER_MAX_WORKERS];
	struct store *store;
	char domain[CONFIG_DOMAIN_MAX];
	char first_users[2][STORE_USER_MAX + FIRST_PASSWORD_LEN + 2]; /* "100 PASSWORD" */
	unsigned first_user_count;
	char register_to[80]; /* "udp 192.0.2.1:5060" of the first listener */
};

static void on_packet(struct tp_packet *pkt, void *arg)
{
	struct worker *w = arg;
	txn_layer_receive(w->txn, pkt);
}

static int on_send(const struct tp_dest *dest, const struct iovec *iov, size_t iov_count, void *arg)
{
	struct worker *w = arg;
	return tp_send(w->tp, dest, iov, iov_count);
}

static void on_signal(int signo, void *arg)
{
	struct server *s = arg;
	log_info("signal %d: stopping", signo);
	for (unsigned i = 1; i < s->workers; i++)
		(void)loop_stop_async(s->w[i].loop);
	loop_stop(s->w[0].loop);
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
		int rc = s->workers > 1 ? transport_probe(proto, &addr, &addr) : 0;
		if (rc == 0)
			rc = transport_listen(s->w[0].tp, proto, &addr, &bound);
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
		/* the other workers on the very address (port 0 picked one) */
		for (unsigned k = 1; k < s->workers && rc == 0; k++) {
			struct tp_addr same;
			rc = transport_listen(s->w[k].tp, proto, &bound, &same);
		}
		if (rc != 0) {
			fprintf(stderr, "sipd: cannot listen on %s with %u workers: %s\n", l->text,
				s->workers, strerror(rc));
			return 2;
		}
		for (unsigned k = 0; k < s->workers && rc == 0; k++)
			rc = core_add_listener(s->w[k].core, proto, &bound);
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

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->rc = loop_run(w->loop);
	if (w->rc != 0)
		log_error("event loop of worker %u failed: %s", w->index, strerror(w->rc));
	return NULL;
}

/* Workers 1.. on threads of their own, with every signal blocked (worker 0,
 * the main thread, takes them). 0 or errno. */
static int start_workers(struct server *s)
{
	sigset_t all, old;
	int rc = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 1; i < s->workers && rc == 0; i++) {
		rc = pthread_create(&s->w[i].thread, NULL, worker_main, &s->w[i]);
		s->w[i].running = rc == 0;
		if (rc == 0) {
			char name[16]; /* the kernel's limit, NUL included */
			snprintf(name, sizeof(name), "sipd-worker-%u", i % SERVER_MAX_WORKERS);
			(void)pthread_setname_np(s->w[i].thread, name);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Stop and join the worker threads, then run what the loops posted to
 * each other meanwhile (so nothing handed over is left unfreed). Returns
 * the first worker's loop error, or 0. */
static int stop_workers(struct server *s)
{
	int rc = 0;

	for (unsigned i = 1; i < s->workers; i++) {
		if (!s->w[i].running)
			continue;
		(void)loop_stop_async(s->w[i].loop);
		pthread_join(s->w[i].thread, NULL);
		s->w[i].running = false;
		if (s->w[i].rc != 0 && rc == 0)
			rc = s->w[i].rc;
	}
	for (unsigned round = 0; round < SERVER_DRAIN_ROUNDS; round++)
		for (unsigned i = 0; i < s->workers; i++)
			if (s->w[i].loop)
				loop_run_posted(s->w[i].loop);
	return rc;
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
	config_default_domain(cfg, s.domain, sizeof(s.domain));
	ccfg.domains[0] = s.domain;
	ccfg.domain_count = 1;
	for (unsigned i = 1; i < cfg->domain_count && i < CORE_MAX_DOMAINS; i++)
		ccfg.domains[ccfg.domain_count++] = cfg->domains[i];
	redirect_domains(cfg, &ccfg);

	s.workers = cfg->workers < 1 ? 1 : cfg->workers > SERVER_MAX_WORKERS ? SERVER_MAX_WORKERS
									    : cfg->workers;
	tcfg.reuseport = s.workers > 1;
	for (unsigned i = 0; i < s.workers; i++) {
		s.w[i].s = &s;
		s.w[i].index = i;
		rc = loop_alloc(&s.w[i].loop);
		if (rc != 0) {
			fprintf(stderr, "sipd: cannot start: %s\n", strerror(rc));
			goto out;
		}
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
	for (unsigned i = 0; i < s.workers && rc == 0; i++)
		rc = store_attach(s.store, s.w[i].loop);
	for (unsigned i = 0; i < s.workers && rc == 0; i++) {
		struct worker *w = &s.w[i];
		rc = transport_alloc(&w->tp, w->loop, &tcfg, on_packet, w);
		if (rc == 0)
			rc = i == 0 ? core_alloc(&w->core, &ccfg, w->loop, s.store)
				    : core_alloc_worker(&w->core, s.w[0].core, w->loop);
		if (rc == 0) {
			core_txn_handlers(w->core, &handlers);
			rc = txn_layer_alloc(&w->txn, loop_timers(w->loop), &xcfg, on_send, w,
					     &handlers);
			if (rc == 0)
				core_attach(w->core, w->tp, w->txn);
		}
		s.tps[i] = w->tp;
		s.cores[i] = w->core;
	}
	for (unsigned i = 0; i < s.workers && rc == 0; i++) {
		transport_set_siblings(s.w[i].tp, s.tps, s.workers);
		core_set_workers(s.w[i].core, s.cores, s.workers, i);
	}
	if (rc == 0)
		rc = loop_signal(s.w[0].loop, SIGINT, on_signal, &s);
	if (rc == 0)
		rc = loop_signal(s.w[0].loop, SIGTERM, on_signal, &s);
	if (rc != 0) {
		fprintf(stderr, "sipd: cannot start: %s\n", strerror(rc));
		goto out;
	}
	status = bind_all(&s, cfg);
	if (status != 0)
		goto out;
	rc = start_workers(&s);
	if (rc != 0) {
		fprintf(stderr, "sipd: cannot start the worker threads: %s\n", strerror(rc));
		status = 1;
		goto out;
	}
	print_first_users(&s);
	printf("ready\n");
	fflush(stdout);
	log_info("sipd ready with %u listener(s), %u worker(s); domain %s; %zu user(s), "
		 "%zu binding(s)", cfg->listen_count, s.workers, s.domain, core_user_count(s.w[0].core),
		 core_binding_count(s.w[0].core));
	rc = loop_run(s.w[0].loop);
	status = rc == 0 ? 0 : 1;
	if (rc != 0)
		log_error("event loop failed: %s", strerror(rc));
out:
	if (stop_workers(&s) != 0)
		status = 1;
	/* Transactions first: they hold packets that hold connections. The
	 * store next: queued writes are committed, unanswered registrations
	 * dropped (the cores free them, with the transactions they hold). */
	for (unsigned i = 0; i < s.workers; i++)
		txn_layer_free(s.w[i].txn);
	store_close(s.store);
	for (unsigned i = s.workers; i-- > 0;)
		core_free(s.w[i].core); /* the first core last: the others share its parts */
	for (unsigned i = 0; i < s.workers; i++)
		transport_free(s.w[i].tp);
	for (unsigned i = 0; i < s.workers; i++)
		loop_free(s.w[i].loop);
	fflush(stdout);
	return status;
}

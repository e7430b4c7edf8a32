/*
 * server.c - start and run the server: one event loop, the listeners of
 * the configuration, the transaction layer and the core; stop on SIGINT or
 * SIGTERM.
 *
 * Start-up contract (DESIGN.md §5): once every listener is bound, one line
 * "listening PROTO ADDR:PORT" per listener and then "ready" go to standard
 * output (flushed), so scripts and tests can wait for them. A listener that
 * cannot be bound (port in use, address not local) is a configuration error:
 * one line on stderr, exit status 2.
 */
#include "app/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/loop.h"
#include "core/core.h"
#include "transport/transport.h"
#include "txn/txn.h"

struct server {
	struct loop *loop;
	struct transport *tp;
	struct txn_layer *txn;
	struct core *core;
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
		tp_addr_ip_string(&bound, ip, sizeof(ip));
		if (bound.u.sa.sa_family == AF_INET6)
			printf("listening %s [%s]:%u\n", proto_word(proto), ip, tp_addr_port(&bound));
		else
			printf("listening %s %s:%u\n", proto_word(proto), ip, tp_addr_port(&bound));
	}
	return 0;
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

	rc = loop_alloc(&s.loop);
	if (rc == 0)
		rc = transport_alloc(&s.tp, s.loop, &tcfg, on_packet, &s);
	if (rc == 0)
		rc = core_alloc(&s.core);
	if (rc == 0) {
		core_txn_handlers(s.core, &handlers);
		rc = txn_layer_alloc(&s.txn, loop_timers(s.loop), &xcfg, on_send, &s, &handlers);
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
	printf("ready\n");
	fflush(stdout);
	log_info("sipd ready with %u listener(s)", cfg->listen_count);
	rc = loop_run(s.loop);
	status = rc == 0 ? 0 : 1;
	if (rc != 0)
		log_error("event loop failed: %s", strerror(rc));
out:
	/* transactions first: they hold packets that hold connections */
	txn_layer_free(s.txn);
	transport_free(s.tp);
	core_free(s.core);
	loop_free(s.loop);
	fflush(stdout);
	return status;
}

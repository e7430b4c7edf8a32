/*
 * core.h - the server's logic: one entry point per kind of event the
 * transaction layer reports (DESIGN.md §1).
 *
 * The core answers as a server what it can answer by itself (RFC 3261
 * §8.2, §16.3): OPTIONS to sipd and the refusals every request may get
 * (483, 416, 501, 420, 400); REGISTER goes to the registrar (registrar.c)
 * with digest authentication (auth.c) against the subscribers (users.c)
 * and the location service (location.c); other requests go to the stateful
 * proxy (proxy.c).
 */
#ifndef SIPD_CORE_CORE_H
#define SIPD_CORE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "core/digest.h"
#include "store/store.h"
#include "transport/transport.h"
#include "txn/txn.h"

/* The methods sipd accepts (the Allow header). */
#define CORE_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, " \
		   "REFER, INFO, UPDATE, PRACK, PUBLISH"

#define CORE_MAX_DOMAINS 16
#define CORE_DOMAIN_MAX 256

struct core_config {
	/* Served domains, lower case; [0] is the default domain. At least one. */
	const char *domains[CORE_MAX_DOMAINS];
	unsigned domain_count;
	/* Registrar (seconds). default_expires is clamped to [min, max]. */
	uint32_t min_expires_s;     /* 0 = 60 */
	uint32_t max_expires_s;     /* 0 = 3600 */
	uint32_t default_expires_s; /* 0 = 3600 */
	uint32_t max_bindings;      /* per AOR; 0 = 10 */
	/* Digest */
	uint32_t nonce_lifetime_s; /* 0 = 300 */
	bool allow_no_qop;
	enum digest_alg algorithms[DIGEST_ALG_COUNT]; /* offered, in order */
	unsigned algorithm_count;                     /* 0 = SHA-256, MD5 */
	/* How often the subscriber table is checked for changes by other
	 * processes (the CLI); ms, 0 = 1000. */
	uint32_t users_poll_ms;
	/* Proxy */
	bool record_route;    /* Record-Route INVITE, SUBSCRIBE, REFER */
	bool foreign_callers; /* other domains may call our users unchallenged */
	bool redirect_all;    /* 302 instead of proxying, every domain */
	bool redirect[CORE_MAX_DOMAINS]; /* ... or these (index into domains) */
	uint32_t t1_ms;       /* RFC 3261 T1; 0 = 500 */
	uint32_t timer_c_ms;  /* RFC 3261 timer C; 0 = 180000 */
	bool log_transactions; /* one info line per server transaction */
};

struct core;

/*
 * The core of one event loop. store may be NULL (nothing persisted, no
 * users: unit tests); otherwise it must be attached to loop already, and
 * the users and the bindings that have not expired are loaded from it.
 */
int core_alloc(struct core **core, const struct core_config *cfg, struct loop *loop,
	       struct store *store);
/*
 * The core of another worker loop: it shares first's users, location
 * service, authentication state and store (each guarded for the loops:
 * see users.h, location.h, auth.h, store.h) and has its own proxy state,
 * pending registrations and To-tag key. The store must be attached to loop
 * too. The users reload and the expiry sweep run on first's loop.
 */
int core_alloc_worker(struct core **core, struct core *first, struct loop *loop);
/* Every worker's core (index = worker), this one at index; the array must
 * outlive the cores. A response to a request sent by another worker (the
 * kernel spreads datagrams over the SO_REUSEPORT sockets by address, not
 * by transaction) is handed to that worker's loop. Before the loops run. */
void core_set_workers(struct core *core, struct core **all, unsigned count, unsigned index);
/* Answers nothing more; pending registrations are dropped unanswered.
 * Call after the transaction layer is freed and the store closed; a first
 * core after every worker core that shares its parts. */
void core_free(struct core *core);

/* The transport and the transaction layer the proxy sends through (after
 * both exist; the layer is made with core_txn_handlers). */
void core_attach(struct core *core, struct transport *tp, struct txn_layer *txn);

/* A listener sipd bound: URIs naming one of its addresses (every local
 * address for 0.0.0.0 and [::]) at its port name the default domain
 * (DESIGN.md §4). 0 or ENOMEM. */
int core_add_listener(struct core *core, enum tp_proto proto, const struct tp_addr *bound);

/* The handlers to give txn_layer_alloc; arg is the core. */
void core_txn_handlers(struct core *core, struct txn_handlers *h);

/* Counts, for start-up lines and tests. */
size_t core_user_count(const struct core *core);
size_t core_binding_count(const struct core *core);

#endif

/*
 * core_int.h - what the parts of the core (core.c, registrar.c) share.
 * Not for other layers.
 */
#ifndef SIPD_CORE_CORE_INT_H
#define SIPD_CORE_CORE_INT_H

#include "base/siphash.h"
#include "base/timer.h"
#include "core/auth.h"
#include "core/core.h"
#include "core/location.h"
#include "core/users.h"
#include "sip/msg.h"
#include "transport/transport.h"

#define CORE_TAG_LEN 16
#define CORE_SELF_MAX 64 /* own (address, port) pairs remembered */

struct core_self {
	int family; /* AF_INET, AF_INET6 */
	uint8_t ip[16];
	uint16_t port;
};

struct reg_pending; /* proxy.c: the worker loop whose branch this is (sipd's branches carry
 * it), or false for a branch that is not sipd's. */
bool proxy_branch_worker(struct view branch, unsigned *worker);

/* registrar.c */
struct proxy;       /* proxy.c */

struct core {
	struct core_config cfg;
	/* the served domains, read once when the core is made */
	struct core_domain {
		char name[CORE_DOMAIN_MAX];
		size_t len;     /* strlen(name) */
		int family;     /* a domain written as an IP address: AF_INET or
				   AF_INET6, and its bytes; else 0 */
		uint8_t ip[16];
	} domain[CORE_MAX_DOMAINS];
	struct siphash_key tag_key; /* random: To tags cannot be guessed */
	/* random at start, the first core's for every worker (core_dialog_key):
	 * signs the dialogs sipd Record-Routes (proxy.c); secret */
	struct digest_nonce_key dialog_key;
	uint64_t tag_counter;

	struct loop *loop;
	struct store *store; /* NULL: nothing persisted */
	struct users *users;
	struct location *loc;
	struct auth *auth;

	struct timer users_timer;
	uint64_t users_rev;

	struct core_self self[CORE_SELF_MAX];
	unsigned self_count;

	struct reg_pending *pending; /* registrations waiting for the store */

	struct transport *tp;  /* core_attach */
	struct txn_layer *txn; /* core_attach */
	struct proxy *proxy;

	/* worker loops: the first core owns users, loc, auth and the users
	 * timer; the others (core_alloc_worker) share them */
	struct core *first;    /* NULL for the first */
	struct core **workers; /* core_set_workers: every worker's core */
	unsigned worker_count; /* 1 when alone */
	unsigned worker;       /* this core's index in workers[] */
};

/* Answer st: a fresh To tag, the extra header lines (each ending in CRLF,
 * may be empty), reason NULL = the standard phrase. Logs a failure. */
void core_reply(struct core *core, struct txn *st, unsigned status, const char *reason,
		struct view extra);
/* The served domain that uri names (DESIGN.md §4), or NULL. */
const char *core_uri_domain(const struct core *core, const struct sip_uri *uri);
/* "user@domain", the key of an AOR in the location service, into out;
 * false when it does not fit. */
bool core_aor_key(char *out, size_t size, struct view user, const char *domain);
/* uri names sipd itself, not a user: no user part, and a served domain or
 * an own address at a listened port (a Record-Route of ours). */
bool core_uri_is_self(const struct core *core, const struct sip_uri *uri);
/* addr (IP and port) is one sipd listens on. */
bool core_addr_is_self(const struct core *core, const struct tp_addr *addr);
/* The key of the dialog tokens in sipd's Record-Route URIs: one for every
 * worker, so that any worker accepts what another signed. */
const struct digest_nonce_key *core_dialog_key(const struct core *core);
/* Send through the transport. */
int core_send(struct core *core, const struct tp_dest *dest, const struct iovec *iov, size_t n);
struct txn_layer *core_txn_layer(struct core *core);
/* The log line of a finished server transaction. */
void core_log_final(struct core *core, const struct tp_packet *req, unsigned status,
		    struct view reason);
/* Wall-clock seconds. */
int64_t core_now_s(void);

/* proxy.c: the worker loop whose branch this is (sipd's branches carry
 * it), or false for a branch that is not sipd's. */
bool proxy_branch_worker(struct view branch, unsigned *worker);

/* registrar.c */
void registrar_request(struct core *core, struct txn *st, struct tp_packet *pkt);
void registrar_free_pending(struct core *core);

#endif

/*
 * store.h - what sipd keeps on disk: subscribers and registrations
 * (bindings), in SQLite (sqlite:PATH, WAL mode). One interface; a
 * PostgreSQL backend comes later behind the same functions.
 *
 * Subscribers: user, domain and HA1 per digest algorithm; never a password.
 * Reads are synchronous (start-up, the CLI, and the server's cache refresh).
 *
 * Bindings: every change the registrar makes is written by the store's own
 * writer thread, several changes per transaction (group commit), and the
 * completion is posted back to the event loop that asked, so the registrar
 * answers 200 only once the binding is durable (synchronous=FULL in WAL).
 * The loop never waits on the disk.
 *
 * Several processes may use one database at once (the server and the CLI):
 * SQLite's locking with a busy timeout; the server notices another
 * process's commits through store_data_version().
 */
#ifndef SIPD_STORE_STORE_H
#define SIPD_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/loop.h"

#define STORE_USER_MAX 128    /* bytes of a user part, with NUL */
#define STORE_DOMAIN_MAX 256
#define STORE_HA1_MAX 65      /* hex, with NUL */
#define STORE_AOR_MAX 400     /* "user@domain" */
#define STORE_URI_MAX 1024    /* contact URI, Path, instance */
#define STORE_ADDR_MAX 64     /* "udp:[2001:db8::1]:5060" */
#define STORE_CALLID_MAX 256

struct store;

struct store_user {
	char user[STORE_USER_MAX];
	char domain[STORE_DOMAIN_MAX];
	char ha1_md5[STORE_HA1_MAX];
	char ha1_sha256[STORE_HA1_MAX];
	char ha1_sha512_256[STORE_HA1_MAX];
};

struct store_binding {
	char aor[STORE_AOR_MAX];         /* "user@domain", lower-case domain */
	char contact[STORE_URI_MAX];     /* the Contact URI as registered */
	char path[STORE_URI_MAX];        /* Path header values, comma-separated; "" */
	char instance[STORE_URI_MAX];    /* +sip.instance, ""; */
	uint32_t reg_id;                 /* 0 = none */
	uint16_t q;                      /* q * 1000; 1000 when absent */
	int64_t expires_at;              /* Unix seconds */
	char call_id[STORE_CALLID_MAX];
	uint32_t cseq;
	char source[STORE_ADDR_MAX];     /* where the REGISTER came from: "udp:192.0.2.1:5060" */
	char user_agent[STORE_URI_MAX];  /* "" */
};

/* Open (and create, with its schema, when absent) the database named by
 * url ("sqlite:PATH"). On failure returns errno-style code and a one-line
 * reason in err. */
int store_open(struct store **store, const char *url, char *err, size_t err_len);
/* Another connection to the same database, for another thread's reads
 * (not attached). 0 or an errno. */
int store_open_again(struct store *store, struct store **out);
/* Waits for pending writes; NULL-safe. */
void store_close(struct store *store);

/* Subscribers (synchronous). 0, ENOENT, EEXIST, or EIO with a log line. */
int store_user_put(struct store *store, const struct store_user *user, bool replace);
int store_user_del(struct store *store, const char *user, const char *domain);
int store_user_get(struct store *store, const char *user, const char *domain,
		   struct store_user *out);
typedef void (store_user_h)(const struct store_user *user, void *arg);
int store_user_each(struct store *store, store_user_h *cb, void *arg); /* by domain, user */
/* The same in storage order, without a sort (the server's start-up). */
int store_user_each_unordered(struct store *store, store_user_h *cb, void *arg);
size_t store_user_count(struct store *store);
/* Replace-all import in one transaction: either every row or none. */
int store_user_import(struct store *store, const struct store_user *users, size_t count);
/* The same, streamed (the CLI imports a million rows without holding them
 * in memory): begin, add each row (EEXIST: the same user twice in this
 * import), then end(true) to commit all or end(false) to drop all. Rows are
 * staged in a TEMP table; the database is write-locked only inside
 * end(true). A user that exists already is replaced. */
int store_user_import_begin(struct store *store);
int store_user_import_add(struct store *store, const struct store_user *user);
int store_user_import_end(struct store *store, bool commit);
/* Changes whenever any process commits to the database. */
uint64_t store_data_version(struct store *store);
/* The subscriber table's revision: grows with every user added, changed or
 * deleted by any process (a trigger keeps it), and with nothing else. The
 * server polls it to reload its user cache. 0 on error. */
uint64_t store_users_rev(struct store *store);

/* Bindings. Asynchronous: the write is queued, committed with others, and
 * done(err, arg) runs afterwards on the thread of the loop that queued it
 * (the first attached loop when the caller runs none). store_attach must
 * be called first, once per loop, before any of those loops run (the
 * first call starts the writer thread); ENOSPC past STORE_MAX_LOOPS. */
#define STORE_MAX_LOOPS 16
int store_attach(struct store *store, struct loop *loop);
typedef void (store_done_h)(int err, void *arg);
int store_binding_put(struct store *store, const struct store_binding *binding, store_done_h *done,
		      void *arg);
/* The same without a copy: fill the binding store_binding_new returns (NULL
 * on ENOMEM) and hand it to store_binding_queue, which takes it whatever it
 * returns (freed on EINVAL). */
struct store_binding *store_binding_new(void);
int store_binding_queue(struct store *store, struct store_binding *binding, store_done_h *done,
			void *arg);
int store_binding_del(struct store *store, const char *aor, const char *contact,
		      store_done_h *done, void *arg);
/* Every binding of aor (contact NULL) */
int store_binding_del_aor(struct store *store, const char *aor, store_done_h *done, void *arg);
/* Synchronous: start-up reload and the CLI. Bindings with expires_at <=
 * now_s are deleted instead of listed. */
typedef void (store_binding_h)(const struct store_binding *binding, void *arg);
/* Rows in the bindings table (expired ones included); 0 on error. */
size_t store_binding_count(struct store *store);
int store_binding_each(struct store *store, int64_t now_s, store_binding_h *cb, void *arg);

#endif

/*
 * location.h - the location service (RFC 3261 §10): address-of-record ->
 * bindings, in memory, with an expiry timer per binding, mirrored to the
 * store.
 *
 * An AOR is the text "user@domain" (user as given, domain lower case). A
 * binding is one Contact URI of an AOR with what sipd needs to reach it
 * and to order refreshes: its expiry (wall-clock seconds, as stored), q,
 * the Call-ID and CSeq that last set it, where the REGISTER came from
 * (protocol and address: a phone behind NAT is reached there, not at its
 * private Contact), Path, +sip.instance, reg-id and User-Agent.
 *
 * Changes here are memory only; the registrar writes the store and answers
 * once the write is durable. The one exception is expiry: when a binding's
 * timer fires it is removed from memory and deleted from the store (no one
 * waits for that write). location_load fills the table from the store at
 * start (the store drops what has expired meanwhile).
 *
 * One location per event loop; not thread-safe.
 */
#ifndef SIPD_CORE_LOCATION_H
#define SIPD_CORE_LOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hashmap.h"
#include "base/timer.h"
#include "base/view.h"
#include "sip/uri.h"
#include "store/store.h"
#include "transport/transport.h"

struct location;
struct loc_aor;

struct loc_binding {
	struct loc_binding *next; /* in its AOR, oldest first */
	struct loc_aor *aor;
	struct location *loc;
	struct timer timer;  /* expiry */
	int64_t expires_at;  /* Unix seconds */
	uint16_t q;          /* q * 1000 */
	uint32_t reg_id;     /* 0 = none */
	uint32_t cseq;
	enum tp_proto proto; /* where the REGISTER came from */
	struct tp_addr source;
	struct sip_uri uri;  /* views into contact */
	/* NUL-terminated, in the binding's own allocation */
	const char *contact, *path, *instance, *call_id, *user_agent;
};

struct loc_aor {
	struct hmap_node node;
	struct loc_binding *head;
	unsigned count;
	uint16_t key_len;
	char key[]; /* "user@domain"; NUL */
};

/* What a binding is made of (the registrar fills it from a REGISTER). */
struct loc_binding_spec {
	struct view contact;    /* the Contact URI text */
	struct view path;       /* Path values, comma-separated; may be empty */
	struct view instance;   /* +sip.instance value; may be empty */
	uint32_t reg_id;
	uint16_t q;
	int64_t expires_at;
	struct view call_id;
	uint32_t cseq;
	enum tp_proto proto;
	struct tp_addr source;
	struct view user_agent; /* may be empty */
};

/* store may be NULL (no persistence: unit tests). */
int location_alloc(struct location **out, struct timer_wheel *wheel, struct store *store);
void location_free(struct location *loc);

/* The AOR, or NULL when it has no binding. */
struct loc_aor *location_find(struct location *loc, struct view aor);
/* The binding of aor whose Contact URI equals uri (RFC 3261 §19.1.4), or NULL. */
struct loc_binding *location_binding_find(struct loc_aor *aor, const struct sip_uri *uri);

/*
 * Add a binding to aor, or replace the one with an equal Contact URI (the
 * old one is freed: pointers to it die). Its expiry timer starts. 0,
 * EINVAL (the contact does not decode as a URI), ENOMEM; *out, when not
 * NULL, receives the binding.
 */
int location_put(struct location *loc, struct view aor, const struct loc_binding_spec *spec,
		 int64_t now_s, struct loc_binding **out);
/* Remove one binding (memory only); its AOR goes when it was the last. */
void location_remove(struct location *loc, struct loc_binding *b);

/* Fill from the store's bindings that have not expired at now_s. Returns
 * 0 or the store's error; *count gets the number loaded. */
int location_load(struct location *loc, int64_t now_s, size_t *count);

/* The store row of b, for store_binding_put. */
void location_binding_to_store(const struct loc_binding *b, struct store_binding *out);
/* "udp:192.0.2.1:5060", "tcp:[2001:db8::1]:5060" */
void location_source_text(enum tp_proto proto, const struct tp_addr *addr, char *out, size_t size);

size_t location_aor_count(const struct location *loc);
size_t location_binding_count(const struct location *loc);

#endif

/*
 * location.h - the location service (RFC 3261 §10): address-of-record ->
 * bindings, in memory, with expiry, mirrored to the store.
 *
 * An AOR is the text "user@domain" (user as given, domain lower case). A
 * binding is one Contact URI of an AOR with what sipd needs to reach it
 * and to order refreshes: its expiry (wall-clock seconds, as stored), q,
 * the Call-ID and CSeq that last set it, where the REGISTER came from
 * (protocol and address: a phone behind NAT is reached there, not at its
 * private Contact), Path, +sip.instance and reg-id. (The User-Agent goes
 * to the store only.)
 *
 * Changes here are memory only; the registrar writes the store and answers
 * once the write is durable. The one exception is expiry: a sweep once a
 * second removes what has expired from memory and deletes it from the
 * store (no one waits for that write). location_load fills the table from
 * the store at start (the store drops what has expired meanwhile).
 *
 * Memory: a binding is one allocation of about 80 bytes plus its texts
 * (contact, Call-ID, Path, instance); expiry is a bucket list (two links
 * per binding), not a timer each. bench/README.md has the figures.
 *
 * Threads: one location is shared by the worker loops. Every call but the
 * counts must be made between location_lock and location_unlock, and the
 * pointers it returns die at the unlock. The expiry sweep runs on the wheel
 * given at alloc (the first loop's) and takes the lock itself.
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

enum loc_hop {
	LOC_HOP_UNKNOWN, /* not read yet */
	LOC_HOP_CONTACT, /* the contact: the source's IP, hop_proto, hop_port */
	LOC_HOP_SOURCE,  /* the source (NAT, a name, another IP) */
};

struct loc_binding {
	struct loc_binding *next;        /* in its AOR, oldest first */
	struct loc_aor *aor;
	struct loc_binding *exp_next;    /* expiry bucket list */
	struct loc_binding **exp_pprev;
	int64_t expires_at;              /* Unix seconds */
	uint32_t reg_id;                 /* 0 = none */
	uint32_t cseq;
	uint16_t q;                      /* q * 1000 */
	uint8_t proto;                   /* enum tp_proto: where the REGISTER came from */
	uint8_t family;                  /* AF_INET or AF_INET6 */
	uint16_t port;
	uint8_t ip[16];
	/* where a request for this binding goes, as the proxy read the contact
	 * the first time (LOC_HOP_*; under the location lock): a new binding
	 * object comes with every change of its contact, so it stays true */
	uint8_t hop;
	uint8_t hop_proto; /* LOC_HOP_CONTACT: enum tp_proto and port of the */
	uint16_t hop_port; /* contact, at the source's IP */
	/* texts, each NUL-terminated, one after the other in text[]: the
	 * contact, the Call-ID, the Path values, the +sip.instance */
	uint16_t contact_len, call_id_len, path_len, instance_len;
	char text[];
};

static inline const char *loc_contact(const struct loc_binding *b)
{
	return b->text;
}
static inline const char *loc_call_id(const struct loc_binding *b)
{
	return b->text + b->contact_len + 1;
}
static inline const char *loc_path(const struct loc_binding *b)
{
	return loc_call_id(b) + b->call_id_len + 1;
}
static inline const char *loc_instance(const struct loc_binding *b)
{
	return loc_path(b) + b->path_len + 1;
}
/* The contact as a URI (decoded on demand): 0 or EBADMSG. */
int loc_uri(const struct loc_binding *b, struct sip_uri *uri);
/* Where the binding's REGISTER came from. */
void loc_source(const struct loc_binding *b, struct tp_addr *addr);

struct loc_aor {
	struct hmap_node node;
	struct loc_binding *head;
	uint16_t count;
	uint16_t key_len;
	char key[]; /* "user@domain"; NUL */
};

/* What a binding is made of (the registrar fills it from a REGISTER). */
struct loc_binding_spec {
	struct view contact;  /* the Contact URI text */
	struct view path;     /* Path values, comma-separated; may be empty */
	struct view instance; /* +sip.instance value; may be empty */
	uint32_t reg_id;
	uint16_t q;
	int64_t expires_at;
	struct view call_id;
	uint32_t cseq;
	enum tp_proto proto;
	struct tp_addr source;
};

/* store may be NULL (no persistence: unit tests). The expiry sweep runs
 * on wheel once a second. */
int location_alloc(struct location **out, struct timer_wheel *wheel, struct store *store);
void location_free(struct location *loc);
/* The wall clock of the sweep (tests): seconds; default time(). */
void location_set_clock(struct location *loc, int64_t (*now_s)(void *arg), void *arg);

/* The table's mutex (recursive: a holder may take it again). */
void location_lock(struct location *loc);
void location_unlock(struct location *loc);

/* The AOR, or NULL when it has no binding. */
struct loc_aor *location_find(struct location *loc, struct view aor);
/* The binding of aor whose Contact URI equals uri (RFC 3261 §19.1.4), or NULL. */
struct loc_binding *location_binding_find(struct loc_aor *aor, const struct sip_uri *uri);

/*
 * Add a binding to aor, or replace the one with an equal Contact URI (the
 * old one is freed: pointers to it die). 0, EINVAL (the contact does not
 * decode as a URI, or a text is too long), ENOMEM; *out, when not NULL,
 * receives the binding.
 */
int location_put(struct location *loc, struct view aor, const struct loc_binding_spec *spec,
		 int64_t now_s, struct loc_binding **out);
/* Remove one binding (memory only); its AOR goes when it was the last. */
void location_remove(struct location *loc, struct loc_binding *b);

/* Fill from the store's bindings that have not expired at now_s. Returns
 * 0 or the store's error; *count gets the number loaded. */
int location_load(struct location *loc, int64_t now_s, size_t *count);

/* The store row of b, for store_binding_put; user_agent may be NULL. */
void location_binding_to_store(const struct loc_binding *b, const char *user_agent,
			       struct store_binding *out);
/* "udp:192.0.2.1:5060", "tcp:[2001:db8::1]:5060" */
void location_source_text(enum tp_proto proto, const struct tp_addr *addr, char *out, size_t size);

size_t location_aor_count(const struct location *loc);
size_t location_binding_count(const struct location *loc);

#endif

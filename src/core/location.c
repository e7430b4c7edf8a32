/*
 * location.c - the location service (location.h).
 *
 * One allocation per binding: the struct and its texts. One per AOR: the
 * node and the key. The AOR map is keyed by a SipHash of the key (random
 * key: AORs come off the wire). An AOR holds few bindings (the registrar
 * caps them), so they sit on a plain list.
 *
 * Expiry: LOC_RING buckets, a binding in bucket expires_at % LOC_RING; a
 * sweep each second walks the buckets of the seconds since the last sweep
 * and removes what is due (a binding of a later round stays). Removal is at
 * most a second late; the cost is two links per binding instead of a timer.
 */
#include "core/location.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "base/log.h"
#include "base/mem.h"

#define LOC_INITIAL_BUCKETS 1024
#define LOC_RING 4096    /* expiry buckets, one per second modulo this */
#define LOC_SWEEP_MS 1000

struct location {
	pthread_mutex_t lock; /* location_lock: the worker loops share the table */
	struct hmap aors;
	struct timer_wheel *wheel;
	struct store *store;
	size_t bindings;
	struct timer sweep;
	int64_t swept_s; /* every second up to this one is swept */
	int64_t (*clock)(void *arg);
	void *clock_arg;
	struct loc_aor *last_loaded; /* location_load only */
	struct loc_binding *ring[LOC_RING];
};

static int64_t wall_clock(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

static void on_sweep(struct timer *timer, void *arg);

int location_alloc(struct location **out, struct timer_wheel *wheel, struct store *store)
{
	struct location *loc = calloc(1, sizeof(*loc));
	int rc;

	if (!loc)
		return ENOMEM;
	rc = hmap_init(&loc->aors, LOC_INITIAL_BUCKETS);
	if (rc != 0) {
		free(loc);
		return rc;
	}
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&loc->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	loc->wheel = wheel;
	loc->store = store;
	loc->clock = wall_clock;
	loc->swept_s = wall_clock(NULL);
	timer_init(&loc->sweep);
	timer_start(wheel, &loc->sweep, LOC_SWEEP_MS, on_sweep, loc);
	*out = loc;
	return 0;
}

void location_set_clock(struct location *loc, int64_t (*now_s)(void *arg), void *arg)
{
	loc->clock = now_s;
	loc->clock_arg = arg;
	loc->swept_s = now_s(arg);
}

void location_free(struct location *loc)
{
	struct hmap_iter it;
	struct hmap_node *n;

	if (!loc)
		return;
	timer_cancel(&loc->sweep);
	hmap_iter_init(&it, &loc->aors);
	while ((n = hmap_iter_next(&it)) != NULL) {
		struct loc_aor *aor = HMAP_ENTRY(n, struct loc_aor, node);
		while (aor->head) {
			struct loc_binding *b = aor->head;
			aor->head = b->next;
			free(b);
		}
		hmap_remove(&loc->aors, n);
		free(aor);
	}
	hmap_fini(&loc->aors);
	pthread_mutex_destroy(&loc->lock);
	free(loc);
}

static bool aor_match(const struct hmap_node *node, const void *arg)
{
	const struct loc_aor *aor = HMAP_ENTRY(node, struct loc_aor, node);
	const struct view *key = arg;
	return aor->key_len == key->len && memcmp(aor->key, key->p, key->len) == 0;
}

struct loc_aor *location_find(struct location *loc, struct view key)
{
	struct hmap_node *n =
		hmap_find(&loc->aors, hmap_hash(&loc->aors, key.p, key.len), aor_match, &key);
	return n ? HMAP_ENTRY(n, struct loc_aor, node) : NULL;
}

int loc_uri(const struct loc_binding *b, struct sip_uri *uri)
{
	const char *reason;
	return sip_uri_decode(uri, view_make(loc_contact(b), b->contact_len), &reason);
}

void loc_source(const struct loc_binding *b, struct tp_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (b->family == AF_INET6) {
		addr->u.in6.sin6_family = AF_INET6;
		addr->u.in6.sin6_port = htons(b->port);
		memcpy(&addr->u.in6.sin6_addr, b->ip, 16);
		addr->len = sizeof(addr->u.in6);
	} else {
		addr->u.in.sin_family = AF_INET;
		addr->u.in.sin_port = htons(b->port);
		memcpy(&addr->u.in.sin_addr, b->ip, 4);
		addr->len = sizeof(addr->u.in);
	}
}

struct loc_binding *location_binding_find(struct loc_aor *aor, const struct sip_uri *uri)
{
	if (!aor)
		return NULL;
	/* the same text first (a refresh), then §19.1.4 on a decoded copy */
	for (struct loc_binding *b = aor->head; b; b = b->next)
		if (view_eq(view_make(loc_contact(b), b->contact_len), uri->raw))
			return b;
	for (struct loc_binding *b = aor->head; b; b = b->next) {
		struct sip_uri u;
		if (!sip_uri_may_equal(view_make(loc_contact(b), b->contact_len), uri))
			continue; /* another user: not worth decoding */
		if (loc_uri(b, &u) == 0 && sip_uri_equal(&u, uri))
			return b;
	}
	return NULL;
}

static void exp_unlink(struct loc_binding *b)
{
	if (!b->exp_pprev)
		return;
	*b->exp_pprev = b->exp_next;
	if (b->exp_next)
		b->exp_next->exp_pprev = b->exp_pprev;
	b->exp_next = NULL;
	b->exp_pprev = NULL;
}

static void exp_link(struct location *loc, struct loc_binding *b)
{
	struct loc_binding **head = &loc->ring[(uint64_t)b->expires_at % LOC_RING];

	b->exp_next = *head;
	if (*head)
		(*head)->exp_pprev = &b->exp_next;
	*head = b;
	b->exp_pprev = head;
}

static void unlink_binding(struct location *loc, struct loc_binding *b)
{
	struct loc_aor *aor = b->aor;
	struct loc_binding **pp = &aor->head;

	exp_unlink(b);
	while (*pp && *pp != b)
		pp = &(*pp)->next;
	if (*pp)
		*pp = b->next;
	aor->count--;
	loc->bindings--;
	if (aor->count == 0) {
		hmap_remove(&loc->aors, &aor->node);
		free(aor);
	}
}

void location_remove(struct location *loc, struct loc_binding *b)
{
	unlink_binding(loc, b);
	free(b);
}

static void expire(struct location *loc, struct loc_binding *b)
{
	log_debug("binding %s of %s expired", loc_contact(b), b->aor->key);
	if (loc->store) {
		int rc = store_binding_del(loc->store, b->aor->key, loc_contact(b), NULL, NULL);
		if (rc != 0)
			log_warn("cannot delete the expired binding %s of %s: %s", loc_contact(b),
				 b->aor->key, strerror(rc));
	}
	location_remove(loc, b);
}

/* Each second since the last sweep: its bucket's bindings that are due. */
static void on_sweep(struct timer *timer, void *arg)
{
	struct location *loc = arg;
	int64_t now = loc->clock(loc->clock_arg);
	int64_t from = loc->swept_s + 1;

	if (now - from >= LOC_RING)
		from = now - LOC_RING + 1; /* every bucket once */
	location_lock(loc);
	for (int64_t s = from; s <= now; s++) {
		struct loc_binding *b = loc->ring[(uint64_t)s % LOC_RING];
		while (b) {
			struct loc_binding *next = b->exp_next;
			if (b->expires_at <= now)
				expire(loc, b);
			b = next;
		}
	}
	if (now > loc->swept_s)
		loc->swept_s = now;
	location_unlock(loc);
	timer_start(loc->wheel, timer, LOC_SWEEP_MS, on_sweep, loc);
}

static struct loc_aor *aor_new(struct location *loc, struct view key)
{
	struct loc_aor *aor;

	if (key.len > UINT16_MAX)
		return NULL;
	aor = zalloc(sizeof(*aor) + key.len + 1);
	if (!aor)
		return NULL;
	memcpy(aor->key, key.p, key.len);
	aor->key_len = (uint16_t)key.len;
	hmap_insert(&loc->aors, &aor->node, hmap_hash(&loc->aors, key.p, key.len));
	return aor;
}

static struct loc_aor *aor_get(struct location *loc, struct view key)
{
	struct loc_aor *aor = location_find(loc, key);
	return aor ? aor : aor_new(loc, key);
}

static char *text_put(char *dst, struct view v)
{
	if (v.len)
		memcpy(dst, v.p, v.len);
	dst[v.len] = '\0';
	return dst + v.len + 1;
}

/* loading: a row of the store, checked when it was written and unique by
 * (aor, contact); rows come in AOR order, so a new AOR cannot exist yet. */
static int put(struct location *loc, struct view key, const struct loc_binding_spec *spec,
	       bool loading, struct loc_binding **out)
{
	struct sip_uri uri;
	const char *reason;
	struct loc_aor *aor;

	if (spec->contact.len > UINT16_MAX || spec->call_id.len > UINT16_MAX ||
	    spec->path.len > UINT16_MAX || spec->instance.len > UINT16_MAX)
		return EINVAL;
	if (!loading && sip_uri_decode(&uri, spec->contact, &reason) != 0)
		return EINVAL;
	size_t text = spec->contact.len + spec->call_id.len + spec->path.len + spec->instance.len + 4;
	struct loc_binding *b = malloc(sizeof(*b) + text);
	if (!b)
		return ENOMEM;
	memset(b, 0, sizeof(*b));
	char *p = b->text;
	p = text_put(p, spec->contact);
	p = text_put(p, spec->call_id);
	p = text_put(p, spec->path);
	(void)text_put(p, spec->instance);
	b->contact_len = (uint16_t)spec->contact.len;
	b->call_id_len = (uint16_t)spec->call_id.len;
	b->path_len = (uint16_t)spec->path.len;
	b->instance_len = (uint16_t)spec->instance.len;
	b->expires_at = spec->expires_at;
	b->q = spec->q;
	b->reg_id = spec->reg_id;
	b->cseq = spec->cseq;
	b->proto = (uint8_t)spec->proto;
	b->family = (uint8_t)spec->source.u.sa.sa_family;
	b->port = tp_addr_port(&spec->source);
	if (b->family == AF_INET6)
		memcpy(b->ip, &spec->source.u.in6.sin6_addr, 16);
	else
		memcpy(b->ip, &spec->source.u.in.sin_addr, 4);

	if (loading && loc->last_loaded && view_eq(view_make(loc->last_loaded->key,
							     loc->last_loaded->key_len), key))
		aor = loc->last_loaded;
	else
		aor = loading ? aor_new(loc, key) : aor_get(loc, key);
	if (!aor) {
		free(b);
		return ENOMEM;
	}
	if (loading)
		loc->last_loaded = aor;
	struct loc_binding *old = NULL;
	if (!loading) {
		uri.raw = view_make(loc_contact(b), b->contact_len);
		old = location_binding_find(aor, &uri);
	}
	struct loc_binding **pp = &aor->head;
	if (old) {
		/* take its place in the list */
		while (*pp != old)
			pp = &(*pp)->next;
		b->next = old->next;
		*pp = b;
		exp_unlink(old);
		free(old);
	} else {
		while (*pp)
			pp = &(*pp)->next;
		*pp = b;
		aor->count++;
		loc->bindings++;
	}
	b->aor = aor;
	exp_link(loc, b);
	if (out)
		*out = b;
	return 0;
}

int location_put(struct location *loc, struct view key, const struct loc_binding_spec *spec,
		 int64_t now_s, struct loc_binding **out)
{
	(void)now_s;
	return put(loc, key, spec, false, out);
}

void location_source_text(enum tp_proto proto, const struct tp_addr *addr, char *out, size_t size)
{
	static const char *const names[] = { "udp", "tcp", "tls", "ws", "wss" };
	char text[8 + TP_HOSTPORT_MAX];
	size_t n = strlen(names[proto]);

	/* proto:ip:port (the IPv6 address in brackets), cut to fit */
	memcpy(text, names[proto], n);
	text[n++] = ':';
	tp_addr_hostport(addr, text + n, sizeof(text) - n);
	n += strlen(text + n);
	if (size == 0)
		return;
	if (n >= size)
		n = size - 1;
	memcpy(out, text, n);
	out[n] = '\0';
}

/* The inverse of location_source_text; false when text is not one. */
static bool source_parse(const char *text, enum tp_proto *proto, struct tp_addr *addr)
{
	static const char *const names[] = { "udp", "tcp", "tls", "ws", "wss" };
	const char *colon = strchr(text, ':'), *port_colon;
	uint64_t port;
	int found = -1;

	if (!colon)
		return false;
	for (int i = 0; i < 5; i++)
		if (view_eq_cstr(view_make(text, (size_t)(colon - text)), names[i]))
			found = i;
	port_colon = strrchr(colon + 1, ':');
	if (found < 0 || !port_colon || port_colon == colon + 1)
		return false;
	if (!view_to_u64(view_from_cstr(port_colon + 1), 65535, &port))
		return false;
	if (tp_addr_from_text(addr, view_make(colon + 1, (size_t)(port_colon - colon - 1)),
			      (uint16_t)port) != 0)
		return false;
	*proto = (enum tp_proto)found;
	return true;
}

/* NUL-terminated text into a fixed field, cut to fit (fields are sized
 * for what the registrar accepts). */
static void field_copy(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void location_binding_to_store(const struct loc_binding *b, const char *user_agent,
			       struct store_binding *out)
{
	struct tp_addr src;

	field_copy(out->aor, sizeof(out->aor), b->aor->key);
	field_copy(out->contact, sizeof(out->contact), loc_contact(b));
	field_copy(out->path, sizeof(out->path), loc_path(b));
	field_copy(out->instance, sizeof(out->instance), loc_instance(b));
	out->reg_id = b->reg_id;
	out->q = b->q;
	out->expires_at = b->expires_at;
	field_copy(out->call_id, sizeof(out->call_id), loc_call_id(b));
	out->cseq = b->cseq;
	loc_source(b, &src);
	location_source_text((enum tp_proto)b->proto, &src, out->source, sizeof(out->source));
	field_copy(out->user_agent, sizeof(out->user_agent), user_agent ? user_agent : "");
}

struct load_ctx {
	struct location *loc;
	int64_t now_s;
	size_t count;
	int err;
};

static void load_one(const struct store_binding *sb, void *arg)
{
	struct load_ctx *ctx = arg;
	struct loc_binding_spec spec = {
		.contact = view_from_cstr(sb->contact),
		.path = view_from_cstr(sb->path),
		.instance = view_from_cstr(sb->instance),
		.reg_id = sb->reg_id,
		.q = sb->q,
		.expires_at = sb->expires_at,
		.call_id = view_from_cstr(sb->call_id),
		.cseq = sb->cseq,
	};

	if (ctx->err)
		return;
	if (sb->expires_at <= ctx->now_s)
		return;
	if (!source_parse(sb->source, &spec.proto, &spec.source)) {
		log_warn("binding %s of %s has a bad source '%s': skipped", sb->contact, sb->aor,
			 sb->source);
		return;
	}
	int rc = put(ctx->loc, view_from_cstr(sb->aor), &spec, true, NULL);
	if (rc == ENOMEM)
		ctx->err = rc;
	else if (rc != 0)
		log_warn("binding %s of %s does not decode: skipped", sb->contact, sb->aor);
	else
		ctx->count++;
}

int location_load(struct location *loc, int64_t now_s, size_t *count)
{
	struct load_ctx ctx = { .loc = loc, .now_s = now_s };
	int rc;

	if (!loc->store)
		return EINVAL;
	/* a table of the right size at once, when nothing is in it yet */
	size_t rows = store_binding_count(loc->store);
	if (loc->bindings == 0 && rows > hmap_bucket_count(&loc->aors)) {
		struct hmap sized;
		if (hmap_init(&sized, rows) == 0) {
			hmap_fini(&loc->aors);
			loc->aors = sized;
		}
	}
	rc = store_binding_each(loc->store, now_s, load_one, &ctx);
	loc->last_loaded = NULL;
	if (rc == 0)
		rc = ctx.err;
	if (count)
		*count = ctx.count;
	return rc;
}

size_t location_aor_count(const struct location *loc)
{
	struct location *l = (struct location *)loc;
	location_lock(l);
	size_t n = hmap_count(&loc->aors);
	location_unlock(l);
	return n;
}

size_t location_binding_count(const struct location *loc)
{
	struct location *l = (struct location *)loc;
	location_lock(l);
	size_t n = loc->bindings;
	location_unlock(l);
	return n;
}

void location_lock(struct location *loc)
{
	pthread_mutex_lock(&loc->lock);
}

void location_unlock(struct location *loc)
{
	pthread_mutex_unlock(&loc->lock);
}

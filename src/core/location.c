/*
 * location.c - the location service (location.h).
 *
 * One allocation per binding: the struct and its strings. One per AOR: the
 * node and the key. The AOR map is keyed by a SipHash of the key (random
 * key: AORs come off the wire). An AOR holds few bindings (the registrar
 * caps them), so they sit on a plain list.
 */
#include "core/location.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define LOC_INITIAL_BUCKETS 1024
#define MS_PER_S 1000

struct location {
	struct hmap aors;
	struct timer_wheel *wheel;
	struct store *store;
	size_t bindings;
};

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
	loc->wheel = wheel;
	loc->store = store;
	*out = loc;
	return 0;
}

static void binding_free(struct loc_binding *b)
{
	timer_cancel(&b->timer);
	free(b);
}

void location_free(struct location *loc)
{
	struct hmap_iter it;
	struct hmap_node *n;

	if (!loc)
		return;
	hmap_iter_init(&it, &loc->aors);
	while ((n = hmap_iter_next(&it)) != NULL) {
		struct loc_aor *aor = HMAP_ENTRY(n, struct loc_aor, node);
		while (aor->head) {
			struct loc_binding *b = aor->head;
			aor->head = b->next;
			binding_free(b);
		}
		hmap_remove(&loc->aors, n);
		free(aor);
	}
	hmap_fini(&loc->aors);
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

struct loc_binding *location_binding_find(struct loc_aor *aor, const struct sip_uri *uri)
{
	if (!aor)
		return NULL;
	for (struct loc_binding *b = aor->head; b; b = b->next)
		if (sip_uri_equal(&b->uri, uri))
			return b;
	return NULL;
}

static void unlink_binding(struct location *loc, struct loc_binding *b)
{
	struct loc_aor *aor = b->aor;
	struct loc_binding **pp = &aor->head;

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
	binding_free(b);
}

static void on_expire(struct timer *timer, void *arg)
{
	struct loc_binding *b = arg;
	struct location *loc = b->loc;
	(void)timer;

	log_debug("binding %s of %s expired", b->contact, b->aor->key);
	if (loc->store) {
		int rc = store_binding_del(loc->store, b->aor->key, b->contact, NULL, NULL);
		if (rc != 0)
			log_warn("cannot delete the expired binding %s of %s: %s", b->contact,
				 b->aor->key, strerror(rc));
	}
	location_remove(loc, b);
}

static char *copy_text(char **dst, struct view v)
{
	char *start = *dst;
	if (v.len)
		memcpy(start, v.p, v.len);
	start[v.len] = '\0';
	*dst += v.len + 1;
	return start;
}

static struct loc_aor *aor_get(struct location *loc, struct view key)
{
	struct loc_aor *aor = location_find(loc, key);

	if (aor)
		return aor;
	if (key.len > UINT16_MAX)
		return NULL;
	aor = calloc(1, sizeof(*aor) + key.len + 1);
	if (!aor)
		return NULL;
	memcpy(aor->key, key.p, key.len);
	aor->key_len = (uint16_t)key.len;
	hmap_insert(&loc->aors, &aor->node, hmap_hash(&loc->aors, key.p, key.len));
	return aor;
}

int location_put(struct location *loc, struct view key, const struct loc_binding_spec *spec,
		 int64_t now_s, struct loc_binding **out)
{
	size_t text = spec->contact.len + spec->path.len + spec->instance.len + spec->call_id.len +
		      spec->user_agent.len + 5;
	struct loc_binding *b = calloc(1, sizeof(*b) + text);
	struct loc_aor *aor;
	const char *reason;
	char *p;

	if (!b)
		return ENOMEM;
	p = (char *)(b + 1);
	b->contact = copy_text(&p, spec->contact);
	b->path = copy_text(&p, spec->path);
	b->instance = copy_text(&p, spec->instance);
	b->call_id = copy_text(&p, spec->call_id);
	b->user_agent = copy_text(&p, spec->user_agent);
	if (sip_uri_decode(&b->uri, view_make(b->contact, spec->contact.len), &reason) != 0) {
		free(b);
		return EINVAL;
	}
	b->expires_at = spec->expires_at;
	b->q = spec->q;
	b->reg_id = spec->reg_id;
	b->cseq = spec->cseq;
	b->proto = spec->proto;
	b->source = spec->source;
	b->loc = loc;
	timer_init(&b->timer);

	aor = aor_get(loc, key);
	if (!aor) {
		free(b);
		return ENOMEM;
	}
	struct loc_binding *old = location_binding_find(aor, &b->uri);
	struct loc_binding **pp = &aor->head;
	if (old) {
		/* take its place in the list */
		while (*pp != old)
			pp = &(*pp)->next;
		b->next = old->next;
		*pp = b;
		binding_free(old);
	} else {
		while (*pp)
			pp = &(*pp)->next;
		*pp = b;
		aor->count++;
		loc->bindings++;
	}
	b->aor = aor;
	int64_t left = spec->expires_at - now_s;
	timer_start(loc->wheel, &b->timer, left > 0 ? (uint64_t)left * MS_PER_S : 0, on_expire, b);
	if (out)
		*out = b;
	return 0;
}

void location_source_text(enum tp_proto proto, const struct tp_addr *addr, char *out, size_t size)
{
	static const char *const names[] = { "udp", "tcp", "tls", "ws", "wss" };
	char ip[48];

	tp_addr_ip_string(addr, ip, sizeof(ip));
	if (addr->u.sa.sa_family == AF_INET6)
		snprintf(out, size, "%s:[%s]:%u", names[proto], ip, tp_addr_port(addr));
	else
		snprintf(out, size, "%s:%s:%u", names[proto], ip, tp_addr_port(addr));
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

void location_binding_to_store(const struct loc_binding *b, struct store_binding *out)
{
	field_copy(out->aor, sizeof(out->aor), b->aor->key);
	field_copy(out->contact, sizeof(out->contact), b->contact);
	field_copy(out->path, sizeof(out->path), b->path);
	field_copy(out->instance, sizeof(out->instance), b->instance);
	out->reg_id = b->reg_id;
	out->q = b->q;
	out->expires_at = b->expires_at;
	field_copy(out->call_id, sizeof(out->call_id), b->call_id);
	out->cseq = b->cseq;
	location_source_text(b->proto, &b->source, out->source, sizeof(out->source));
	field_copy(out->user_agent, sizeof(out->user_agent), b->user_agent);
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
		.user_agent = view_from_cstr(sb->user_agent),
	};

	if (ctx->err)
		return;
	if (!source_parse(sb->source, &spec.proto, &spec.source)) {
		log_warn("binding %s of %s has a bad source '%s': skipped", sb->contact, sb->aor,
			 sb->source);
		return;
	}
	int rc = location_put(ctx->loc, view_from_cstr(sb->aor), &spec, ctx->now_s, NULL);
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
	rc = store_binding_each(loc->store, now_s, load_one, &ctx);
	if (rc == 0)
		rc = ctx.err;
	if (count)
		*count = ctx.count;
	return rc;
}

size_t location_aor_count(const struct location *loc)
{
	return hmap_count(&loc->aors);
}

size_t location_binding_count(const struct location *loc)
{
	return loc->bindings;
}

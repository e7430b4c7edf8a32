/*
 * lazy.c - headers decoded on first access and cached in the message:
 * every Via, Contact, Route, Record-Route, Path, Service-Route,
 * P-Associated-URI, the four authentication headers, the option-tag and
 * method lists, Expires, Min-Expires and User-Agent.
 *
 * A list is decoded across all of its header lines in order (RFC 3261 §7.3:
 * several lines are the same as one comma-separated line) into one malloc'd
 * array, owned by the message and freed by sip_msg_fini(). A malformed list
 * is remembered as such, so asking again costs nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "sip/lex.h"
#include "sip/sip_int.h"

typedef int(elem_decode_h)(void *item, struct view elem, const char **reason);

struct list_kind {
	enum sip_hdr_id id;
	size_t item_size;
	elem_decode_h *decode;
	const char *bad;  /* reason phrase when malformed */
};

static int via_elem(void *item, struct view elem, const char **reason)
{
	return sip_via_decode(item, elem, reason);
}

static int contact_elem(void *item, struct view elem, const char **reason)
{
	return sip_contact_decode(item, elem, reason);
}

static int addr_elem(void *item, struct view elem, const char **reason)
{
	return sip_addr_decode(item, elem, reason);
}

static int token_elem(void *item, struct view elem, const char **reason)
{
	if (lex_span(elem, 0, CT_TOKEN) != elem.len) {
		*reason = "Bad option tag";
		return EBADMSG;
	}
	*(struct view *)item = elem;
	return 0;
}

static const struct list_kind kinds[SIP_CACHE__COUNT] = {
	[SIP_CACHE_VIA] = { SIP_HDR_VIA, sizeof(struct sip_via), via_elem, "Bad Via header" },
	[SIP_CACHE_CONTACT] = { SIP_HDR_CONTACT, sizeof(struct sip_contact), contact_elem,
				"Bad Contact header" },
	[SIP_CACHE_ROUTE] = { SIP_HDR_ROUTE, sizeof(struct sip_addr), addr_elem,
			      "Bad Route header" },
	[SIP_CACHE_RECORD_ROUTE] = { SIP_HDR_RECORD_ROUTE, sizeof(struct sip_addr), addr_elem,
				     "Bad Record-Route header" },
	[SIP_CACHE_PATH] = { SIP_HDR_PATH, sizeof(struct sip_addr), addr_elem, "Bad Path header" },
	[SIP_CACHE_SERVICE_ROUTE] = { SIP_HDR_SERVICE_ROUTE, sizeof(struct sip_addr), addr_elem,
				      "Bad Service-Route header" },
	[SIP_CACHE_P_ASSOCIATED_URI] = { SIP_HDR_P_ASSOCIATED_URI, sizeof(struct sip_addr),
					 addr_elem, "Bad P-Associated-URI header" },
	[SIP_CACHE_AUTHORIZATION] = { SIP_HDR_AUTHORIZATION, sizeof(struct sip_auth), NULL,
				      "Bad Authorization header" },
	[SIP_CACHE_PROXY_AUTHORIZATION] = { SIP_HDR_PROXY_AUTHORIZATION, sizeof(struct sip_auth),
					    NULL, "Bad Proxy-Authorization header" },
	[SIP_CACHE_WWW_AUTHENTICATE] = { SIP_HDR_WWW_AUTHENTICATE, sizeof(struct sip_auth), NULL,
					 "Bad WWW-Authenticate header" },
	[SIP_CACHE_PROXY_AUTHENTICATE] = { SIP_HDR_PROXY_AUTHENTICATE, sizeof(struct sip_auth),
					   NULL, "Bad Proxy-Authenticate header" },
	[SIP_CACHE_REQUIRE] = { SIP_HDR_REQUIRE, sizeof(struct view), token_elem,
				"Bad Require header" },
	[SIP_CACHE_PROXY_REQUIRE] = { SIP_HDR_PROXY_REQUIRE, sizeof(struct view), token_elem,
				      "Bad Proxy-Require header" },
	[SIP_CACHE_SUPPORTED] = { SIP_HDR_SUPPORTED, sizeof(struct view), token_elem,
				  "Bad Supported header" },
	[SIP_CACHE_UNSUPPORTED] = { SIP_HDR_UNSUPPORTED, sizeof(struct view), token_elem,
				    "Bad Unsupported header" },
	[SIP_CACHE_ALLOW] = { SIP_HDR_ALLOW, sizeof(struct view), token_elem, "Bad Allow header" },
};

static int cache_result(struct sip_cache *c, const void **items, size_t *count,
			struct sip_error *err)
{
	if (c->state == 2) {
		if (err) {
			err->status = 400;
			err->reason = c->reason;
		}
		return EBADMSG;
	}
	*items = c->items;
	*count = c->count;
	return 0;
}

static int cache_bad(struct sip_cache *c, const char *reason, struct sip_error *err)
{
	free(c->items);
	c->items = NULL;
	c->count = 0;
	c->state = 2;
	c->reason = reason;
	if (err) {
		err->status = 400;
		err->reason = reason;
	}
	return EBADMSG;
}

/* Option-tag and method lists: empty elements are skipped (a bare
 * "Supported:" is legal, and "a,,b" is read leniently as "a,b"). */
static bool tokens_next(struct view *rest, struct view *elem)
{
	for (;;) {
		size_t i = lex_skip_lws(*rest, 0);
		if (i >= rest->len)
			return false;
		const char *comma = memchr(rest->p + i, ',', rest->len - i);
		size_t end = comma ? (size_t)(comma - rest->p) : rest->len;
		struct view e = view_trim(view_make(rest->p + i, end - i));
		size_t next = comma ? end + 1 : end;
		*rest = view_make(rest->p + next, rest->len - next);
		if (e.len > 0) {
			*elem = e;
			return true;
		}
	}
}

static bool next_elem(const struct list_kind *k, struct view *rest, struct view *elem, int *rc)
{
	if (k->decode == token_elem) {
		*rc = 0;
		return tokens_next(rest, elem);
	}
	*rc = lex_list_next(rest, elem);
	return *rc == 0;
}

static int list_fill(struct sip_msg *msg, enum sip_cache_kind kind, struct sip_error *err)
{
	const struct list_kind *k = &kinds[kind];
	struct sip_cache *c = &msg->cache[kind];
	size_t total = 0, n = 0;
	const struct sip_hdr *h;
	struct view rest, elem;
	int rc;

	/* count first, so the array is allocated once */
	for (h = sip_msg_hdr_find(msg, k->id); h; h = sip_msg_hdr_next(msg, h)) {
		rest = h->value;
		while (next_elem(k, &rest, &elem, &rc))
			total++;
		if (rc != 0 && rc != ENOENT)
			return cache_bad(c, k->bad, err);
	}
	if (total > SIP_MAX_LIST)
		return cache_bad(c, "Too many values in a list header", err);
	c->state = 1;
	if (total == 0)
		return 0;
	c->items = zalloc_array(total, k->item_size);
	if (!c->items) {
		c->state = 0;
		return ENOMEM;
	}
	for (h = sip_msg_hdr_find(msg, k->id); h; h = sip_msg_hdr_next(msg, h)) {
		rest = h->value;
		while (next_elem(k, &rest, &elem, &rc)) {
			const char *reason = k->bad;
			if (k->decode((char *)c->items + n * k->item_size, elem, &reason) != 0)
				return cache_bad(c, k->bad, err);
			n++;
		}
	}
	c->count = (uint16_t)n;
	return 0;
}

static int auth_fill(struct sip_msg *msg, enum sip_cache_kind kind, struct sip_error *err)
{
	const struct list_kind *k = &kinds[kind];
	struct sip_cache *c = &msg->cache[kind];
	struct sip_auth items[SIP_MAX_LIST];
	size_t n = 0;

	for (const struct sip_hdr *h = sip_msg_hdr_find(msg, k->id); h;
	     h = sip_msg_hdr_next(msg, h)) {
		int rc = sip_auth_decode_value(h->value, items, SIP_MAX_LIST, &n);
		if (rc == EMSGSIZE)
			return cache_bad(c, "Too many values in a list header", err);
		if (rc != 0)
			return cache_bad(c, k->bad, err);
	}
	c->state = 1;
	if (n == 0)
		return 0;
	c->items = malloc(n * sizeof(items[0]));
	if (!c->items) {
		c->state = 0;
		return ENOMEM;
	}
	memcpy(c->items, items, n * sizeof(items[0]));
	c->count = (uint16_t)n;
	return 0;
}

static int cached(struct sip_msg *msg, enum sip_cache_kind kind, const void **items,
		  size_t *count, struct sip_error *err)
{
	struct sip_cache *c = &msg->cache[kind];
	if (c->state == 0) {
		int rc = kinds[kind].decode ? list_fill(msg, kind, err) : auth_fill(msg, kind, err);
		if (rc != 0)
			return rc;
	}
	return cache_result(c, items, count, err);
}

static int kind_of(enum sip_hdr_id id, enum sip_cache_kind *kind)
{
	for (int k = 0; k < SIP_CACHE__COUNT; k++) {
		if (kinds[k].id == id) {
			*kind = (enum sip_cache_kind)k;
			return 0;
		}
	}
	return EINVAL;
}

int sip_msg_vias(struct sip_msg *msg, const struct sip_via **vias, size_t *count,
		 struct sip_error *err)
{
	return cached(msg, SIP_CACHE_VIA, (const void **)vias, count, err);
}

int sip_msg_contacts(struct sip_msg *msg, const struct sip_contact **contacts, size_t *count,
		     struct sip_error *err)
{
	return cached(msg, SIP_CACHE_CONTACT, (const void **)contacts, count, err);
}

static int typed(struct sip_msg *msg, enum sip_hdr_id id, size_t item_size, const void **items,
		 size_t *count, struct sip_error *err)
{
	enum sip_cache_kind kind;
	if (kind_of(id, &kind) != 0 || kinds[kind].item_size != item_size ||
	    kind == SIP_CACHE_VIA || kind == SIP_CACHE_CONTACT)
		return EINVAL;
	return cached(msg, kind, items, count, err);
}

int sip_msg_addrs(struct sip_msg *msg, enum sip_hdr_id id, const struct sip_addr **addrs,
		  size_t *count, struct sip_error *err)
{
	return typed(msg, id, sizeof(struct sip_addr), (const void **)addrs, count, err);
}

int sip_msg_auths(struct sip_msg *msg, enum sip_hdr_id id, const struct sip_auth **auths,
		  size_t *count, struct sip_error *err)
{
	return typed(msg, id, sizeof(struct sip_auth), (const void **)auths, count, err);
}

int sip_msg_tokens(struct sip_msg *msg, enum sip_hdr_id id, const struct view **tokens,
		   size_t *count, struct sip_error *err)
{
	return typed(msg, id, sizeof(struct view), (const void **)tokens, count, err);
}

/* Expires / Min-Expires: one header, delta-seconds, decoded once. */
static int seconds(const struct sip_msg *msg, enum sip_hdr_id id, const char *bad,
		   struct sip_seconds *cache, uint32_t *value, struct sip_error *err)
{
	if (!cache->done) {
		const struct sip_hdr *h = sip_msg_hdr_find(msg, id);
		if (!h)
			cache->rc = ENOENT;
		else if (h->next >= 0 || !sip_delta_seconds(h->value, &cache->value))
			cache->rc = EBADMSG;
		else
			cache->rc = 0;
		cache->done = true;
	}
	if (cache->rc == EBADMSG && err) {
		err->status = 400;
		err->reason = bad;
	}
	if (cache->rc == 0)
		*value = cache->value;
	return cache->rc;
}

int sip_msg_expires(struct sip_msg *msg, uint32_t *value, struct sip_error *err)
{
	return seconds(msg, SIP_HDR_EXPIRES, "Bad Expires header", &msg->expires, value, err);
}

int sip_msg_min_expires(struct sip_msg *msg, uint32_t *value, struct sip_error *err)
{
	return seconds(msg, SIP_HDR_MIN_EXPIRES, "Bad Min-Expires header", &msg->min_expires, value,
		       err);
}

struct view sip_msg_user_agent(const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr_find(msg, SIP_HDR_USER_AGENT);
	return h ? h->value : VIEW_NULL;
}

int sip_msg_decode_all(struct sip_msg *msg, struct sip_error *err)
{
	for (int k = 0; k < SIP_CACHE__COUNT; k++) {
		const void *items;
		size_t count;
		int rc = cached(msg, (enum sip_cache_kind)k, &items, &count, err);
		if (rc != 0)
			return rc;
	}
	uint32_t s;
	int rc = sip_msg_expires(msg, &s, err);
	if (rc == EBADMSG)
		return rc;
	rc = sip_msg_min_expires(msg, &s, err);
	if (rc == EBADMSG)
		return rc;
	return 0;
}

void sip_msg_fini(struct sip_msg *msg)
{
	for (int k = 0; k < SIP_CACHE__COUNT; k++) {
		if (msg->cache[k].items) { /* most lists are never decoded: no free(NULL) call */
			free(msg->cache[k].items);
			msg->cache[k].items = NULL;
		}
		msg->cache[k].state = 0;
	}
	if (msg->hdrs_owned) {
		free(msg->hdrs);
		msg->hdrs_owned = false;
	}
	msg->hdrs = NULL;
	msg->hdr_count = 0;
	msg->hdr_cap = 0;
}

/*
 * users.c - the in-memory subscriber table (users.h).
 *
 * One allocation per user: the node, the HA1 bytes of each algorithm, and
 * the key "user@domain". The map is keyed by a SipHash of the key; lookups
 * lower-case the domain into a stack buffer first.
 */
#include "core/users.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashmap.h"
#include "base/log.h"

#define USERS_KEY_MAX (STORE_USER_MAX + STORE_DOMAIN_MAX)
#define USERS_HA1_BYTES 32 /* the longest digest */

struct user_entry {
	struct hmap_node node;
	uint8_t ha1[DIGEST_ALG_COUNT][USERS_HA1_BYTES];
	uint16_t key_len;
	char key[]; /* "user@domain", domain lower case; NUL */
};

struct users {
	pthread_mutex_t lock; /* every worker loop reads; a reload swaps the map */
	struct hmap map;
};

static void map_clear(struct hmap *m)
{
	struct hmap_iter it;
	struct hmap_node *n;

	hmap_iter_init(&it, m);
	while ((n = hmap_iter_next(&it)) != NULL) {
		hmap_remove(m, n);
		free(HMAP_ENTRY(n, struct user_entry, node));
	}
	hmap_fini(m);
}

int users_alloc(struct users **out)
{
	struct users *u = calloc(1, sizeof(*u));
	int rc;

	if (!u)
		return ENOMEM;
	rc = hmap_init(&u->map, 64);
	if (rc != 0) {
		free(u);
		return rc;
	}
	pthread_mutex_init(&u->lock, NULL);
	*out = u;
	return 0;
}

void users_free(struct users *users)
{
	if (!users)
		return;
	map_clear(&users->map);
	pthread_mutex_destroy(&users->lock);
	free(users);
}

/* "user@domain" with the domain lower-cased; 0 or EMSGSIZE. */
static int make_key(struct view user, struct view domain, char *out, size_t *len)
{
	if (user.len + 1 + domain.len >= USERS_KEY_MAX)
		return EMSGSIZE;
	memcpy(out, user.p, user.len);
	out[user.len] = '@';
	for (size_t i = 0; i < domain.len; i++)
		out[user.len + 1 + i] = (char)view_lower((unsigned char)domain.p[i]);
	*len = user.len + 1 + domain.len;
	out[*len] = '\0';
	return 0;
}

static bool entry_match(const struct hmap_node *node, const void *arg)
{
	const struct user_entry *e = HMAP_ENTRY(node, struct user_entry, node);
	const struct view *key = arg;
	return e->key_len == key->len && memcmp(e->key, key->p, key->len) == 0;
}

/* The lock is taken by const readers too (a lookup may move buckets). */
static void lock(const struct users *users)
{
	pthread_mutex_lock(&((struct users *)users)->lock);
}

static void unlock(const struct users *users)
{
	pthread_mutex_unlock(&((struct users *)users)->lock);
}

static struct user_entry *find(const struct users *users, struct view user, struct view domain)
{
	char key[USERS_KEY_MAX];
	size_t len;

	if (make_key(user, domain, key, &len) != 0)
		return NULL;
	struct view k = view_make(key, len);
	/* hmap_find moves buckets during a rehash, hence the cast: the table's
	 * contents do not change. */
	struct hmap *m = (struct hmap *)&users->map;
	struct hmap_node *n = hmap_find(m, hmap_hash(m, key, len), entry_match, &k);
	return n ? HMAP_ENTRY(n, struct user_entry, node) : NULL;
}

/* 0-15 for a hex digit, 255 otherwise (a table: a million users load in
 * well under a second). */
static const uint8_t hex_value[256] = {
	['0'] = 0,   ['1'] = 1,   ['2'] = 2,   ['3'] = 3,   ['4'] = 4,   ['5'] = 5,
	['6'] = 6,   ['7'] = 7,   ['8'] = 8,   ['9'] = 9,   ['a'] = 10,  ['b'] = 11,
	['c'] = 12,  ['d'] = 13,  ['e'] = 14,  ['f'] = 15,  ['A'] = 10,  ['B'] = 11,
	['C'] = 12,  ['D'] = 13,  ['E'] = 14,  ['F'] = 15,
};

static int hex_byte(char c)
{
	unsigned char u = (unsigned char)c;
	if (hex_value[u] == 0 && u != '0')
		return -1;
	return hex_value[u];
}

static bool hex_decode(const char *hex, size_t want, uint8_t *out)
{
	if (strlen(hex) != want * 2)
		return false;
	for (size_t i = 0; i < want; i++) {
		int hi = hex_byte(hex[2 * i]), lo = hex_byte(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static int entry_new(const struct store_user *su, struct user_entry **out)
{
	const char *hex[DIGEST_ALG_COUNT] = { su->ha1_md5, su->ha1_sha256, su->ha1_sha512_256 };
	char key[USERS_KEY_MAX];
	size_t len;
	struct user_entry *e;

	if (make_key(view_from_cstr(su->user), view_from_cstr(su->domain), key, &len) != 0)
		return EMSGSIZE;
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return ENOMEM;
	for (int a = 0; a < DIGEST_ALG_COUNT; a++) {
		if (!hex_decode(hex[a], digest_hex_len((enum digest_alg)a) / 2, e->ha1[a])) {
			free(e);
			return EINVAL;
		}
	}
	e->key_len = (uint16_t)len;
	memcpy(e->key, key, len + 1);
	*out = e;
	return 0;
}

static void map_put(struct hmap *m, struct user_entry *e)
{
	struct view k = view_make(e->key, e->key_len);
	uint64_t h = hmap_hash(m, e->key, e->key_len);
	struct hmap_node *old = hmap_find(m, h, entry_match, &k);

	if (old) {
		hmap_remove(m, old);
		free(HMAP_ENTRY(old, struct user_entry, node));
	}
	hmap_insert(m, &e->node, h);
}

int users_put(struct users *users, const struct store_user *user)
{
	struct user_entry *e;
	int rc = entry_new(user, &e);

	if (rc == 0) {
		pthread_mutex_lock(&users->lock);
		map_put(&users->map, e);
		pthread_mutex_unlock(&users->lock);
	}
	return rc;
}

struct load_ctx {
	struct hmap *map;
	int err;
	size_t skipped;
};

static void load_one(const struct store_user *su, void *arg)
{
	struct load_ctx *ctx = arg;
	struct user_entry *e;
	int rc;

	if (ctx->err)
		return;
	rc = entry_new(su, &e);
	if (rc == ENOMEM) {
		ctx->err = rc;
		return;
	}
	if (rc != 0) {
		ctx->skipped++;
		log_warn("user %s@%s has a malformed HA1 in the database: skipped", su->user,
			 su->domain);
		return;
	}
	/* rows are unique (user, domain): no search before the insert */
	hmap_insert(ctx->map, &e->node, hmap_hash(ctx->map, e->key, e->key_len));
}

int users_load(struct users *users, struct store *store)
{
	struct hmap fresh;
	struct load_ctx ctx = { .map = &fresh };
	int rc = hmap_init(&fresh, store_user_count(store));

	if (rc != 0)
		return rc;
	rc = store_user_each_unordered(store, load_one, &ctx);
	if (rc == 0)
		rc = ctx.err;
	if (rc != 0) {
		map_clear(&fresh);
		return rc;
	}
	pthread_mutex_lock(&users->lock);
	struct hmap old = users->map;
	users->map = fresh;
	pthread_mutex_unlock(&users->lock);
	map_clear(&old);
	return 0;
}

int users_ha1(const struct users *users, struct view user, struct view domain,
	      enum digest_alg alg, char ha1[DIGEST_HEX_MAX])
{
	static const char digits[] = "0123456789abcdef";
	const struct user_entry *e;
	size_t n;

	if ((unsigned)alg >= DIGEST_ALG_COUNT)
		return ENOENT;
	n = digest_hex_len(alg) / 2;
	lock(users);
	e = find(users, user, domain);
	if (e) {
		for (size_t i = 0; i < n; i++) {
			ha1[2 * i] = digits[e->ha1[alg][i] >> 4];
			ha1[2 * i + 1] = digits[e->ha1[alg][i] & 15];
		}
		ha1[2 * n] = '\0';
	}
	unlock(users);
	return e ? 0 : ENOENT;
}

bool users_exists(const struct users *users, struct view user, struct view domain)
{
	lock(users);
	bool found = find(users, user, domain) != NULL;
	unlock(users);
	return found;
}

size_t users_count(const struct users *users)
{
	lock(users);
	size_t n = hmap_count(&users->map);
	unlock(users);
	return n;
}

/*
 * hashmap.c - intrusive hash map with incremental two-table growth.
 *
 * See hashmap.h for the invariant that places each node on exactly one
 * chain. Chains are singly linked; removal walks the node's chain to find
 * its predecessor, which costs the chain length (about one at load 1) and
 * saves a pointer per node.
 */
#include "base/hashmap.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/random.h"

/* Bound on buckets for the table's byte size to fit in size_t. */
#define HMAP_MAX_BUCKETS (SIZE_MAX / sizeof(struct hmap_node *))

static size_t bucket_of(uint64_t hash, size_t mask)
{
	return (size_t)(hash & (uint64_t)mask);
}

/* The chain head where a node with this hash is (or goes). */
static struct hmap_node **chain_of(struct hmap *m, uint64_t hash)
{
	if (m->old_table) {
		size_t i = bucket_of(hash, m->old_mask);

		if (i >= m->rehash_pos)
			return &m->old_table[i];
	}
	return &m->table[bucket_of(hash, m->mask)];
}

/* Moves up to n old buckets; frees the old table once it is drained. */
static void rehash_step(struct hmap *m, size_t n)
{
	size_t old_buckets;

	if (!m->old_table)
		return;
	old_buckets = m->old_mask + 1;
	while (n > 0 && m->rehash_pos < old_buckets) {
		struct hmap_node *node = m->old_table[m->rehash_pos];

		m->old_table[m->rehash_pos] = NULL;
		m->rehash_pos++;
		while (node) {
			struct hmap_node *next = node->next;
			struct hmap_node **slot =
				&m->table[bucket_of(node->hash, m->mask)];

			node->next = *slot;
			*slot = node;
			node = next;
		}
		n--;
	}
	if (m->rehash_pos == old_buckets) {
		free(m->old_table);
		m->old_table = NULL;
		m->old_mask = 0;
		m->rehash_pos = 0;
	}
}

/*
 * Starts draining into a table twice as large. On allocation failure the
 * map stays as it is and tries again after another table's worth of
 * inserts; a failure is never reported to the inserting caller.
 */
static void grow(struct hmap *m)
{
	size_t buckets = m->mask + 1;
	struct hmap_node **table;

	if (m->old_table)
		return; /* still draining; cannot happen at load 1, see .h */
	if (buckets > HMAP_MAX_BUCKETS / 2) {
		m->grow_at = SIZE_MAX;
		return;
	}
	table = calloc(buckets * 2, sizeof(*table));
	if (!table) {
		m->grow_at = m->count > SIZE_MAX - buckets ?
			SIZE_MAX : m->count + buckets;
		return;
	}
	m->old_table = m->table;
	m->old_mask = m->mask;
	m->rehash_pos = 0;
	m->table = table;
	m->mask = buckets * 2 - 1;
	m->grow_at = buckets * 2;
}

int hmap_init(struct hmap *m, size_t initial_buckets)
{
	struct siphash_key key;
	struct hmap_node **table;
	size_t buckets = HMAP_MIN_BUCKETS;
	int err;

	while (buckets < initial_buckets) {
		if (buckets > HMAP_MAX_BUCKETS / 2)
			return ENOMEM;
		buckets *= 2;
	}
	err = random_bytes(&key, sizeof(key));
	if (err)
		return err;
	table = calloc(buckets, sizeof(*table));
	if (!table)
		return ENOMEM;

	*m = (struct hmap){
		.table = table,
		.mask = buckets - 1,
		.grow_at = buckets,
		.key = key,
	};
	return 0;
}

void hmap_fini(struct hmap *m)
{
	free(m->table);
	free(m->old_table);
	*m = (struct hmap){ 0 };
}

uint64_t hmap_hash(const struct hmap *m, const void *data, size_t len)
{
	return siphash24(&m->key, data, len);
}

uint64_t hmap_hash_nocase(const struct hmap *m, const void *data, size_t len)
{
	return siphash24_nocase(&m->key, data, len);
}

void hmap_insert(struct hmap *m, struct hmap_node *node, uint64_t hash)
{
	struct hmap_node **slot;

	rehash_step(m, HMAP_REHASH_STEP);
	if (m->count >= m->grow_at)
		grow(m);
	node->hash = hash;
	slot = chain_of(m, hash);
	node->next = *slot;
	*slot = node;
	m->count++;
}

struct hmap_node *hmap_find(struct hmap *m, uint64_t hash,
			    hmap_match_h *match, const void *arg)
{
	struct hmap_node *node;

	assert(match);
	rehash_step(m, HMAP_REHASH_STEP);
	for (node = *chain_of(m, hash); node; node = node->next) {
		if (node->hash == hash && match(node, arg))
			return node;
	}
	return NULL;
}

void hmap_remove(struct hmap *m, struct hmap_node *node)
{
	struct hmap_node **link = chain_of(m, node->hash);

	while (*link && *link != node)
		link = &(*link)->next;
	assert(*link == node); /* removing a node that is not in m */
	if (!*link)
		return;
	*link = node->next;
	node->next = NULL;
	m->count--;
	rehash_step(m, HMAP_REHASH_STEP);
}

size_t hmap_count(const struct hmap *m)
{
	return m->count;
}

size_t hmap_bucket_count(const struct hmap *m)
{
	return m->table ? m->mask + 1 : 0;
}

bool hmap_is_rehashing(const struct hmap *m)
{
	return m->old_table != NULL;
}

/* The head of the next non-empty chain from it->bucket on, or NULL. */
static struct hmap_node *iter_scan(struct hmap_iter *it)
{
	struct hmap *m = it->map;

	while (it->bucket <= m->mask) {
		struct hmap_node *head = m->table[it->bucket++];

		if (head)
			return head;
	}
	return NULL;
}

void hmap_iter_init(struct hmap_iter *it, struct hmap *m)
{
	rehash_step(m, SIZE_MAX);
	it->map = m;
	it->table = m->table;
	it->bucket = 0;
	it->next = m->table ? iter_scan(it) : NULL;
}

struct hmap_node *hmap_iter_next(struct hmap_iter *it)
{
	struct hmap_node *node = it->next;

	assert(it->table == it->map->table); /* no growth while iterating */
	if (!node)
		return NULL;
	/* Fetched now, so the caller may unlink and free node. */
	it->next = node->next ? node->next : iter_scan(it);
	return node;
}

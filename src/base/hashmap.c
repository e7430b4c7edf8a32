/*
 * hashmap.c - intrusive hash map with incremental two-table growth.
 *
 * See hashmap.h for the invariant that places each node on exactly one
 * chain. Chains are singly linked; removal walks the node's chain to find
 * its predecessor, which costs the chain length (about one at load 1) and
 * saves a pointer per node.
 *
 * A link (a bucket, or a node's next) is the target node's address with
 * two flags in its low bits, which the node's alignment leaves free:
 * LINK_MORE (the target has a successor) and LINK_TAGGED (bits 48-63 hold
 * the target's tag, the top 16 bits of its hash). An address that itself
 * uses bits 48-63 (not on Linux x86-64 or arm64 without pointer tagging)
 * is stored untagged, and its node is then always read: slower, never
 * wrong. The MORE flag lets a search stop at a foreign last node without
 * reading it, so removal keeps the flag of the predecessor's link right.
 */
#include "base/hashmap.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/random.h"

/* Bound on buckets for the table's byte size to fit in size_t. */
#define HMAP_MAX_BUCKETS (SIZE_MAX / sizeof(uintptr_t))

#define LINK_MORE ((uintptr_t)1)
#define LINK_TAGGED ((uintptr_t)2)
#define LINK_FLAGS (LINK_MORE | LINK_TAGGED)
#define TAG_SHIFT 48

static_assert(_Alignof(struct hmap_node) > LINK_FLAGS, "link flags need free low bits");

static struct hmap_node *link_node(uintptr_t link)
{
#if UINTPTR_MAX > 0xffffffffu
	if (link & LINK_TAGGED)
		link &= ((uintptr_t)1 << TAG_SHIFT) - 1;
#endif
	return (struct hmap_node *)(link & ~LINK_FLAGS);
}

/* A link to node, which has a successor when more. */
static uintptr_t make_link(struct hmap_node *node, bool more)
{
	uintptr_t link = (uintptr_t)node | (more ? LINK_MORE : 0);

#if UINTPTR_MAX > 0xffffffffu
	if (((uintptr_t)node >> TAG_SHIFT) == 0)
		link |= LINK_TAGGED | (uintptr_t)(node->hash >> TAG_SHIFT) << TAG_SHIFT;
#endif
	return link;
}

/* Whether the node link leads to may have this hash (false: it has not). */
static bool link_may_match(uintptr_t link, uint64_t hash)
{
#if UINTPTR_MAX > 0xffffffffu
	if (link & LINK_TAGGED)
		return (link >> TAG_SHIFT) == (uintptr_t)(hash >> TAG_SHIFT);
#else
	(void)hash;
#endif
	return true;
}

/* Links node in at the head of the chain at slot. */
static void push(uintptr_t *slot, struct hmap_node *node)
{
	node->next = *slot;
	*slot = make_link(node, *slot != 0);
}

static size_t bucket_of(uint64_t hash, size_t mask)
{
	return (size_t)(hash & (uint64_t)mask);
}

/* The chain head where a node with this hash is (or goes). */
static uintptr_t *chain_of(struct hmap *m, uint64_t hash)
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
		uintptr_t link = m->old_table[m->rehash_pos];

		m->old_table[m->rehash_pos] = 0;
		m->rehash_pos++;
		while (link) {
			struct hmap_node *node = link_node(link);

			link = node->next;
			push(&m->table[bucket_of(node->hash, m->mask)], node);
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
	uintptr_t *table;

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
	uintptr_t *table;
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
	return siphash13(&m->key, data, len);
}

uint64_t hmap_hash_nocase(const struct hmap *m, const void *data, size_t len)
{
	return siphash13_nocase(&m->key, data, len);
}

void hmap_insert(struct hmap *m, struct hmap_node *node, uint64_t hash)
{
	rehash_step(m, HMAP_REHASH_STEP);
	if (m->count >= m->grow_at)
		grow(m);
	node->hash = hash;
	push(chain_of(m, hash), node);
	m->count++;
}

struct hmap_node *hmap_find(struct hmap *m, uint64_t hash,
			    hmap_match_h *match, const void *arg)
{
	uintptr_t link;

	assert(match);
	rehash_step(m, HMAP_REHASH_STEP);
	for (link = *chain_of(m, hash); link; ) {
		struct hmap_node *node = link_node(link);

		if (link_may_match(link, hash)) {
			if (node->hash == hash && match(node, arg))
				return node;
		} else if (!(link & LINK_MORE)) {
			break; /* a last node with another tag: not read */
		}
		link = node->next;
	}
	return NULL;
}

void hmap_remove(struct hmap *m, struct hmap_node *node)
{
	uintptr_t *pred_link = NULL; /* the link to the predecessor, if any */
	uintptr_t *link = chain_of(m, node->hash);

	while (*link && link_node(*link) != node) {
		pred_link = link;
		link = &link_node(*link)->next;
	}
	assert(*link != 0); /* removing a node that is not in m */
	if (!*link)
		return;
	*link = node->next;
	if (pred_link && !node->next)
		*pred_link &= ~LINK_MORE; /* the predecessor is now last */
	node->next = 0;
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
		uintptr_t head = m->table[it->bucket++];

		if (head)
			return link_node(head);
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
	it->next = node->next ? link_node(node->next) : iter_scan(it);
	return node;
}

/*
 * hashmap.h - intrusive hash map with a keyed hash and incremental growth.
 *
 * The map stores struct hmap_node links embedded in the caller's objects, so
 * inserting never allocates and cannot fail; the map owns only its bucket
 * arrays. It does not know what a key is: the caller hashes the key (with
 * hmap_hash, keyed by a random SipHash-1-3 key drawn in hmap_init, so a peer
 * cannot aim keys at one bucket) and passes a match callback to hmap_find
 * that compares the full key. Equal keys may be inserted twice; which one
 * hmap_find returns is then unspecified.
 *
 * Growth: when the count exceeds the bucket count (load factor 1), a table
 * twice as large is allocated and the old one is drained a few buckets per
 * insert, find and remove (HMAP_REHASH_STEP), so no single call pays for a
 * full rehash and the old table is empty long before the new one is full.
 * If that allocation fails, the map keeps working in its current table at a
 * higher load and retries after as many more inserts as it has buckets.
 * Tables never shrink: a map keeps the size of its peak (a trade-off for
 * simplicity; a registrar's tables rarely fall far below their peak).
 *
 * Invariant while a rehash is in progress: a node whose old-table index
 * (hash & old_mask) is >= rehash_pos is in old_table, every other node is
 * in table. So each node is on exactly one chain, known from its hash.
 *
 * Not thread-safe. Every call, hmap_find included (it moves buckets), needs
 * exclusive access; shared tables are sharded with a lock per shard.
 */
#ifndef SIPD_BASE_HASHMAP_H
#define SIPD_BASE_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/siphash.h"

/*
 * Embed in the object; the map owns the fields while the node is linked.
 *
 * Chain links (a bucket, a node's next) are tagged: beside the address of
 * the node they lead to, they carry 16 bits of that node's hash (in the
 * address's unused top bits, where it has them) and whether that node has
 * a successor. A search reads a node only when its tag matches or the
 * chain goes on past it, so a lookup that misses usually costs one bucket
 * load and no node (at load 1 a chain holds about one foreign node).
 */
struct hmap_node {
	uintptr_t next; /* tagged link to the next node; 0 at the end and when unlinked */
	uint64_t hash;  /* as given to hmap_insert */
};

struct hmap {
	uintptr_t *table;             /* owned; mask + 1 chains (tagged links) */
	size_t mask;                  /* bucket count - 1 (a power of two) */
	uintptr_t *old_table;         /* owned; being drained; NULL if none */
	size_t old_mask;              /* old bucket count - 1 */
	size_t rehash_pos;            /* old buckets below this are moved */
	size_t count;                 /* linked nodes, both tables */
	size_t grow_at;               /* growth starts when count exceeds it */
	struct siphash_key key;       /* random; drawn by hmap_init */
};

/* A table never has fewer buckets than this. */
#define HMAP_MIN_BUCKETS 8
/* Old buckets moved to the new table by each insert, find and remove. */
#define HMAP_REHASH_STEP 4

/* The object that contains node; type and member name the embedding. */
#define HMAP_ENTRY(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

/* Whether node is the one searched for; arg is hmap_find's arg. */
typedef bool (hmap_match_h)(const struct hmap_node *node, const void *arg);

/*
 * initial_buckets is rounded up to a power of two (at least
 * HMAP_MIN_BUCKETS). ENOMEM, or the errno of random_bytes. *m is written
 * only on success.
 */
int hmap_init(struct hmap *m, size_t initial_buckets);
/* Frees the tables; the nodes are the caller's and are not touched. */
void hmap_fini(struct hmap *m);

uint64_t hmap_hash(const struct hmap *m, const void *data, size_t len);
/* Hash of the data with ASCII A-Z lowercased, for case-insensitive keys. */
uint64_t hmap_hash_nocase(const struct hmap *m, const void *data, size_t len);

/* Links node (not already linked) under hash. Never fails. */
void hmap_insert(struct hmap *m, struct hmap_node *node, uint64_t hash);
/*
 * First node with this hash for which match (not NULL) returns true, or
 * NULL. Borrowed pointer. match must not modify the map.
 */
struct hmap_node *hmap_find(struct hmap *m, uint64_t hash,
			    hmap_match_h *match, const void *arg);
/* Unlinks node, which must be linked in m. */
void hmap_remove(struct hmap *m, struct hmap_node *node);
size_t hmap_count(const struct hmap *m);
size_t hmap_bucket_count(const struct hmap *m);
/* Whether an old table is still being drained (for tests and metrics). */
bool hmap_is_rehashing(const struct hmap *m);

/*
 * Iteration over every node, in no particular order:
 *
 *	struct hmap_iter it;
 *	struct hmap_node *n;
 *	hmap_iter_init(&it, &map);
 *	while ((n = hmap_iter_next(&it)) != NULL)
 *		...
 *
 * hmap_iter_init first completes a pending rehash (at most one pass over
 * the old table, within the O(n) the iteration costs anyway), so the walk
 * covers one table and each node is returned exactly once.
 *
 * During an iteration the caller may remove (and free) the node last
 * returned, and may call hmap_find. It must not insert (an insert may start
 * a growth, which moves nodes under the iterator; debug builds assert) and
 * must not remove any other node (the iterator holds the next one). Nothing
 * needs releasing at the end.
 */
struct hmap_iter {
	struct hmap *map;
	uintptr_t *table;         /* map's table at init, to detect growth */
	struct hmap_node *next;   /* node the next call returns; NULL at end */
	size_t bucket;            /* first bucket not yet scanned */
};

void hmap_iter_init(struct hmap_iter *it, struct hmap *m);
struct hmap_node *hmap_iter_next(struct hmap_iter *it);

#endif

/*
 * mem.c - the per-thread block lists of mem.h.
 *
 * Each thread has one singly linked list per block size, linked through the
 * first bytes of the blocks. The first put registers the thread's lists
 * with a pthread key whose destructor frees them when the thread ends.
 */
#include "base/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MEM_ASAN 1
#endif
#ifdef MEM_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static const size_t block_sizes[] = { 384, 512, 640, 768, 896, 1024, 2048, 4096, MEM_BLOCK_MAX };
#define CLASS_COUNT (sizeof(block_sizes) / sizeof(block_sizes[0]))

struct cached {
	struct cached *next; /* stays readable: LeakSanitizer follows it */
};

struct cache {
	struct cached *head[CLASS_COUNT];
	unsigned count[CLASS_COUNT];
	bool registered; /* the thread-exit destructor knows this cache */
};

static _Thread_local struct cache thread_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;
static bool cache_key_ok;
static atomic_size_t drained_total;

static size_t cache_free_all(struct cache *c)
{
	size_t n = 0;

	for (size_t k = 0; k < CLASS_COUNT; k++) {
		while (c->head[k]) {
			struct cached *b = c->head[k];

			UNPOISON(b, block_sizes[k]);
			c->head[k] = b->next;
			free(b);
			n++;
		}
		c->count[k] = 0;
	}
	return n;
}

/* The pthread key's destructor, as the thread ends. */
static void cache_drain(void *arg)
{
	struct cache *c = arg;

	atomic_fetch_add_explicit(&drained_total, cache_free_all(c), memory_order_relaxed);
	c->registered = false; /* a later put registers again */
}

void mem_cache_flush(void)
{
	cache_free_all(&thread_cache);
}

static void cache_key_create(void)
{
	cache_key_ok = pthread_key_create(&cache_key, cache_drain) == 0;
}

/* Index of the smallest block size >= size, or CLASS_COUNT. */
static size_t class_of(size_t size)
{
	if (size <= MEM_BLOCK_MIN)
		return CLASS_COUNT;
	if (size <= 1024) /* 384 ... 1024: classes 0 to 5 */
		return (size + MEM_BLOCK_STEP - 1) / MEM_BLOCK_STEP - 3;
	for (size_t k = 6; k < CLASS_COUNT; k++) {
		if (size <= block_sizes[k])
			return k;
	}
	return CLASS_COUNT;
}

size_t mem_block_size(size_t size)
{
	size_t k = class_of(size);

	return k < CLASS_COUNT ? block_sizes[k] : 0;
}

void *mem_block_get(size_t size)
{
	struct cache *c = &thread_cache;
	size_t k = class_of(size);

	if (k == CLASS_COUNT)
		return NULL;
	struct cached *b = c->head[k];
	if (!b)
		return malloc(block_sizes[k]);
	UNPOISON(b + 1, block_sizes[k] - sizeof(*b));
	c->head[k] = b->next;
	c->count[k]--;
	return b;
}

void mem_block_put(void *p, size_t block)
{
	struct cache *c = &thread_cache;
	size_t k = class_of(block);

	if (!p)
		return;
	if (k == CLASS_COUNT || block_sizes[k] != block || c->count[k] >= MEM_CACHE_DEPTH) {
		free(p);
		return;
	}
	if (!c->registered) {
		/* the destructor runs only for a non-NULL value: set once */
		pthread_once(&cache_key_once, cache_key_create);
		if (!cache_key_ok || pthread_setspecific(cache_key, c) != 0) {
			free(p);
			return;
		}
		c->registered = true;
	}
	struct cached *b = p;
	b->next = c->head[k];
	c->head[k] = b;
	c->count[k]++;
	POISON(b + 1, block - sizeof(*b));
}

void *mem_zalloc(size_t size)
{
	size_t block = mem_block_size(size);

	if (!block)
		return zalloc(size);
	void *p = mem_block_get(block);
	if (p)
		memset(p, 0, size);
	return p;
}

void mem_free(void *p, size_t size)
{
	size_t block = mem_block_size(size);

	if (block)
		mem_block_put(p, block);
	else
		free(p);
}

size_t mem_cached_blocks(void)
{
	size_t n = 0;

	for (size_t k = 0; k < CLASS_COUNT; k++)
		n += thread_cache.count[k];
	return n;
}

size_t mem_blocks_drained(void)
{
	return atomic_load_explicit(&drained_total, memory_order_relaxed);
}

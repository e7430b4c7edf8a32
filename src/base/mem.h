/*
 * mem.h - allocation for the per-message paths.
 *
 * zalloc: glibc's calloc never takes a chunk from the per-thread cache
 * (tcache); it always goes to the shared bins, about 250 instructions where
 * a malloc of a cached size costs 20. zalloc is malloc and memset, which
 * gets the cache; use it for objects made and freed per message. Start-up
 * allocations may keep calloc.
 *
 * Blocks: glibc's per-thread cache stops at about 1 KB and keeps 7 chunks
 * of a size, and above it every malloc and free of a received packet went
 * through the shared bins (about 900 instructions a pair, and now and then
 * a consolidation of the small bins). Objects that live for a
 * transaction's 32 seconds went there too: thousands are freed before the
 * next of their size is made, far more than 7. mem_block_get hands out
 * blocks from a list kept by each thread: of 384 to 1024 bytes in steps of
 * 128 (transactions, proxy contexts, the messages a buf holds), and of 2,
 * 4 or 8 KB (packets); mem_block_put gives one back to the calling
 * thread's list, up to MEM_CACHE_DEPTH per size, and frees the rest. A block is ordinary
 * malloc memory, so the thread that frees it need not be the one that
 * allocated it. A thread's lists are freed when the thread ends. Under
 * AddressSanitizer a cached block is poisoned, so a use after its release
 * is still caught.
 */
#ifndef SIPD_BASE_MEM_H
#define SIPD_BASE_MEM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* size zeroed bytes, or NULL when out of memory. */
static inline void *zalloc(size_t size)
{
	void *p = malloc(size);

	/* hides p from the optimiser, which would fold malloc and a memset
	 * of zero back into calloc */
	__asm__("" : "+r"(p));
	if (p)
		memset(p, 0, size);
	return p;
}

/* n zeroed elements of size bytes; NULL when out of memory or when the
 * product does not fit in size_t (calloc's contract). */
static inline void *zalloc_array(size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return zalloc(n * size);
}

/* Sizes above this and up to MEM_BLOCK_MAX come from the block lists. */
#define MEM_BLOCK_MIN 256u
/* Block sizes up to 1024 are multiples of this. */
#define MEM_BLOCK_STEP 128u
#define MEM_BLOCK_MAX 8192u
/* Blocks a thread keeps per size. */
#define MEM_CACHE_DEPTH 64u

/* The block size that serves size bytes, for a size in (MEM_BLOCK_MIN,
 * MEM_BLOCK_MAX]: size rounded up to MEM_BLOCK_STEP up to 1024, then
 * 2048, 4096 or 8192; else 0 (use malloc). */
size_t mem_block_size(size_t size);
/* An uninitialised block of mem_block_size(size) bytes (size must have
 * one), or NULL when out of memory. */
void *mem_block_get(size_t size);
/* Releases p, which holds at least block bytes: kept for reuse when block
 * is one of the block sizes and this thread's list has room, else freed.
 * NULL-safe. */
void mem_block_put(void *p, size_t block);
/* size zeroed bytes, from a block when size has one (else zalloc); NULL
 * when out of memory. Released with mem_free and the same size. */
void *mem_zalloc(size_t size);
/* Releases p from mem_zalloc(size). NULL-safe. */
void mem_free(void *p, size_t size);
/* Frees the calling thread's cached blocks. */
void mem_cache_flush(void);
/* Blocks in the calling thread's lists (tests, metrics). */
size_t mem_cached_blocks(void);
/* Blocks freed from the lists of threads that ended, process-wide. */
size_t mem_blocks_drained(void);

#endif

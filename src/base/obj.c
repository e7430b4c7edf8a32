/*
 * obj.c - reference-counted allocations.
 *
 * Layout: [struct obj_header][user memory]. The header is a union with
 * max_align_t, so its size is a multiple of that alignment and the user
 * memory after it is aligned as malloc would align it.
 *
 * Objects of more than MEM_BLOCK_MIN bytes (a received packet, a
 * transaction) are blocks of mem.h's per-thread lists; the low byte of the
 * header's magic says so (the block's size / MEM_BLOCK_STEP), 0 for a
 * plain malloc.
 *
 * Memory order: a reference is only taken by someone who already holds one,
 * so obj_ref can be relaxed. obj_unref releases, and the thread that drops
 * the count to zero acquires before the destructor runs, so every write made
 * by other holders before their unref is visible to the destructor.
 */
#include "base/obj.h"

#include <assert.h>
#include <limits.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

/* "obj" then the block size / MEM_BLOCK_STEP (0: a plain malloc); catches
 * foreign pointers */
#define OBJ_MAGIC 0x6f626a00u
#define OBJ_MAGIC_MASK 0xffffff00u
#define OBJ_MAGIC_OK(m) (((m)&OBJ_MAGIC_MASK) == OBJ_MAGIC)

struct obj_header {
	union {
		struct {
			atomic_uint refs;      /* live references */
			unsigned magic;        /* OBJ_MAGIC while alive */
			obj_destroy_h *destroy; /* may be NULL */
		} h;
		max_align_t align; /* keeps the user memory aligned */
	} u;
};

static_assert(MEM_BLOCK_MAX / MEM_BLOCK_STEP <= 0xff, "block size must fit the magic's low byte");
static_assert(MEM_BLOCK_MAX % MEM_BLOCK_STEP == 0, "block sizes must be steps");
static_assert(sizeof(struct obj_header) % alignof(max_align_t) == 0,
	      "object header must keep max_align_t alignment");

static struct obj_header *header_of(const void *obj)
{
	uintptr_t p = (uintptr_t)obj - sizeof(struct obj_header);

	return (struct obj_header *)p;
}

static void *obj_new(size_t size, obj_destroy_h *destroy, bool zero)
{
	struct obj_header *hdr;
	size_t block = 0;

	if (size > SIZE_MAX - sizeof(*hdr))
		return NULL;
	block = mem_block_size(sizeof(*hdr) + size);
	if (block) {
		hdr = mem_block_get(block);
		if (hdr && zero)
			memset(hdr + 1, 0, size);
	} else {
		hdr = zero ? zalloc(sizeof(*hdr) + size) : malloc(sizeof(*hdr) + size);
	}
	if (!hdr)
		return NULL;
	atomic_init(&hdr->u.h.refs, 1);
	hdr->u.h.magic = OBJ_MAGIC | (unsigned)(block / MEM_BLOCK_STEP);
	hdr->u.h.destroy = destroy;
	return hdr + 1;
}

void *obj_alloc(size_t size, obj_destroy_h *destroy)
{
	return obj_new(size, destroy, true);
}

void *obj_alloc_uninit(size_t size, obj_destroy_h *destroy)
{
	return obj_new(size, destroy, false);
}

size_t obj_alloc_room(size_t size)
{
	if (size > SIZE_MAX - sizeof(struct obj_header))
		return size;
	size_t block = mem_block_size(sizeof(struct obj_header) + size);

	return block ? block - sizeof(struct obj_header) : size;
}

void *obj_ref(void *obj)
{
	struct obj_header *hdr;

	if (!obj)
		return NULL;
	hdr = header_of(obj);
	assert(OBJ_MAGIC_OK(hdr->u.h.magic));
	unsigned old = atomic_fetch_add_explicit(&hdr->u.h.refs, 1,
						 memory_order_relaxed);
	assert(old > 0 && old < UINT_MAX);
	(void)old;
	return obj;
}

void *obj_unref(void *obj)
{
	struct obj_header *hdr;
	unsigned old;

	if (!obj)
		return NULL;
	hdr = header_of(obj);
	assert(OBJ_MAGIC_OK(hdr->u.h.magic));
	old = atomic_fetch_sub_explicit(&hdr->u.h.refs, 1,
					memory_order_release);
	assert(old > 0);
	if (old != 1)
		return NULL;

	atomic_thread_fence(memory_order_acquire);
	if (hdr->u.h.destroy)
		hdr->u.h.destroy(obj);
	size_t block = (size_t)(hdr->u.h.magic & ~OBJ_MAGIC_MASK) * MEM_BLOCK_STEP;
	hdr->u.h.magic = 0;
	if (block)
		mem_block_put(hdr, block);
	else
		free(hdr);
	return NULL;
}

unsigned obj_refcount(const void *obj)
{
	if (!obj)
		return 0;
	return atomic_load_explicit(&header_of(obj)->u.h.refs,
				    memory_order_relaxed);
}

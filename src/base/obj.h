/*
 * obj.h - reference-counted allocations with a destructor.
 *
 * obj_alloc returns zeroed memory with one reference. The last obj_unref
 * runs the destructor (which releases what the object holds and unlinks it
 * from every index) and then frees the memory. obj_unref always returns
 * NULL, so a release and the clearing of the pointer are one statement:
 *
 *	conn = obj_unref(conn);
 *
 * The reference count is a C11 atomic: objects may be shared between worker
 * threads, and ref/unref from different threads need no lock. The contents
 * of the object are not protected by anything here.
 *
 * A hidden header sits just before the pointer handed out; the pointer keeps
 * the alignment of max_align_t. Only pointers returned by obj_alloc may be
 * passed to these functions (never malloc'ed memory or an interior pointer).
 * Not done: weak references, resurrection from a destructor.
 *
 * An object of more than MEM_BLOCK_MIN bytes is a block from mem.h's
 * per-thread lists, so a packet's or a transaction's allocation and free
 * are a list pop and push (and a memset for obj_alloc).
 */
#ifndef SIPD_BASE_OBJ_H
#define SIPD_BASE_OBJ_H

#include <stddef.h>

/* Runs once, when the last reference goes; must not free obj itself. */
typedef void (obj_destroy_h)(void *obj);

/* Zeroed, refcount 1; NULL when out of memory. destroy may be NULL. */
void *obj_alloc(size_t size, obj_destroy_h *destroy);
/* The same without clearing the memory: the caller sets every field it
 * reads (a received packet: kilobytes per message). */
void *obj_alloc_uninit(size_t size, obj_destroy_h *destroy);
/* Bytes obj_alloc_uninit(size, ...) makes usable, at least size: a size
 * served from a block (mem.h) gets the whole block after the header. */
size_t obj_alloc_room(size_t size);
/* Takes a reference; returns obj. NULL-safe. */
void *obj_ref(void *obj);
/* Drops a reference; destroys and frees at zero. Returns NULL. NULL-safe. */
void *obj_unref(void *obj);
/* Current count; a snapshot only, for tests and assertions. 0 for NULL. */
unsigned obj_refcount(const void *obj);

#endif

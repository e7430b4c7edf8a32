/*
 * buf.c - growable byte buffer.
 *
 * Growth doubles the capacity (at least BUF_MIN_CAP), falling back to the
 * exact size needed when doubling would overflow. One byte past len is
 * always kept for the terminating NUL; see buf.h for the invariants.
 *
 * A capacity in mem.h's block range is rounded up to its block and the
 * storage is a block: a transaction keeps the message it sent for up to
 * 32 seconds, and glibc's bins made those allocations the slow ones. So
 * the capacity is a block size exactly when the storage is a block.
 */
#include "base/buf.h"

#include "base/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_fini(struct buf *b)
{
	if (b->data) { /* many bufs are never written: no free(NULL) call */
		mem_free(b->data, b->cap);
		buf_init(b);
	}
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->data[len] = '\0'; /* b->len > 0 before: data is allocated */
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need;
	size_t cap;
	char *data;

	/* need = len + extra + 1 (the NUL), checked */
	if (extra > SIZE_MAX - 1 - b->len)
		return EMSGSIZE;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;

	/* the first allocation is what is asked for (a message rendered in
	 * one go stays its size); growth after that doubles */
	cap = b->cap == 0 ? (need < BUF_MIN_CAP ? BUF_MIN_CAP : need) : b->cap;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}

	size_t block = mem_block_size(cap);
	if (block) {
		cap = block;
		data = mem_block_get(block);
		if (!data)
			return ENOMEM;
		if (b->data) {
			memcpy(data, b->data, b->len);
			mem_free(b->data, b->cap);
		}
	} else if (mem_block_size(b->cap)) { /* a block growing past them */
		data = malloc(cap);
		if (!data)
			return ENOMEM;
		memcpy(data, b->data, b->len);
		mem_block_put(b->data, b->cap);
	} else {
		data = realloc(b->data, cap);
		if (!data)
			return ENOMEM;
	}
	data[b->len] = '\0';
	b->data = data;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	int err;

	if (len == 0)
		return 0;
	/*
	 * Appending a piece of the buffer to itself survives the realloc.
	 * Compared as integers: relational operators on pointers into
	 * different objects are undefined.
	 */
	uintptr_t src = (uintptr_t)data;
	uintptr_t start = (uintptr_t)b->data;
	if (b->data && src >= start && src - start < b->len) {
		size_t off = (size_t)(src - start);

		err = buf_reserve(b, len);
		if (err)
			return err;
		data = b->data + off;
	} else {
		err = buf_reserve(b, len);
		if (err)
			return err;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_view(struct buf *b, struct view v)
{
	return buf_append(b, v.p, v.len);
}

int buf_append_iov(struct buf *b, const struct iovec *iov, size_t n)
{
	size_t total = 0;
	int err;

	for (size_t i = 0; i < n; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return EMSGSIZE;
		total += iov[i].iov_len;
	}
	err = buf_reserve(b, total);
	for (size_t i = 0; i < n && err == 0; i++)
		err = buf_append(b, iov[i].iov_base, iov[i].iov_len);
	return err;
}

int buf_append_uint(struct buf *b, unsigned long long v)
{
	char digits[VIEW_U64_DIGITS];

	return buf_append(b, digits, view_u64_format(v, digits));
}

int buf_append_strs(struct buf *b, ...)
{
	va_list ap;
	size_t total = 0;
	const char *s;
	int err;

	va_start(ap, b);
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t n = strlen(s);
		if (n > SIZE_MAX - total) {
			va_end(ap);
			return EMSGSIZE;
		}
		total += n;
	}
	va_end(ap);
	err = buf_reserve(b, total);
	if (err)
		return err;
	va_start(ap, b);
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t n = strlen(s);
		memcpy(b->data + b->len, s, n);
		b->len += n;
	}
	va_end(ap);
	b->data[b->len] = '\0';
	return 0;
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	size_t room;
	int n;
	int err;

	/* First try in the space already there; most calls fit. */
	room = b->cap > b->len ? b->cap - b->len : 0;
	va_copy(ap2, ap);
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		err = EINVAL;
		goto out;
	}
	if ((size_t)n < room) {
		b->len += (size_t)n;
		return 0;
	}

	err = buf_reserve(b, (size_t)n);
	if (err)
		goto out;
	va_copy(ap2, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		err = EINVAL;
		goto out;
	}
	b->len += (size_t)n;
	return 0;

out:
	/* vsnprintf may have written past len: restore the terminator. */
	if (b->data)
		b->data[b->len] = '\0';
	return err;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return err;
}

struct view buf_view(const struct buf *b)
{
	return view_make(b->data ? b->data : "", b->len);
}

/*
 * buf.h - growable byte buffer owned by its user.
 *
 * A buf is storage the caller owns (buf_init/buf_fini), used to build output
 * such as a rendered SIP message or a log line. It grows geometrically, so n
 * appends cost O(n) in total; every size computation is overflow-checked.
 *
 * Invariants: len <= cap; data == NULL iff cap == 0; once data is allocated,
 * data[len] is a NUL byte (one byte beyond len is always reserved), so the
 * contents can be handed to functions that want a C string. The NUL is not
 * counted in len and the contents may hold other NUL bytes.
 *
 * A failed call leaves the buffer exactly as it was (contents, len and the
 * terminating NUL). Not thread-safe: one owner at a time.
 */
#ifndef SIPD_BASE_BUF_H
#define SIPD_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>

#include "base/view.h"

struct buf {
	char *data; /* owned; NULL until the first allocation */
	size_t len; /* bytes in use, excluding the terminating NUL */
	size_t cap; /* bytes allocated, including room for the NUL */
};

/* Smallest allocation. The first allocation is the size asked for (at
 * least this, and rounded up to its block where mem.h has one: see
 * buf.c); later growth doubles the capacity. */
#define BUF_MIN_CAP 64

void buf_init(struct buf *b);
/* Frees the storage and leaves an empty, reusable buffer. */
void buf_fini(struct buf *b);
/* Empties the buffer but keeps its storage. */
void buf_reset(struct buf *b);
/* Drops the bytes from len on (a len at or past b->len changes nothing),
 * keeping the terminating NUL: use it, never a bare b->len store. */
void buf_truncate(struct buf *b, size_t len);
/*
 * Makes room for at least extra more bytes after len (plus the NUL).
 * EMSGSIZE if the size would overflow size_t, ENOMEM.
 */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_view(struct buf *b, struct view v);
/* Inline, so that the length of a string literal is known at compile time
 * (most callers append literals: a strlen each was 34 calls per REGISTER
 * pair). */
static inline int buf_append_cstr(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}
/* The n pieces in order, with one growth for all of them. */
int buf_append_iov(struct buf *b, const struct iovec *iov, size_t n);
/* Decimal digits of v, without printf. */
int buf_append_uint(struct buf *b, unsigned long long v);
/* The strings up to the NULL, in order, with one growth for all of them;
 * on failure the buffer is as it was. */
int buf_append_strs(struct buf *b, ...) __attribute__((sentinel));
/* Appends formatted text; EINVAL if the format fails (vsnprintf < 0). */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Borrowed view of the contents; invalidated by the next growth or fini. */
struct view buf_view(const struct buf *b);

#endif

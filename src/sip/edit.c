/*
 * edit.c - forwarding edit list and its rendering. See edit.h.
 *
 * Offsets are relative to msg->buf. A header line's span is
 * [name.p, name.p + line_len): removing it removes its line end too. To
 * remove the first value of a line that holds several ("Route: <a>, <b>"),
 * the bytes from the value's start to the start of the next value go.
 */
#include "sip/edit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip/lex.h"

void sip_edit_init(struct sip_edit *edit, const struct sip_msg *msg)
{
	edit->msg = msg;
	edit->op_count = 0;
	edit->text_len = 0;
}

static uint32_t offset_of(const struct sip_edit *edit, const char *p)
{
	return (uint32_t)(p - edit->msg->buf);
}

/* Removals must not intersect, and an insertion must not fall strictly
 * inside a removal (at either edge it is fine). */
static bool overlaps(const struct sip_edit *edit, uint32_t off, uint32_t del)
{
	for (unsigned i = 0; i < edit->op_count; i++) {
		const struct sip_edit_op *op = &edit->ops[i];
		if (del > 0 && op->del > 0) {
			if (off < op->off + op->del && op->off < off + del)
				return true;
		} else if (del > 0) {
			if (op->off > off && op->off < off + del)
				return true;
		} else if (op->del > 0) {
			if (off > op->off && off < op->off + op->del)
				return true;
		}
	}
	return false;
}

/* Add an edit whose text is the concatenation of up to three parts. */
static int op_add(struct sip_edit *edit, uint32_t off, uint32_t del, struct view a, struct view b,
		  struct view c)
{
	size_t len = a.len + b.len + c.len;

	if (edit->op_count >= SIP_EDIT_MAX_OPS || len > SIP_EDIT_MAX_TEXT - edit->text_len)
		return EMSGSIZE;
	if (overlaps(edit, off, del))
		return EINVAL;
	struct sip_edit_op *op = &edit->ops[edit->op_count];
	op->off = off;
	op->del = del;
	op->text_off = (uint32_t)edit->text_len;
	op->text_len = (uint32_t)len;
	op->seq = edit->op_count;
	if (a.len)
		memcpy(edit->text + edit->text_len, a.p, a.len);
	if (b.len)
		memcpy(edit->text + edit->text_len + a.len, b.p, b.len);
	if (c.len)
		memcpy(edit->text + edit->text_len + a.len + b.len, c.p, c.len);
	edit->text_len += len;
	edit->op_count++;
	return 0;
}

static const struct view empty = { "", 0 };

static uint32_t first_header_off(const struct sip_edit *edit)
{
	const struct sip_msg *m = edit->msg;
	if (m->hdr_count > 0)
		return offset_of(edit, m->hdrs[0].name.p);
	return m->headers_end;
}

static int insert_line_before(struct sip_edit *edit, enum sip_hdr_id before, const char *name,
			      struct view value)
{
	const struct sip_hdr *h = sip_msg_hdr_find(edit->msg, before);
	uint32_t off = h ? offset_of(edit, h->name.p) : first_header_off(edit);
	char prefix[64];
	size_t n = strlen(name);

	if (n + 2 > sizeof(prefix))
		return EINVAL;
	memcpy(prefix, name, n);
	memcpy(prefix + n, ": ", 2);
	return op_add(edit, off, 0, view_make(prefix, n + 2), value, VIEW_LIT("\r\n"));
}

int sip_edit_insert_via(struct sip_edit *edit, struct view via_value)
{
	return insert_line_before(edit, SIP_HDR_VIA, "Via", via_value);
}

int sip_edit_insert_record_route(struct sip_edit *edit, struct view rr_value)
{
	return insert_line_before(edit, SIP_HDR_RECORD_ROUTE, "Record-Route", rr_value);
}

/* Remove the first value of the first header line with this id. */
static int remove_first_value(struct sip_edit *edit, enum sip_hdr_id id)
{
	const struct sip_hdr *h = sip_msg_hdr_find(edit->msg, id);
	struct view rest, elem;

	if (!h)
		return ENOENT;
	rest = h->value;
	if (lex_list_next(&rest, &elem) != 0)
		return ENOENT;
	size_t next = lex_skip_lws(rest, 0);
	if (next >= rest.len) /* the only value: the whole line goes */
		return op_add(edit, offset_of(edit, h->name.p), h->line_len, empty, empty, empty);
	uint32_t off = offset_of(edit, h->value.p);
	uint32_t end = offset_of(edit, rest.p + next);
	return op_add(edit, off, end - off, empty, empty, empty);
}

int sip_edit_remove_top_via(struct sip_edit *edit)
{
	return remove_first_value(edit, SIP_HDR_VIA);
}

int sip_edit_remove_top_route(struct sip_edit *edit)
{
	return remove_first_value(edit, SIP_HDR_ROUTE);
}

int sip_edit_remove_routes(struct sip_edit *edit, unsigned count)
{
	const struct sip_msg *m = edit->msg;
	unsigned left = count;

	for (const struct sip_hdr *h = sip_msg_hdr_find(m, SIP_HDR_ROUTE); h && left > 0;
	     h = sip_msg_hdr_next(m, h)) {
		struct view rest = h->value, elem;
		unsigned taken = 0;

		while (taken < left && lex_list_next(&rest, &elem) == 0)
			taken++;
		if (taken == 0)
			continue;
		size_t next = lex_skip_lws(rest, 0);
		int rc;
		if (next >= rest.len) { /* every value of this line goes */
			rc = op_add(edit, offset_of(edit, h->name.p), h->line_len, empty, empty, empty);
		} else {
			uint32_t off = offset_of(edit, h->value.p);
			rc = op_add(edit, off, offset_of(edit, rest.p + next) - off, empty, empty,
				    empty);
		}
		if (rc != 0)
			return rc;
		left -= taken;
	}
	return left > 0 ? ENOENT : 0;
}

int sip_edit_remove_last_route(struct sip_edit *edit)
{
	const struct sip_msg *m = edit->msg;
	const struct sip_hdr *last = NULL;

	for (const struct sip_hdr *h = sip_msg_hdr_find(m, SIP_HDR_ROUTE); h;
	     h = sip_msg_hdr_next(m, h))
		last = h;
	if (!last)
		return ENOENT;
	struct view rest = last->value, elem, before = VIEW_NULL;
	unsigned n = 0;
	while (lex_list_next(&rest, &elem) == 0)
		n++;
	if (n <= 1)
		return op_add(edit, offset_of(edit, last->name.p), last->line_len, empty, empty,
			      empty);
	/* several values on the line: from the end of the one before the last
	 * to the end of the line's value (the comma and the last value go) */
	rest = last->value;
	for (unsigned i = 0; i < n - 1 && lex_list_next(&rest, &elem) == 0; i++)
		before = elem;
	uint32_t off = offset_of(edit, before.p + before.len);
	uint32_t end = offset_of(edit, last->value.p + last->value.len);
	return op_add(edit, off, end - off, empty, empty, empty);
}

int sip_edit_remove_header(struct sip_edit *edit, const struct sip_hdr *hdr)
{
	return op_add(edit, offset_of(edit, hdr->name.p), hdr->line_len, empty, empty, empty);
}

int sip_edit_set_max_forwards(struct sip_edit *edit, uint32_t value)
{
	const struct sip_hdr *h = sip_msg_hdr_find(edit->msg, SIP_HDR_MAX_FORWARDS);
	char digits[VIEW_U64_DIGITS];
	struct view v = view_make(digits, view_u64_format(value, digits));

	if (!h)
		return op_add(edit, first_header_off(edit), 0, VIEW_LIT("Max-Forwards: "), v,
			      VIEW_LIT("\r\n"));
	return op_add(edit, offset_of(edit, h->value.p), (uint32_t)h->value.len, v, empty, empty);
}

int sip_edit_set_request_uri(struct sip_edit *edit, struct view uri)
{
	const struct sip_msg *m = edit->msg;
	if (!m->is_request)
		return EINVAL;
	return op_add(edit, offset_of(edit, m->ruri_raw.p), (uint32_t)m->ruri_raw.len, uri, empty,
		      empty);
}

int sip_edit_add_header(struct sip_edit *edit, struct view name, struct view value)
{
	char prefix[64];
	if (name.len > sizeof(prefix) - 3)
		return EMSGSIZE;
	memcpy(prefix, name.p, name.len);
	memcpy(prefix + name.len, ": ", 2);
	return op_add(edit, edit->msg->headers_end, 0, view_make(prefix, name.len + 2), value,
		      VIEW_LIT("\r\n"));
}

static bool op_before(const struct sip_edit_op *a, const struct sip_edit_op *b)
{
	if (a->off != b->off)
		return a->off < b->off;
	/* at one offset: insertions first, in the order they were made */
	if ((a->del == 0) != (b->del == 0))
		return a->del == 0;
	return a->seq < b->seq;
}

int sip_edit_render(const struct sip_edit *edit, struct iovec *iov, size_t iov_max,
		    size_t *iov_count, size_t *total)
{
	const struct sip_edit_op *order[SIP_EDIT_MAX_OPS];
	const struct sip_msg *m = edit->msg;
	size_t n = 0, bytes = 0;
	uint32_t pos = 0;

	for (unsigned i = 0; i < edit->op_count; i++) {
		unsigned j = i;
		while (j > 0 && op_before(&edit->ops[i], order[j - 1])) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = &edit->ops[i];
	}
#define PUSH(base, length)                                            \
	do {                                                          \
		if ((length) > 0) {                                   \
			if (n >= iov_max)                             \
				return EMSGSIZE;                      \
			iov[n].iov_base = (void *)(uintptr_t)(base);  \
			iov[n].iov_len = (length);                    \
			bytes += (length);                            \
			n++;                                          \
		}                                                     \
	} while (0)
	for (unsigned i = 0; i < edit->op_count; i++) {
		const struct sip_edit_op *op = order[i];
		PUSH(m->buf + pos, (size_t)(op->off - pos));
		PUSH(edit->text + op->text_off, (size_t)op->text_len);
		if (op->off + op->del > pos)
			pos = op->off + op->del;
	}
	PUSH(m->buf + pos, m->len - pos);
#undef PUSH
	*iov_count = n;
	*total = bytes;
	return 0;
}

int sip_edit_render_buf(const struct sip_edit *edit, struct buf *out)
{
	struct iovec iov[SIP_EDIT_MAX_IOV];
	size_t n, total;
	int rc = sip_edit_render(edit, iov, SIP_EDIT_MAX_IOV, &n, &total);

	return rc == 0 ? buf_append_iov(out, iov, n) : rc;
}

/*
 * msg.c - split a SIP message and decode what every message needs
 * (RFC 3261 §7, §18.3, §20; RFC 4475 for the edge cases).
 *
 * Three steps, each in its own function:
 *   1. frame: skip leading CRLFs, find the start line and each logical
 *      header line (folds included), look the name up, and find where the
 *      body ends (Content-Length; see msg.h for the stream/datagram rules);
 *   2. start line: request line or status line;
 *   3. eager headers: top Via, CSeq, Call-ID, From, To, Max-Forwards.
 * The lazy headers are in lazy.c.
 *
 * Strictness, written down where it is chosen:
 *   - the request line is exactly "Method SP Request-URI SP SIP/2.0": extra
 *     or trailing spaces are refused (RFC 4475 lwsstart, trws, lwsruri
 *     allow rejecting), and so is a Request-URI with '<' or URI headers
 *     (ltgtruri, escruri);
 *   - a status line without the SP before an empty reason is accepted;
 *   - single-valued headers (CSeq, Call-ID, From, To, Max-Forwards,
 *     Content-Length) given twice make the message malformed (mcl01, multi01);
 *   - no Content-Length on a stream means an empty body, as most servers
 *     do; on a datagram the body then runs to the datagram's end (inv2543).
 */
#include "sip/msg.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "sip/lex.h"
#include "sip/sip_int.h"

static int fail(struct sip_error *err, int status, const char *reason, int rc)
{
	if (err) {
		err->status = status;
		err->reason = reason;
	}
	return rc;
}

enum sip_method sip_method_from_view(struct view m)
{
	/* by length, then one comparison: this runs twice per request */
	switch (m.len) {
	case 3:
		if (view_eq_lit(m, "ACK"))
			return SIP_METHOD_ACK;
		if (view_eq_lit(m, "BYE"))
			return SIP_METHOD_BYE;
		break;
	case 4:
		if (view_eq_lit(m, "INFO"))
			return SIP_METHOD_INFO;
		break;
	case 5:
		if (view_eq_lit(m, "PRACK"))
			return SIP_METHOD_PRACK;
		if (view_eq_lit(m, "REFER"))
			return SIP_METHOD_REFER;
		break;
	case 6:
		if (view_eq_lit(m, "INVITE"))
			return SIP_METHOD_INVITE;
		if (view_eq_lit(m, "CANCEL"))
			return SIP_METHOD_CANCEL;
		if (view_eq_lit(m, "NOTIFY"))
			return SIP_METHOD_NOTIFY;
		if (view_eq_lit(m, "UPDATE"))
			return SIP_METHOD_UPDATE;
		break;
	case 7:
		if (view_eq_lit(m, "MESSAGE"))
			return SIP_METHOD_MESSAGE;
		if (view_eq_lit(m, "OPTIONS"))
			return SIP_METHOD_OPTIONS;
		if (view_eq_lit(m, "PUBLISH"))
			return SIP_METHOD_PUBLISH;
		break;
	case 8:
		if (view_eq_lit(m, "REGISTER"))
			return SIP_METHOD_REGISTER;
		break;
	case 9:
		if (view_eq_lit(m, "SUBSCRIBE"))
			return SIP_METHOD_SUBSCRIBE;
		break;
	default:
		break;
	}
	return SIP_METHOD_UNKNOWN;
}

/* --- step 1: framing ------------------------------------------------- */

/* Length of the line content starting at p (bytes before CRLF or LF) and
 * of its terminator; false when no LF is within [p, end). */
static bool line_find(const char *p, const char *end, size_t *content, size_t *total)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return false;
	size_t n = (size_t)(nl - p);
	*total = n + 1;
	*content = (n > 0 && p[n - 1] == '\r') ? n - 1 : n;
	return true;
}

static int incomplete(size_t have, enum sip_framing framing, struct sip_error *err)
{
	if (have >= SIP_MAX_MESSAGE)
		return fail(err, 413, "Message Too Large", EMSGSIZE);
	if (framing == SIP_FRAMING_STREAM)
		return EAGAIN;
	return fail(err, 400, "Missing end of headers", EBADMSG);
}

/* Where the ':' after a header name is, when the first sixteen bytes of
 * the line hold it and every byte before it is at least 0x21 and below
 * 0x80 (no white space, no control, no 8-bit byte); else 0. SSE2 (every
 * x86-64) only. */
static size_t colon_fast(const char *line, size_t content)
{
#ifdef __SSE2__
	if (content < 16)
		return 0;
	__m128i w = _mm_loadu_si128((const __m128i *)(const void *)line);
	unsigned colon = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(w, _mm_set1_epi8(':')));
	/* signed: bytes of 0x80 and above are negative, so below 0x21 too */
	unsigned bad = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(w, _mm_set1_epi8(0x21)));
	if (!colon)
		return 0;
	unsigned c = (unsigned)__builtin_ctz(colon);
	return bad & ((1u << c) - 1) ? 0 : c;
#else
	(void)line;
	(void)content;
	return 0;
#endif
}

static int header_add(struct sip_msg *msg, const char *line, size_t content, size_t total,
		      int16_t *last, struct sip_error *err)
{
	/* name = token, then optional SP/HT, then ':' (RFC 3261 §7.3.1).
	 * Fast path: a name of bytes 0x21-0x7F right before the colon that
	 * the table knows is a token (on such bytes sip_hdr_lookup matches
	 * only letters and '-'); one it does not know is checked for token
	 * bytes. Anything else takes the byte loop, which names the problem. */
	size_t i = colon_fast(line, content);
	struct view name = view_make(line, i);
	enum sip_hdr_id id = SIP_HDR_OTHER;
	if (i > 0) {
		id = sip_hdr_lookup(line, i);
		if (id == SIP_HDR_OTHER && lex_span(name, 0, CT_TOKEN) != i)
			i = 0; /* not a token: the slow path names the problem */
	}
	if (i == 0) {
		i = lex_span(view_make(line, content), 0, CT_TOKEN);
		name = view_make(line, i);
		while (i < content && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i >= content || line[i] != ':') {
			const char *colon = memchr(line, ':', content);
			return fail(err, 400,
				    colon && name.len > 0 ? "Bad header name" : "Bad header line",
				    EBADMSG);
		}
		if (name.len == 0)
			return fail(err, 400, "Bad header line", EBADMSG);
		id = sip_hdr_lookup(name.p, name.len);
	}
	if (msg->hdr_count >= SIP_MAX_HEADERS || msg->hdr_count >= msg->hdr_cap)
		return fail(err, 400, "Too many headers", EMSGSIZE);

	size_t vstart = i + 1;
	struct sip_hdr *h = &msg->hdrs[msg->hdr_count];
	h->name = name;
	h->value = view_trim(view_make(line + vstart, content - vstart));
	h->line_len = (uint32_t)total;
	h->id = (uint16_t)id;
	h->next = -1;
	if (h->id != SIP_HDR_OTHER) {
		int16_t idx = (int16_t)msg->hdr_count;
		if (last[h->id] >= 0)
			msg->hdrs[last[h->id]].next = idx;
		else
			msg->first[h->id] = idx;
		last[h->id] = idx;
	}
	msg->hdr_count++;
	return 0;
}

/* Split start line and headers of p[0, have). On success *body_off is the
 * offset of the first body byte. */
static int split(struct sip_msg *msg, const char *p, size_t have, enum sip_framing framing,
		 size_t *body_off, struct sip_error *err)
{
	const char *end = p + have;
	size_t content, total, pos;
	int16_t last[SIP_HDR__COUNT];

	if (!line_find(p, end, &content, &total))
		return incomplete(have, framing, err);
	msg->start_line = view_make(p, content);
	pos = total;
	memset(last, 0xff, sizeof(last));
	for (;;) {
		if (pos >= have)
			return incomplete(have, framing, err);
		if (p[pos] == '\n') {
			msg->headers_end = (uint32_t)pos;
			*body_off = pos + 1;
			return 0;
		}
		if (p[pos] == '\r') {
			if (pos + 1 >= have)
				return incomplete(have, framing, err);
			if (p[pos + 1] != '\n')
				return fail(err, 400, "Bad line end", EBADMSG);
			msg->headers_end = (uint32_t)pos;
			*body_off = pos + 2;
			return 0;
		}
		if (p[pos] == ' ' || p[pos] == '\t')
			return fail(err, 400, "Bad header line", EBADMSG);
		/* one logical line: follow folds */
		size_t line_total = 0;
		for (;;) {
			if (!line_find(p + pos + line_total, end, &content, &total))
				return incomplete(have, framing, err);
			line_total += total;
			size_t next = pos + line_total;
			if (next >= have)
				return incomplete(have, framing, err);
			if (p[next] != ' ' && p[next] != '\t')
				break;
		}
		content = line_total - total + content;
		int rc = header_add(msg, p + pos, content, line_total, last, err);
		if (rc != 0)
			return rc;
		pos += line_total;
	}
}

/* At most one header with this id; its value or a NULL view. */
static int single(const struct sip_msg *msg, enum sip_hdr_id id, struct view *value)
{
	int16_t i = msg->first[id];
	if (i < 0) {
		*value = VIEW_NULL;
		return 0;
	}
	if (msg->hdrs[i].next >= 0)
		return EBADMSG;
	*value = msg->hdrs[i].value;
	return 0;
}

static int frame(struct sip_msg *msg, const char *p, size_t have, enum sip_framing framing,
		 size_t *used, bool *body_short, struct sip_error *err)
{
	size_t body_off = 0;
	struct view cl;
	uint64_t n = 0;
	int rc = split(msg, p, have, framing, &body_off, err);

	if (rc != 0)
		return rc;
	if (single(msg, SIP_HDR_CONTENT_LENGTH, &cl) != 0)
		return fail(err, 400, "Duplicate Content-Length header", EBADMSG);
	if (cl.p != NULL) {
		if (!view_to_u64(cl, UINT64_MAX / 2, &n))
			return fail(err, 400, "Bad Content-Length header", EBADMSG);
		if (n > SIP_MAX_MESSAGE || body_off + n > SIP_MAX_MESSAGE)
			return fail(err, 413, "Message Too Large", EMSGSIZE);
		msg->has_content_length = true;
		msg->content_length = (uint32_t)n;
	} else if (framing == SIP_FRAMING_DGRAM) {
		n = have - body_off;
	}
	if (body_off + n > SIP_MAX_MESSAGE)
		return fail(err, 413, "Message Too Large", EMSGSIZE);
	if (have - body_off < n) {
		if (framing == SIP_FRAMING_STREAM)
			return EAGAIN;
		/* malformed, but decode the headers anyway, for the answer */
		*body_short = true;
		n = have - body_off;
	}
	msg->body = view_make(p + body_off, (size_t)n);
	msg->len = body_off + (size_t)n;
	*used = framing == SIP_FRAMING_STREAM ? msg->len : have;
	return 0;
}

/* --- step 2: start line -------------------------------------------- */

static bool version_is_sip(struct view v, bool *is_20)
{
	if (v.len == 7 && memcmp(v.p, "SIP/2.0", 7) == 0) { /* nearly always */
		*is_20 = true;
		return true;
	}
	/* "SIP" "/" 1*DIGIT "." 1*DIGIT, "SIP" case-insensitive */
	if (v.len < 7 || !view_eq_lit_nocase(view_make(v.p, 4), "SIP/"))
		return false;
	size_t i = 4, start = 4;
	i = lex_span(v, i, CT_DIGIT);
	if (i == start || i >= v.len || v.p[i] != '.')
		return false;
	start = ++i;
	i = lex_span(v, i, CT_DIGIT);
	if (i == start || i != v.len)
		return false;
	*is_20 = view_eq_lit(view_make(v.p + 4, v.len - 4), "2.0");
	return true;
}

static int status_line(struct sip_msg *msg, struct view l, struct sip_error *err)
{
	bool is_20 = false;
	const char *sp = memchr(l.p, ' ', l.len);

	if (!sp || !version_is_sip(view_make(l.p, (size_t)(sp - l.p)), &is_20))
		return fail(err, 400, "Bad status line", EBADMSG);
	if (!is_20)
		return fail(err, 505, "Version Not Supported", EBADMSG);
	size_t i = (size_t)(sp - l.p) + 1;
	if (l.len - i < 3 || !ct_is((unsigned char)l.p[i], CT_DIGIT) ||
	    !ct_is((unsigned char)l.p[i + 1], CT_DIGIT) ||
	    !ct_is((unsigned char)l.p[i + 2], CT_DIGIT))
		return fail(err, 400, "Bad status code", EBADMSG);
	unsigned code = (unsigned)(l.p[i] - '0') * 100 + (unsigned)(l.p[i + 1] - '0') * 10 +
			(unsigned)(l.p[i + 2] - '0');
	i += 3;
	if (code < 100 || code > 699 || (i < l.len && l.p[i] != ' '))
		return fail(err, 400, "Bad status code", EBADMSG);
	if (i < l.len)
		i++;
	msg->is_request = false;
	msg->status = code;
	msg->reason = view_make(l.p + i, l.len - i);
	return 0;
}

static int request_line(struct sip_msg *msg, struct view l, struct sip_error *err)
{
	const char *reason = NULL;
	bool is_20 = false;
	size_t i = lex_span(l, 0, CT_TOKEN);

	if (i == 0 || i >= l.len || l.p[i] != ' ')
		return fail(err, 400, "Bad request line", EBADMSG);
	msg->method = view_make(l.p, i);
	size_t uri_start = ++i;
	const char *sp = memchr(l.p + i, ' ', l.len - i);
	i = sp ? (size_t)(sp - l.p) : l.len;
	if (i == uri_start || i >= l.len)
		return fail(err, 400, "Bad request line", EBADMSG);
	msg->ruri_raw = view_make(l.p + uri_start, i - uri_start);
	struct view version = view_make(l.p + i + 1, l.len - i - 1);
	if (!version_is_sip(version, &is_20))
		return fail(err, 400, "Bad request line", EBADMSG);
	if (!is_20)
		return fail(err, 505, "Version Not Supported", EBADMSG);
	if (sip_uri_decode(&msg->ruri, msg->ruri_raw, &reason) != 0)
		return fail(err, 400, "Bad Request-URI", EBADMSG);
	if ((msg->ruri.scheme == SIP_URI_SIP || msg->ruri.scheme == SIP_URI_SIPS) &&
	    msg->ruri.headers.p != NULL)
		return fail(err, 400, "Request-URI must not have headers", EBADMSG);
	msg->is_request = true;
	msg->method_id = sip_method_from_view(msg->method);
	return 0;
}

/* --- step 3: eager headers ----------------------------------------- */

static int top_via(struct sip_msg *msg, struct sip_error *err)
{
	const char *reason;
	int16_t i = msg->first[SIP_HDR_VIA];
	struct view rest, elem;

	if (i < 0)
		return fail(err, 400, "Missing Via header", EBADMSG);
	rest = msg->hdrs[i].value;
	if (lex_list_next(&rest, &elem) != 0)
		return fail(err, 400, "Bad Via header", EBADMSG);
	if (sip_via_decode(&msg->via, elem, &reason) != 0)
		return fail(err, 400, reason, EBADMSG);
	return 0;
}

static int cseq(struct sip_msg *msg, struct sip_error *err)
{
	struct view v;
	uint64_t n;

	if (single(msg, SIP_HDR_CSEQ, &v) != 0)
		return fail(err, 400, "Duplicate CSeq header", EBADMSG);
	if (v.p == NULL)
		return fail(err, 400, "Missing CSeq header", EBADMSG);
	size_t i = lex_span(v, 0, CT_DIGIT);
	if (i == 0 || !view_to_u64(view_make(v.p, i), UINT32_MAX, &n))
		return fail(err, 400, "Bad CSeq header", EBADMSG);
	size_t j = lex_skip_lws(v, i);
	if (j == i)
		return fail(err, 400, "Bad CSeq header", EBADMSG);
	size_t k = lex_span(v, j, CT_TOKEN);
	if (k == j || k != v.len)
		return fail(err, 400, "Bad CSeq header", EBADMSG);
	msg->cseq.number = (uint32_t)n;
	msg->cseq.method = view_make(v.p + j, k - j);
	msg->cseq.method_id = sip_method_from_view(msg->cseq.method);
	if (msg->is_request && !view_eq(msg->cseq.method, msg->method)) {
		/* RFC 4475 mismatch02: 501 is the better answer for an unknown
		 * method, 400 for a known one (mismatch01). */
		if (msg->method_id == SIP_METHOD_UNKNOWN)
			return fail(err, 501, "Not Implemented", EBADMSG);
		return fail(err, 400, "CSeq method does not match", EBADMSG);
	}
	return 0;
}

/* Whether every byte of v is printable ASCII (CT_TEXT, 0x21-0x7E): eight
 * at a time, a word holding a byte below 0x21 or above 0x7E (exact as a
 * yes/no answer, Hacker's Delight "hasless"/"hasmore") stopping it. */
static bool all_text(struct view v)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;
	size_t i = 0;

	for (; i + 8 <= v.len; i += 8) {
		uint64_t w;
		memcpy(&w, v.p + i, 8);
		uint64_t below = (w - ones * 0x21) & ~w & high;
		uint64_t above = ((w + ones * (127 - 0x7e)) | w) & high;
		if (below | above)
			return false;
	}
	for (; i < v.len; i++) {
		if (!ct_is((unsigned char)v.p[i], CT_TEXT))
			return false;
	}
	return true;
}

static int call_id(struct sip_msg *msg, struct sip_error *err)
{
	struct view v;

	if (single(msg, SIP_HDR_CALL_ID, &v) != 0)
		return fail(err, 400, "Duplicate Call-ID header", EBADMSG);
	if (v.p == NULL || v.len == 0)
		return fail(err, 400, "Missing Call-ID header", EBADMSG);
	if (!all_text(v))
		return fail(err, 400, "Bad Call-ID header", EBADMSG);
	msg->call_id = v;
	return 0;
}

static int from_to(struct sip_msg *msg, enum sip_hdr_id id, struct sip_addr *addr,
		   struct sip_error *err)
{
	bool from = id == SIP_HDR_FROM;
	const char *reason;
	struct view v;

	if (single(msg, id, &v) != 0)
		return fail(err, 400, from ? "Duplicate From header" : "Duplicate To header", EBADMSG);
	if (v.p == NULL)
		return fail(err, 400, from ? "Missing From header" : "Missing To header", EBADMSG);
	/* A response's From and To are passed on, never read for their URI
	 * (tags only): their URIs are not decoded. */
	if ((msg->is_request ? sip_addr_decode(addr, v, &reason) : sip_addr_split(addr, v, &reason)) !=
	    0)
		return fail(err, 400, from ? "Bad From header" : "Bad To header", EBADMSG);
	return 0;
}

static int max_forwards(struct sip_msg *msg, struct sip_error *err)
{
	struct view v;
	uint64_t n;

	if (single(msg, SIP_HDR_MAX_FORWARDS, &v) != 0)
		return fail(err, 400, "Duplicate Max-Forwards header", EBADMSG);
	if (v.p == NULL)
		return 0;
	if (!view_to_u64(v, UINT32_MAX, &n))
		return fail(err, 400, "Bad Max-Forwards header", EBADMSG);
	msg->has_max_forwards = true;
	msg->max_forwards = (uint32_t)n;
	return 0;
}

static void msg_reset(struct sip_msg *msg, const char *buf)
{
	/* Only what decode reads before writing; the header array is not
	 * cleared (it is large and written before it is read). */
	msg->buf = buf;
	msg->len = 0;
	msg->hdr_count = 0;
	msg->start_line = VIEW_NULL;
	msg->via.raw = VIEW_NULL;
	msg->headers_end = 0;
	msg->is_request = false;
	msg->method = VIEW_NULL;
	msg->method_id = SIP_METHOD_UNKNOWN;
	msg->ruri_raw = VIEW_NULL;
	msg->status = 0;
	msg->reason = VIEW_NULL;
	msg->body = VIEW_NULL;
	msg->has_max_forwards = false;
	msg->max_forwards = 0;
	msg->has_content_length = false;
	msg->content_length = 0;
	msg->call_id = VIEW_NULL;
	memset(&msg->cseq, 0, sizeof(msg->cseq));
	memset(msg->first, 0xff, sizeof(msg->first));
	memset(msg->cache, 0, sizeof(msg->cache));
	msg->expires.done = false;
	msg->min_expires.done = false;
}

size_t sip_msg_line_bound(const char *buf, size_t len)
{
	size_t n = 1;
	const char *p = buf, *end = buf + len;

	while (n <= SIP_MAX_HEADERS && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

static int decode(struct sip_msg *msg, const char *buf, size_t len, enum sip_framing framing,
		  size_t *consumed, struct sip_error *err);

int sip_msg_decode(struct sip_msg *msg, const char *buf, size_t len, enum sip_framing framing,
		   size_t *consumed, struct sip_error *err)
{
	size_t cap = sip_msg_line_bound(buf, len);

	/* every cache empty first: sip_msg_fini may follow whatever happens */
	memset(msg->cache, 0, sizeof(msg->cache));
	msg->hdr_count = 0;
	msg->hdrs = malloc(cap * sizeof(*msg->hdrs));
	msg->hdrs_owned = msg->hdrs != NULL;
	msg->hdr_cap = msg->hdrs ? (uint16_t)cap : 0;
	if (!msg->hdrs) {
		msg_reset(msg, buf);
		return fail(err, 500, "Out of memory", ENOMEM);
	}
	return decode(msg, buf, len, framing, consumed, err);
}

int sip_msg_decode_in(struct sip_msg *msg, struct sip_hdr *storage, size_t cap, const char *buf,
		      size_t len, enum sip_framing framing, size_t *consumed,
		      struct sip_error *err)
{
	msg->hdrs = storage;
	msg->hdrs_owned = false;
	msg->hdr_cap = (uint16_t)(cap > SIP_MAX_HEADERS + 1 ? SIP_MAX_HEADERS + 1 : cap);
	return decode(msg, buf, len, framing, consumed, err);
}

static int decode(struct sip_msg *msg, const char *buf, size_t len, enum sip_framing framing,
		  size_t *consumed, struct sip_error *err)
{
	size_t off = 0, used = 0;
	bool body_short = false;
	int rc;

	msg_reset(msg, buf);
	while (off < len && (buf[off] == '\r' || buf[off] == '\n'))
		off++;
	if (off == len) {
		if (framing == SIP_FRAMING_STREAM)
			return EAGAIN;
		return fail(err, 400, "Empty message", EBADMSG);
	}
	msg->buf = buf + off;
	rc = frame(msg, buf + off, len - off, framing, &used, &body_short, err);
	if (rc != 0)
		return rc;
	struct view l = msg->start_line;
	if (l.len >= 4 && view_eq_lit_nocase(view_make(l.p, 4), "SIP/"))
		rc = status_line(msg, l, err);
	else
		rc = request_line(msg, l, err);
	if (rc == 0)
		rc = top_via(msg, err);
	if (rc == 0)
		rc = cseq(msg, err);
	if (rc == 0)
		rc = call_id(msg, err);
	if (rc == 0)
		rc = from_to(msg, SIP_HDR_FROM, &msg->from, err);
	if (rc == 0)
		rc = from_to(msg, SIP_HDR_TO, &msg->to, err);
	if (rc == 0)
		rc = max_forwards(msg, err);
	if (rc != 0)
		return rc;
	if (body_short)
		return fail(err, 400, "Body shorter than Content-Length", EBADMSG);
	*consumed = off + used;
	return 0;
}

const struct sip_hdr *sip_msg_hdr_find(const struct sip_msg *msg, enum sip_hdr_id id)
{
	int16_t i = msg->first[id];
	return i < 0 ? NULL : &msg->hdrs[i];
}

const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg, const struct sip_hdr *hdr)
{
	return hdr->next < 0 ? NULL : &msg->hdrs[hdr->next];
}

unsigned sip_msg_hdr_count(const struct sip_msg *msg, enum sip_hdr_id id)
{
	unsigned n = 0;
	for (const struct sip_hdr *h = sip_msg_hdr_find(msg, id); h; h = sip_msg_hdr_next(msg, h))
		n++;
	return n;
}

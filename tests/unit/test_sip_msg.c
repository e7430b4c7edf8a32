/*
 * test_sip_msg.c - the message parser's rules one by one, as tables:
 * header-name lookup (full and compact forms, near misses), start lines,
 * framing on both paths, every limit, the eager headers, and each lazy
 * header's decoded values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "guard.h"
#include "sip/lex.h"
#include "sip/msg.h"

static void expect_view(struct view v, const char *s)
{
	if (v.p == NULL)
		fail_msg("view is NULL, expected '%s'", s);
	if (v.len != strlen(s) || memcmp(v.p, s, v.len) != 0)
		fail_msg("view is '%.*s', expected '%s'", (int)v.len, v.p, s);
}

/* ---- header names --------------------------------------------------- */

static void test_lookup_full_names(void **state)
{
	(void)state;
	for (int id = 1; id < SIP_HDR__COUNT; id++) {
		const struct sip_hdr_name *n = &sip_hdr_names[id];
		char upper[64], lower[64];
		for (size_t i = 0; i < n->len; i++) {
			char c = n->name[i];
			upper[i] = (char)((c >= 'a' && c <= 'z') ? c - 32 : c);
			lower[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
		}
		assert_int_equal(sip_hdr_lookup(n->name, n->len), id);
		assert_int_equal(sip_hdr_lookup(upper, n->len), id);
		assert_int_equal(sip_hdr_lookup(lower, n->len), id);
		/* one letter off, same length: never a hit */
		memcpy(upper, n->name, n->len);
		upper[n->len - 1] = upper[n->len - 1] == 'q' ? 'z' : 'q';
		assert_int_not_equal(sip_hdr_lookup(upper, n->len), id);
	}
}

static void test_lookup_compact(void **state)
{
	static const struct {
		const char *compact;
		enum sip_hdr_id id;
	} table[] = {
		{ "i", SIP_HDR_CALL_ID },       { "m", SIP_HDR_CONTACT },
		{ "e", SIP_HDR_CONTENT_ENCODING }, { "l", SIP_HDR_CONTENT_LENGTH },
		{ "c", SIP_HDR_CONTENT_TYPE },  { "f", SIP_HDR_FROM },
		{ "s", SIP_HDR_SUBJECT },       { "k", SIP_HDR_SUPPORTED },
		{ "t", SIP_HDR_TO },            { "v", SIP_HDR_VIA },
		{ "o", SIP_HDR_EVENT },         { "u", SIP_HDR_ALLOW_EVENTS },
		{ "r", SIP_HDR_REFER_TO },      { "V", SIP_HDR_VIA },
		{ "I", SIP_HDR_CALL_ID },       { "q", SIP_HDR_OTHER },
		{ "z", SIP_HDR_OTHER },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		assert_int_equal(sip_hdr_lookup(table[i].compact, 1), table[i].id);
}

static void test_lookup_near_misses(void **state)
{
	static const char *const misses[] = {
		"Vias", "Vi", "Via-", "Fro", "Fromm", "To2", "Contact%", "C%6Fntact", "Content-Lengt",
		"Content-Lengths", "CSeqq", "Call-ID ", "X-Via", "",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++)
		assert_int_equal(sip_hdr_lookup(misses[i], strlen(misses[i])), SIP_HDR_OTHER);
}

/* ---- decode table --------------------------------------------------- */

#define REQ_HEAD "REGISTER sip:example.com SIP/2.0\r\n"
#define BASE_HDRS                                             \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n" \
	"From: <sip:alice@example.com>;tag=1\r\n"             \
	"To: <sip:alice@example.com>\r\n"                     \
	"Call-ID: c1@192.0.2.1\r\n"                           \
	"CSeq: 1 REGISTER\r\n"

struct dcase {
	const char *name;
	const char *text;
	enum sip_framing framing;
	int rc;
	int status;
	const char *reason;
};

static const struct dcase dcases[] = {
	{ "minimal", REQ_HEAD BASE_HDRS "Content-Length: 0\r\n\r\n", SIP_FRAMING_DGRAM, 0, 0, NULL },
	{ "bare LF", "OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\nFrom: "
		     "<sip:a@b>;tag=1\nTo: <sip:a@b>\nCall-ID: x\nCSeq: 2 OPTIONS\n\n",
	  SIP_FRAMING_STREAM, 0, 0, NULL },
	{ "missing Via", REQ_HEAD "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\n"
				  "CSeq: 1 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Missing Via header" },
	{ "missing CSeq", REQ_HEAD "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
				   "To: <sip:a@b>\r\nCall-ID: x\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Missing CSeq header" },
	{ "missing From", REQ_HEAD "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\n"
				   "Call-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Missing From header" },
	{ "missing To", REQ_HEAD "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
				 "Call-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Missing To header" },
	{ "CSeq max", REQ_HEAD "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
			       "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 4294967295 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, 0, 0, NULL },
	{ "CSeq over", REQ_HEAD "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
				"To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 4294967296 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Bad CSeq header" },
	{ "CSeq no method", REQ_HEAD "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
				     "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 7\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Bad CSeq header" },
	{ "Max-Forwards text", REQ_HEAD BASE_HDRS "Max-Forwards: ten\r\n\r\n", SIP_FRAMING_DGRAM,
	  EBADMSG, 400, "Bad Max-Forwards header" },
	{ "Max-Forwards twice", REQ_HEAD BASE_HDRS "Max-Forwards: 70\r\nMax-Forwards: 70\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Duplicate Max-Forwards header" },
	{ "Call-ID twice", REQ_HEAD BASE_HDRS "i: again\r\n\r\n", SIP_FRAMING_DGRAM, EBADMSG, 400,
	  "Duplicate Call-ID header" },
	{ "Call-ID with space", REQ_HEAD "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
				       "To: <sip:a@b>\r\nCall-ID: a b\r\nCSeq: 1 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Bad Call-ID header" },
	{ "header without colon", REQ_HEAD BASE_HDRS "NoColonHere\r\n\r\n", SIP_FRAMING_DGRAM, EBADMSG,
	  400, "Bad header line" },
	{ "space in header name", REQ_HEAD BASE_HDRS "Bad Name: x\r\n\r\n", SIP_FRAMING_DGRAM, EBADMSG,
	  400, "Bad header name" },
	{ "fold before first header", REQ_HEAD " Via: x\r\n\r\n", SIP_FRAMING_DGRAM, EBADMSG, 400,
	  "Bad header line" },
	{ "CR without LF", REQ_HEAD BASE_HDRS "\rX\r\n\r\n", SIP_FRAMING_DGRAM, EBADMSG, 400,
	  "Bad line end" },
	{ "version 2.1", "OPTIONS sip:a@b SIP/2.1\r\n" BASE_HDRS "\r\n", SIP_FRAMING_DGRAM, EBADMSG,
	  505, "Version Not Supported" },
	{ "no version", "OPTIONS sip:a@b\r\n" BASE_HDRS "\r\n", SIP_FRAMING_DGRAM, EBADMSG, 400,
	  "Bad request line" },
	{ "HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", SIP_FRAMING_DGRAM, EBADMSG, 400,
	  "Bad request line" },
	{ "status no reason no SP", "SIP/2.0 180\r\n" BASE_HDRS "\r\n", SIP_FRAMING_DGRAM, 0, 0, NULL },
	{ "status 99", "SIP/2.0 099 Low\r\n" BASE_HDRS "\r\n", SIP_FRAMING_DGRAM, EBADMSG, 400,
	  "Bad status code" },
	{ "status 1000", "SIP/2.0 1000 High\r\n" BASE_HDRS "\r\n", SIP_FRAMING_DGRAM, EBADMSG, 400,
	  "Bad status code" },
	{ "empty datagram", "\r\n\r\n", SIP_FRAMING_DGRAM, EBADMSG, 400, "Empty message" },
	{ "only CRLF on stream", "\r\n\r\n", SIP_FRAMING_STREAM, EAGAIN, 0, NULL },
	{ "Content-Length text", REQ_HEAD BASE_HDRS "Content-Length: x\r\n\r\n", SIP_FRAMING_DGRAM,
	  EBADMSG, 400, "Bad Content-Length header" },
	{ "Content-Length over limit", REQ_HEAD BASE_HDRS "Content-Length: 65536\r\n\r\n",
	  SIP_FRAMING_STREAM, EMSGSIZE, 413, "Message Too Large" },
	{ "Content-Length huge", REQ_HEAD BASE_HDRS "Content-Length: 99999999999\r\n\r\n",
	  SIP_FRAMING_STREAM, EMSGSIZE, 413, "Message Too Large" },
	{ "body short on stream", REQ_HEAD BASE_HDRS "Content-Length: 5\r\n\r\nabc", SIP_FRAMING_STREAM,
	  EAGAIN, 0, NULL },
	{ "body short on datagram", REQ_HEAD BASE_HDRS "Content-Length: 5\r\n\r\nabc",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Body shorter than Content-Length" },
	{ "Request-URI with headers", "INVITE sip:a@b?Subject=x SIP/2.0\r\n" BASE_HDRS "\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Request-URI must not have headers" },
	{ "bad Via sent-by", REQ_HEAD "Via: SIP/2.0/UDP -bad-;branch=1\r\n" BASE_HDRS "\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Bad Via sent-by" },
	{ "Via without sent-by", REQ_HEAD "Via: SIP/2.0/UDP\r\n" BASE_HDRS "\r\n", SIP_FRAMING_DGRAM,
	  EBADMSG, 400, "Bad Via header" },
	{ "Via ttl 256", REQ_HEAD "Via: SIP/2.0/UDP h;ttl=256\r\n" BASE_HDRS "\r\n", SIP_FRAMING_DGRAM,
	  EBADMSG, 400, "Bad Via parameter" },
	{ "Via rport 65536", REQ_HEAD "Via: SIP/2.0/UDP h;rport=65536\r\n" BASE_HDRS "\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Bad Via parameter" },
	{ "Via port 70000", REQ_HEAD "Via: SIP/2.0/UDP h:70000\r\n" BASE_HDRS "\r\n", SIP_FRAMING_DGRAM,
	  EBADMSG, 400, "Bad Via sent-by" },
	{ "From tag empty", REQ_HEAD "Via: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=\r\nTo: <sip:a@b>\r\n"
				     "Call-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Bad From header" },
	{ "bad To URI in a request", REQ_HEAD "Via: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\n"
					      "To: <sip:a@[bad>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Bad To header" },
	/* a response's From and To are only split (their URIs are not read) */
	{ "bad To URI in a response", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\n"
				      "To: <sip:a@[bad>;tag=2\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, 0, 0, NULL },
	{ "bad To parameters in a response",
	  "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\n"
	  "To: <sip:a@b>;tag=\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n",
	  SIP_FRAMING_DGRAM, EBADMSG, 400, "Bad To header" },
};

static void test_decode_table(void **state)
{
	struct guard g;
	(void)state;

	guard_init(&g, SIP_MAX_MESSAGE + 1);
	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *c = &dcases[i];
		size_t len = strlen(c->text), used = 0;
		const char *p = guard_place(&g, c->text, len);
		struct sip_error err = { 0, NULL };
		struct sip_msg m;
		int rc = sip_msg_decode(&m, p, len, c->framing, &used, &err);
		if (rc != c->rc)
			fail_msg("%s: rc %d (%s), expected %d", c->name, rc, err.reason ? err.reason : "",
				 c->rc);
		if (c->reason) {
			assert_int_equal(err.status, c->status);
			assert_string_equal(err.reason, c->reason);
		}
		if (rc == 0)
			assert_int_equal(used, len);
		sip_msg_fini(&m);
	}
	guard_fini(&g);
}

/* Decode the n bytes snprintf printed into text (of size bytes) as a
 * datagram placed at the end of a guarded page. */
static int decode_printed(struct guard *g, const char *text, size_t size, int n,
			  struct sip_msg *m, struct sip_error *err)
{
	size_t used;

	assert_true(n > 0 && (size_t)n < size);
	return sip_msg_decode(m, guard_place(g, text, (size_t)n), (size_t)n, SIP_FRAMING_DGRAM,
			      &used, err);
}

/* The Call-ID check (printable ASCII only, eight bytes at a time): one
 * byte changed at every position of a 21-byte Call-ID, to the values on
 * both sides of each edge of 0x21-0x7E (one bad byte in a word of good
 * ones must be seen wherever it is). */
static void test_call_id_bytes(void **state)
{
	static const struct {
		unsigned char c;
		bool ok;
	} bytes[] = { { 0x01, false }, { 0x20, false }, { 0x21, true }, { 0x41, true },
		      { 0x7e, true },  { 0x7f, false }, { 0x80, false }, { 0xc3, false },
		      { 0xff, false } };
	struct guard g;
	(void)state;

	guard_init(&g, 512);
	for (size_t b = 0; b < sizeof(bytes) / sizeof(bytes[0]); b++) {
		for (size_t pos = 0; pos < 21; pos++) {
			char id[22], text[400];
			memset(id, 'k', 21);
			id[21] = '\0';
			id[pos] = (char)bytes[b].c;
			int n = snprintf(text, sizeof(text),
					 REQ_HEAD "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
						  "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n"
						  "Call-ID: %s\r\nCSeq: 1 REGISTER\r\n\r\n",
					 id);
			struct sip_error err = { 0, NULL };
			struct sip_msg m;
			int rc = decode_printed(&g, text, sizeof(text), n, &m, &err);
			/* a space at either end is white space around the value */
			bool ok = bytes[b].ok || (bytes[b].c == ' ' && (pos == 0 || pos == 20));
			if ((rc == 0) != ok)
				fail_msg("byte 0x%02x at %zu: rc %d", bytes[b].c, pos, rc);
			if (rc != 0)
				assert_string_equal(err.reason, "Bad Call-ID header");
			sip_msg_fini(&m);
		}
	}
	guard_fini(&g);
}

/* lex_span: every stop position in runs of up to 13, for one-bit and
 * two-bit classes, from every start. */
static void test_lex_span(void **state)
{
	static const struct {
		unsigned cls;
		char good, good2, bad;
	} rows[] = { { CT_TOKEN, 'a', '-', ':' }, { CT_ALPHA | CT_DIGIT, 'x', '7', '-' },
		     { CT_DIGIT, '0', '9', 'a' }, { CT_LWS, ' ', '\t', 'x' } };
	(void)state;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		for (size_t len = 0; len <= 13; len++) {
			for (size_t stop = 0; stop <= len; stop++) {
				char text[16];
				for (size_t k = 0; k < len; k++)
					text[k] = k % 3 ? rows[r].good : rows[r].good2;
				if (stop < len)
					text[stop] = rows[r].bad;
				struct view v = view_make(text, len);
				for (size_t from = 0; from <= stop; from++) {
					size_t got = lex_span(v, from, rows[r].cls);
					if (got != stop)
						fail_msg("class %u, len %zu: from %zu got %zu, want %zu",
							 rows[r].cls, len, from, got, stop);
				}
			}
		}
	}
}

/* Header names on both paths of the name decoder: a known or unknown
 * name the first sixteen bytes hold with its colon (fast), and longer
 * names, white space before the colon, control and 8-bit bytes (the byte
 * loop). Each either decodes with the right id or fails naming it. */
static void test_header_names(void **state)
{
	static const struct {
		const char *line; /* one header line, CRLF added */
		int id;           /* found with this id; -1: the line fails */
		const char *reason;
	} rows[] = {
		{ "Subject: a value long enough", SIP_HDR_SUBJECT, NULL },
		{ "sUBJECT: a value long enough", SIP_HDR_SUBJECT, NULL },
		{ "s: a value long enough", SIP_HDR_SUBJECT, NULL },
		{ "Subject : a value long enough", SIP_HDR_SUBJECT, NULL },
		{ "Subject\t: a value long enough", SIP_HDR_SUBJECT, NULL },
		{ "Accept-Language: en", SIP_HDR_ACCEPT_LANGUAGE, NULL },   /* colon at 15 */
		{ "WWW-Authenticate: Digest realm=\"a\"", SIP_HDR_WWW_AUTHENTICATE, NULL }, /* 16 */
		{ "Subject:x", SIP_HDR_SUBJECT, NULL },                      /* under 16 bytes */
		{ "X-Unknown: a value long enough", SIP_HDR_OTHER, NULL },
		{ "X-A-Much-Longer-Unknown-Name: v", SIP_HDR_OTHER, NULL },
		{ "X~!%*_+`'.-: a value long enough", SIP_HDR_OTHER, NULL },  /* every token mark */
		{ "Subject@: a value long enough", -1, "Bad header name" },
		{ "Sub[ect: a value long enough", -1, "Bad header name" },
		{ "Sub\x7f" "ect: a value long enough", -1, "Bad header name" },
		{ "Sub\x01" "ect: a value long enough", -1, "Bad header name" },
		{ "Sub\xc3\xa9" "ect: a value long enough", -1, "Bad header name" },
		{ "Sub ject: a value long enough", -1, "Bad header name" },
		{ "@Subject: a value long enough", -1, "Bad header line" },
		{ ": a value long enough, no name", -1, "Bad header line" },
		{ "Subject a value long enough", -1, "Bad header line" },
		{ "Sub\x0d" "ect: a value long enough", -1, "Bad header name" }, /* 0x0D | 0x20 is '-' */
		{ "Call\x0did: a value long enough", -1, "Bad header name" },
	};
	struct guard g;
	(void)state;

	guard_init(&g, 1024);
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		char text[600];
		int n = snprintf(text, sizeof(text), REQ_HEAD BASE_HDRS "%s\r\n\r\n", rows[r].line);
		struct sip_error err = { 0, NULL };
		struct sip_msg m;
		int rc = decode_printed(&g, text, sizeof(text), n, &m, &err);
		if (rows[r].id < 0) {
			if (rc != EBADMSG || strcmp(err.reason, rows[r].reason) != 0)
				fail_msg("row %zu: rc %d, %s", r, rc, err.reason ? err.reason : "");
		} else {
			if (rc != 0)
				fail_msg("row %zu: rc %d, %s", r, rc, err.reason ? err.reason : "");
			const struct sip_hdr *h = &m.hdrs[m.hdr_count - 1];
			if (h->id != rows[r].id)
				fail_msg("row %zu: id %d, want %d", r, h->id, rows[r].id);
			if (rows[r].id != SIP_HDR_OTHER)
				assert_ptr_equal(sip_msg_hdr_find(&m, (enum sip_hdr_id)rows[r].id), h);
		}
		sip_msg_fini(&m);
	}
	guard_fini(&g);
}

/* ---- limits --------------------------------------------------------- */

static char *message_with_headers(unsigned extra, const char *line, struct buf *b)
{
	buf_init(b);
	assert_int_equal(buf_append_cstr(b, REQ_HEAD BASE_HDRS), 0);
	for (unsigned i = 0; i < extra; i++)
		assert_int_equal(buf_append_cstr(b, line), 0);
	assert_int_equal(buf_append_cstr(b, "\r\n"), 0);
	return b->data;
}

static void test_limit_header_count(void **state)
{
	struct sip_msg m;
	struct sip_error err;
	struct buf b;
	size_t used;
	(void)state;

	/* BASE_HDRS has 5 lines: fill up to exactly the limit, then one more */
	message_with_headers(SIP_MAX_HEADERS - 5, "X-Filler: 1\r\n", &b);
	assert_int_equal(sip_msg_decode(&m, b.data, b.len, SIP_FRAMING_DGRAM, &used, &err), 0);
	assert_int_equal(m.hdr_count, SIP_MAX_HEADERS);
	sip_msg_fini(&m);
	buf_fini(&b);

	message_with_headers(SIP_MAX_HEADERS - 4, "X-Filler: 1\r\n", &b);
	assert_int_equal(sip_msg_decode(&m, b.data, b.len, SIP_FRAMING_DGRAM, &used, &err), EMSGSIZE);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.reason, "Too many headers");
	sip_msg_fini(&m);
	buf_fini(&b);
}

static void test_limit_message_size(void **state)
{
	struct sip_msg m;
	struct sip_error err;
	struct buf b;
	size_t used;
	(void)state;

	/* a stream that never ends its headers: refused once past the limit */
	buf_init(&b);
	assert_int_equal(buf_append_cstr(&b, REQ_HEAD), 0);
	while (b.len < SIP_MAX_MESSAGE + 10) {
		assert_int_equal(buf_append_cstr(&b, "X-Long: "), 0);
		for (int i = 0; i < 1000; i++)
			assert_int_equal(buf_append(&b, "a", 1), 0);
		assert_int_equal(buf_append_cstr(&b, "\r\n"), 0);
	}
	assert_int_equal(sip_msg_decode(&m, b.data, b.len, SIP_FRAMING_STREAM, &used, &err), EMSGSIZE);
	assert_int_equal(err.status, 413);
	sip_msg_fini(&m);
	/* just below the limit it is only incomplete */
	assert_int_equal(sip_msg_decode(&m, b.data, SIP_MAX_MESSAGE - 1, SIP_FRAMING_STREAM, &used,
					&err),
			 EAGAIN);
	sip_msg_fini(&m);
	buf_fini(&b);

	/* headers + body exactly at the limit decode; one byte more does not */
	for (int over = 0; over <= 1; over++) {
		char head[256];
		size_t hl = (size_t)snprintf(head, sizeof(head), REQ_HEAD BASE_HDRS "l: %05u\r\n\r\n", 0);
		size_t body = SIP_MAX_MESSAGE - hl + (size_t)over;
		buf_init(&b);
		assert_int_equal(buf_printf(&b, REQ_HEAD BASE_HDRS "l: %05zu\r\n\r\n", body), 0);
		assert_int_equal(b.len, hl);
		for (size_t i = 0; i < body; i++)
			assert_int_equal(buf_append(&b, "x", 1), 0);
		int rc = sip_msg_decode(&m, b.data, b.len, SIP_FRAMING_STREAM, &used, &err);
		assert_int_equal(rc, over ? EMSGSIZE : 0);
		sip_msg_fini(&m);
		buf_fini(&b);
	}
}

/* lex_list_next as a plain byte loop: the reference its word-at-a-time
 * scan must agree with. */
static int list_next_ref(struct view *rest, struct view *elem)
{
	struct view v = *rest;
	size_t i = 0;
	bool in_angle = false;

	while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == '\r' || v.p[i] == '\n'))
		i++;
	size_t start = i;
	if (i >= v.len)
		return ENOENT;
	while (i < v.len) {
		char c = v.p[i];
		if (c == '"') {
			size_t j = i + 1;
			bool closed = false;
			while (j < v.len) {
				if (v.p[j] == '"') {
					closed = true;
					break;
				}
				if (v.p[j] == '\\') {
					if (j + 1 >= v.len || v.p[j + 1] == '\r' || v.p[j + 1] == '\n')
						return EBADMSG;
					j += 2;
					continue;
				}
				j++;
			}
			if (!closed)
				return EBADMSG;
			i = j + 1;
			continue;
		}
		if (c == '<') {
			if (in_angle)
				return EBADMSG;
			in_angle = true;
		} else if (c == '>') {
			if (!in_angle)
				return EBADMSG;
			in_angle = false;
		} else if (c == ',' && !in_angle) {
			break;
		}
		i++;
	}
	if (in_angle)
		return EBADMSG;
	struct view e = view_trim(view_make(v.p + start, i - start));
	if (e.len == 0)
		return EBADMSG;
	*elem = e;
	if (i < v.len)
		i++;
	*rest = view_make(v.p + i, v.len - i);
	if (i == v.len && v.p[i - 1] == ',')
		return EBADMSG;
	return 0;
}

/* Random lists over the characters that matter, every length to 80 (so a
 * separator falls at each place of an eight- and a sixteen-byte step): the
 * same elements, the same errors, as the byte loop. Two alphabets: one
 * dense with separators, one where runs of plain bytes are long. */
static void test_list_split_words(void **state)
{
	static const char dense[] = "aaaaaaaa,\"<> \\\x80\xff;=";
	static const char sparse[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x80;=,\"<>";
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	char text[80];
	(void)state;

	for (int round = 0; round < 40000; round++) {
		const char *alphabet = round % 2 ? sparse : dense;
		size_t alen = round % 2 ? sizeof(sparse) - 1 : sizeof(dense) - 1;
		size_t len = (size_t)(round / 2) % (sizeof(text) + 1);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			text[i] = alphabet[(seed >> 33) % alen];
		}
		struct view a = view_make(text, len), b = a, ea, eb;
		for (int n = 0; n < 50; n++) {
			int ra = lex_list_next(&a, &ea), rb = list_next_ref(&b, &eb);
			if (ra != rb)
				fail_msg("round %d: \"%.*s\": %d, reference %d", round, (int)len, text, ra, rb);
			if (ra != 0)
				break;
			assert_ptr_equal(ea.p, eb.p);
			assert_int_equal(ea.len, eb.len);
			assert_ptr_equal(a.p, b.p);
			assert_int_equal(a.len, b.len);
		}
	}
}

static void test_limit_list(void **state)
{
	struct sip_msg m;
	struct sip_error err;
	const struct sip_via *vias;
	struct buf b;
	size_t used, n;
	(void)state;

	message_with_headers(SIP_MAX_LIST - 1, "Via: SIP/2.0/UDP h\r\n", &b);
	assert_int_equal(sip_msg_decode(&m, b.data, b.len, SIP_FRAMING_DGRAM, &used, &err), 0);
	assert_int_equal(sip_msg_vias(&m, &vias, &n, &err), 0);
	assert_int_equal(n, SIP_MAX_LIST);
	sip_msg_fini(&m);
	buf_fini(&b);

	message_with_headers(SIP_MAX_LIST, "Via: SIP/2.0/UDP h\r\n", &b);
	assert_int_equal(sip_msg_decode(&m, b.data, b.len, SIP_FRAMING_DGRAM, &used, &err), 0);
	assert_int_equal(sip_msg_vias(&m, &vias, &n, &err), EBADMSG);
	assert_string_equal(err.reason, "Too many values in a list header");
	/* asked again: the cached answer */
	assert_int_equal(sip_msg_vias(&m, &vias, &n, &err), EBADMSG);
	sip_msg_fini(&m);
	buf_fini(&b);
}

/* ---- framing -------------------------------------------------------- */

static void test_stream_pipelined(void **state)
{
	static const char two[] = "\r\n\r\n" REQ_HEAD BASE_HDRS "Content-Length: 3\r\n\r\nabc"
				  "OPTIONS sip:b@c SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK9\r\n"
				  "f: <sip:a@b>;tag=2\r\nt: <sip:b@c>\r\ni: y\r\nCSeq: 9 OPTIONS\r\n"
				  "l: 0\r\n\r\n";
	struct sip_msg m;
	struct sip_error err;
	size_t used, off = 0;
	(void)state;

	assert_int_equal(sip_msg_decode(&m, two, sizeof(two) - 1, SIP_FRAMING_STREAM, &used, &err), 0);
	assert_int_equal(m.method_id, SIP_METHOD_REGISTER);
	expect_view(m.body, "abc");
	assert_ptr_equal(m.buf, two + 4); /* leading CRLFs skipped, and counted */
	sip_msg_fini(&m);
	off += used;
	assert_int_equal(sip_msg_decode(&m, two + off, sizeof(two) - 1 - off, SIP_FRAMING_STREAM,
					&used, &err),
			 0);
	assert_int_equal(m.method_id, SIP_METHOD_OPTIONS);
	assert_int_equal(m.cseq.number, 9);
	off += used;
	assert_int_equal(off, sizeof(two) - 1);
	sip_msg_fini(&m);
}

static void test_stream_no_content_length(void **state)
{
	static const char text[] = REQ_HEAD BASE_HDRS "\r\nNEXT";
	struct sip_msg m;
	struct sip_error err;
	size_t used;
	(void)state;

	/* on a stream the body is empty; on a datagram it runs to the end */
	assert_int_equal(sip_msg_decode(&m, text, sizeof(text) - 1, SIP_FRAMING_STREAM, &used, &err), 0);
	assert_int_equal(m.body.len, 0);
	assert_int_equal(used, sizeof(text) - 1 - 4);
	sip_msg_fini(&m);
	assert_int_equal(sip_msg_decode(&m, text, sizeof(text) - 1, SIP_FRAMING_DGRAM, &used, &err), 0);
	expect_view(m.body, "NEXT");
	sip_msg_fini(&m);
}

/* ---- eager and lazy values -------------------------------------------- */

static const char full_register[] =
	"REGISTER sip:example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 10.0.0.5:5062;rport;branch=z9hG4bKabc;received=192.0.2.7\r\n"
	"Via: SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bKdef;rport=4000;ttl=16;maddr=239.1.1.1,\r\n"
	" SIP/2.0/TLS proxy.example.com;branch=z9hG4bKghi\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice A.\" <sip:alice@example.com>;tag=a1\r\n"
	"To: Alice <sip:alice@example.com>\r\n"
	"Call-ID: 1234@10.0.0.5\r\n"
	"CSeq: 2 REGISTER\r\n"
	"Contact: <sip:alice@10.0.0.5:5062;transport=udp>;expires=600;q=0.7;"
	"+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1,\r\n"
	"  <sip:alice@[2001:db8::5]>;q=1.0\r\n"
	"Expires: 3600\r\n"
	"Min-Expires: 60\r\n"
	"Authorization: Digest username=\"alice\", realm=\"example.com\",\r\n"
	"  nonce=\"abc123\", uri=\"sip:example.com\", response=\"0123456789abcdef\",\r\n"
	"  algorithm=SHA-256, cnonce=\"xyz\", opaque=\"op\", qop=auth, nc=00000001\r\n"
	"WWW-Authenticate: Digest realm=\"example.com\", qop=\"auth\", nonce=\"n1\", algorithm=SHA-256,"
	" stale=true\r\n"
	"WWW-Authenticate: Digest realm=\"example.com\", qop=\"auth\", nonce=\"n2\", algorithm=MD5\r\n"
	"Path: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
	"Route: <sip:r1.example.com;lr>\r\n"
	"Record-Route: <sip:rr1.example.com;lr>\r\nRecord-Route: <sip:rr2.example.com;lr>\r\n"
	"Service-Route: <sip:orig@scscf.example.com;lr>\r\n"
	"P-Associated-URI: <sip:alice@example.com>, <tel:+15551234>\r\n"
	"Supported: path, outbound,gruu\r\n"
	"k:\r\n"
	"Require: ,sec-agree,\r\n"
	"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE\r\n"
	"User-Agent: Test Phone 1.0\r\n"
	"l: 0\r\n"
	"\r\n";

static struct sip_msg *decode_full(void)
{
	static struct sip_msg m;
	struct sip_error err;
	size_t used;
	int rc = sip_msg_decode(&m, full_register, sizeof(full_register) - 1, SIP_FRAMING_DGRAM, &used,
				&err);
	if (rc != 0)
		fail_msg("decode: %d %s", rc, err.reason);
	return &m;
}

/* A response's From and To: display, URI text and tags, no URI fields. */
static void test_response_from_to(void **state)
{
	static const char text[] = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
				   "From: \"A\" <sip:alice@example.com;transport=tcp>;tag=f1\r\n"
				   "t: sip:bob@example.com;tag=t2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n";
	struct sip_error err;
	struct sip_msg m;
	size_t used;
	(void)state;

	assert_int_equal(sip_msg_decode(&m, text, sizeof(text) - 1, SIP_FRAMING_DGRAM, &used, &err), 0);
	expect_view(m.from.display, "\"A\"");
	expect_view(m.from.uri_raw, "sip:alice@example.com;transport=tcp");
	expect_view(m.from.uri.raw, "sip:alice@example.com;transport=tcp");
	assert_null(m.from.uri.host.p);
	expect_view(m.from.tag, "f1");
	expect_view(m.to.uri_raw, "sip:bob@example.com");
	expect_view(m.to.tag, "t2");
	sip_msg_fini(&m);
}

static void test_eager_values(void **state)
{
	struct sip_msg *m = decode_full();
	(void)state;

	assert_true(m->is_request);
	assert_int_equal(m->method_id, SIP_METHOD_REGISTER);
	expect_view(m->ruri.host, "example.com");
	expect_view(m->via.host, "10.0.0.5");
	assert_int_equal(m->via.port, 5062);
	assert_true(m->via.has_rport);
	assert_false(m->via.rport_has_value);
	expect_view(m->via.branch, "z9hG4bKabc");
	expect_view(m->via.received, "192.0.2.7");
	expect_view(m->from.display, "\"Alice A.\"");
	expect_view(m->from.tag, "a1");
	expect_view(m->to.display, "Alice");
	assert_null(m->to.tag.p);
	expect_view(m->call_id, "1234@10.0.0.5");
	assert_int_equal(m->cseq.number, 2);
	assert_int_equal(m->max_forwards, 70);
	assert_int_equal(m->content_length, 0);
	sip_msg_fini(m);
}

static void test_lazy_values(void **state)
{
	struct sip_msg *m = decode_full();
	const struct sip_via *v;
	const struct sip_contact *c;
	const struct sip_auth *a;
	const struct sip_addr *ad;
	const struct view *t;
	struct sip_error err;
	uint32_t s;
	size_t n;
	(void)state;

	assert_int_equal(sip_msg_vias(m, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	expect_view(v[1].host, "[2001:db8::1]");
	assert_int_equal(v[1].host_type, SIP_HOST_IPV6);
	assert_int_equal(v[1].port, 5070);
	assert_true(v[1].rport_has_value);
	assert_int_equal(v[1].rport, 4000);
	assert_true(v[1].has_ttl);
	assert_int_equal(v[1].ttl, 16);
	expect_view(v[1].maddr, "239.1.1.1");
	expect_view(v[2].transport, "TLS");
	expect_view(v[2].branch, "z9hG4bKghi");

	assert_int_equal(sip_msg_contacts(m, &c, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_false(c[0].star);
	assert_true(c[0].has_expires);
	assert_int_equal(c[0].expires, 600);
	assert_int_equal(c[0].q, 700);
	expect_view(c[0].instance, "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"");
	assert_true(c[0].has_reg_id);
	assert_int_equal(c[0].reg_id, 1);
	expect_view(c[0].addr.uri.params, ";transport=udp");
	assert_int_equal(c[1].q, 1000);
	assert_false(c[1].has_expires);
	expect_view(c[1].addr.uri.host, "[2001:db8::5]");

	assert_int_equal(sip_msg_expires(m, &s, &err), 0);
	assert_int_equal(s, 3600);
	assert_int_equal(sip_msg_min_expires(m, &s, &err), 0);
	assert_int_equal(s, 60);

	assert_int_equal(sip_msg_auths(m, SIP_HDR_AUTHORIZATION, &a, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_true(a[0].digest);
	expect_view(a[0].username, "alice");
	expect_view(a[0].realm, "example.com");
	expect_view(a[0].nonce, "abc123");
	expect_view(a[0].uri, "sip:example.com");
	expect_view(a[0].response, "0123456789abcdef");
	expect_view(a[0].algorithm, "SHA-256");
	expect_view(a[0].cnonce, "xyz");
	expect_view(a[0].opaque, "op");
	expect_view(a[0].qop, "auth");
	expect_view(a[0].nc, "00000001");
	assert_int_equal(sip_msg_auths(m, SIP_HDR_WWW_AUTHENTICATE, &a, &n, &err), 0);
	assert_int_equal(n, 2);
	expect_view(a[0].nonce, "n1");
	expect_view(a[0].stale, "true");
	expect_view(a[1].algorithm, "MD5");
	assert_int_equal(sip_msg_auths(m, SIP_HDR_PROXY_AUTHORIZATION, &a, &n, &err), 0);
	assert_int_equal(n, 0);

	assert_int_equal(sip_msg_addrs(m, SIP_HDR_PATH, &ad, &n, &err), 0);
	assert_int_equal(n, 2);
	expect_view(ad[1].uri.host, "p2.example.com");
	assert_int_equal(sip_msg_addrs(m, SIP_HDR_RECORD_ROUTE, &ad, &n, &err), 0);
	assert_int_equal(n, 2);
	expect_view(ad[0].uri.host, "rr1.example.com");
	assert_int_equal(sip_msg_addrs(m, SIP_HDR_ROUTE, &ad, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sip_msg_addrs(m, SIP_HDR_SERVICE_ROUTE, &ad, &n, &err), 0);
	expect_view(ad[0].uri.user, "orig");
	assert_int_equal(sip_msg_addrs(m, SIP_HDR_P_ASSOCIATED_URI, &ad, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ad[1].uri.scheme, SIP_URI_TEL);
	assert_int_equal(sip_msg_addrs(m, SIP_HDR_VIA, &ad, &n, &err), EINVAL);

	assert_int_equal(sip_msg_tokens(m, SIP_HDR_SUPPORTED, &t, &n, &err), 0);
	assert_int_equal(n, 3);
	expect_view(t[2], "gruu");
	assert_int_equal(sip_msg_tokens(m, SIP_HDR_REQUIRE, &t, &n, &err), 0);
	assert_int_equal(n, 1);
	expect_view(t[0], "sec-agree");
	assert_int_equal(sip_msg_tokens(m, SIP_HDR_ALLOW, &t, &n, &err), 0);
	assert_int_equal(n, 6);
	assert_int_equal(sip_msg_tokens(m, SIP_HDR_UNSUPPORTED, &t, &n, &err), 0);
	assert_int_equal(n, 0);
	expect_view(sip_msg_user_agent(m), "Test Phone 1.0");
	assert_int_equal(sip_msg_decode_all(m, &err), 0);
	sip_msg_fini(m);
}

struct lazy_case {
	const char *name;
	const char *extra; /* header lines added to a minimal request */
	int rc;            /* of sip_msg_decode_all */
	const char *reason;
};

static const struct lazy_case lazy_cases[] = {
	{ "star contact", "Contact: *\r\nExpires: 0\r\n", 0, NULL },
	{ "contact expires text", "Contact: <sip:a@b>;expires=soon\r\n", EBADMSG, "Bad Contact header" },
	{ "contact q 1.5", "Contact: <sip:a@b>;q=1.5\r\n", EBADMSG, "Bad Contact header" },
	{ "contact q 0.1234", "Contact: <sip:a@b>;q=0.1234\r\n", EBADMSG, "Bad Contact header" },
	{ "contact empty element", "Contact: <sip:a@b>,,<sip:c@d>\r\n", EBADMSG, "Bad Contact header" },
	{ "contact trailing comma", "Contact: <sip:a@b>,\r\n", EBADMSG, "Bad Contact header" },
	{ "contact unclosed", "Contact: <sip:a@b\r\n", EBADMSG, "Bad Contact header" },
	{ "expires text", "Expires: never\r\n", EBADMSG, "Bad Expires header" },
	{ "expires twice", "Expires: 1\r\nExpires: 2\r\n", EBADMSG, "Bad Expires header" },
	{ "expires huge saturates", "Expires: 99999999999999999999\r\n", 0, NULL },
	{ "min-expires text", "Min-Expires: x\r\n", EBADMSG, "Bad Min-Expires header" },
	{ "digest param twice", "Authorization: Digest username=\"a\", username=\"b\"\r\n", EBADMSG,
	  "Bad Authorization header" },
	{ "digest unclosed quote", "Proxy-Authorization: Digest username=\"a\r\n", EBADMSG,
	  "Bad Proxy-Authorization header" },
	{ "digest trailing comma", "Authorization: Digest username=\"a\",\r\n", EBADMSG,
	  "Bad Authorization header" },
	{ "digest no params", "Proxy-Authenticate: Digest\r\n", 0, NULL },
	{ "route not an address", "Route: <sip:a@b>garbage\r\n", EBADMSG, "Bad Route header" },
	{ "supported bad token", "Supported: pa/th\r\n", EBADMSG, "Bad Supported header" },
	{ "via bad in second line", "Via: SIP/2.0/UDP h, nonsense\r\n", EBADMSG, "Bad Via header" },
};

static void test_lazy_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(lazy_cases) / sizeof(lazy_cases[0]); i++) {
		const struct lazy_case *c = &lazy_cases[i];
		struct sip_msg m;
		struct sip_error err = { 0, NULL };
		struct buf b;
		size_t used;

		buf_init(&b);
		assert_int_equal(buf_printf(&b, REQ_HEAD BASE_HDRS "%s\r\n", c->extra), 0);
		assert_int_equal(sip_msg_decode(&m, b.data, b.len, SIP_FRAMING_DGRAM, &used, &err), 0);
		int rc = sip_msg_decode_all(&m, &err);
		if (rc != c->rc)
			fail_msg("%s: decode_all %d (%s), expected %d", c->name, rc,
				 rc ? err.reason : "", c->rc);
		if (c->reason)
			assert_string_equal(err.reason, c->reason);
		sip_msg_fini(&m);
		buf_fini(&b);
	}
}

static void test_param_next(void **state)
{
	struct view rest = VIEW_LIT(" ; a = 1 ;b; c=\"x;y\" ;d=[2001:db8::1]");
	struct sip_param p;
	(void)state;

	assert_int_equal(sip_param_next(&rest, &p), 0);
	expect_view(p.name, "a");
	expect_view(p.value, "1");
	assert_int_equal(sip_param_next(&rest, &p), 0);
	expect_view(p.name, "b");
	assert_null(p.value.p);
	assert_int_equal(sip_param_next(&rest, &p), 0);
	expect_view(p.value, "\"x;y\"");
	assert_int_equal(sip_param_next(&rest, &p), 0);
	expect_view(p.value, "[2001:db8::1]");
	assert_int_equal(sip_param_next(&rest, &p), ENOENT);

	struct view bad = VIEW_LIT(";;a");
	assert_int_equal(sip_param_next(&bad, &p), EBADMSG);
	struct view bad2 = VIEW_LIT(";a=");
	assert_int_equal(sip_param_next(&bad2, &p), EBADMSG);
	struct view v;
	assert_true(sip_param_find(VIEW_LIT(";Branch=z9;lr"), "branch", &v));
	expect_view(v, "z9");
	assert_false(sip_param_find(VIEW_LIT(";lr"), "maddr", &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_full_names),
		cmocka_unit_test(test_lookup_compact),
		cmocka_unit_test(test_lookup_near_misses),
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_call_id_bytes),
		cmocka_unit_test(test_lex_span),
		cmocka_unit_test(test_header_names),
		cmocka_unit_test(test_limit_header_count),
		cmocka_unit_test(test_limit_message_size),
		cmocka_unit_test(test_limit_list),
		cmocka_unit_test(test_list_split_words),
		cmocka_unit_test(test_stream_pipelined),
		cmocka_unit_test(test_stream_no_content_length),
		cmocka_unit_test(test_eager_values),
		cmocka_unit_test(test_response_from_to),
		cmocka_unit_test(test_lazy_values),
		cmocka_unit_test(test_lazy_table),
		cmocka_unit_test(test_param_next),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

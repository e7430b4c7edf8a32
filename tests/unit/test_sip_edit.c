/*
 * test_sip_edit.c - forwarding edits rendered into an iovec: each result is
 * joined, decoded again, and compared header by header with the original,
 * so an edit changes exactly what it says and nothing else.
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
#include "sip/edit.h"
#include "sip/msg.h"

static const char invite[] =
	"INVITE sip:bob@example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1\r\n"
	"Max-Forwards: 70\r\n"
	"Route: <sip:proxy.example.com;lr>, <sip:next.example.net;lr>\r\n"
	"From: <sip:alice@example.com>;tag=9\r\n"
	"To: <sip:bob@example.com>\r\n"
	"Call-ID: edit-1@192.0.2.1\r\n"
	"CSeq: 1 INVITE\r\n"
	"Record-Route: <sip:earlier.example.org;lr>\r\n"
	"Contact: <sip:alice@192.0.2.1:5060>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 4\r\n"
	"\r\n"
	"v=0\n";

static void expect_view(struct view v, const char *s)
{
	if (v.p == NULL || v.len != strlen(s) || memcmp(v.p, s, v.len) != 0)
		fail_msg("view is '%.*s', expected '%s'", (int)v.len, v.p ? v.p : "", s);
}

static void decode(struct sip_msg *m, const char *text, size_t len)
{
	struct sip_error err;
	size_t used;
	int rc = sip_msg_decode(m, text, len, SIP_FRAMING_STREAM, &used, &err);
	if (rc != 0)
		fail_msg("decode: %d %s", rc, rc == EAGAIN ? "incomplete" : err.reason);
	assert_int_equal(used, len);
}

/* Render and join into b. */
static void render(const struct sip_edit *e, struct buf *b)
{
	struct iovec iov[SIP_EDIT_MAX_IOV];
	size_t n, total;

	assert_int_equal(sip_edit_render(e, iov, SIP_EDIT_MAX_IOV, &n, &total), 0);
	buf_init(b);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf_append(b, iov[i].iov_base, iov[i].iov_len), 0);
	assert_int_equal(b->len, total);

	/* sip_edit_render_buf appends the same bytes after what is there */
	struct buf joined;
	buf_init(&joined);
	assert_int_equal(buf_append_cstr(&joined, "before|"), 0);
	assert_int_equal(sip_edit_render_buf(e, &joined), 0);
	assert_int_equal(joined.len, 7 + b->len);
	assert_memory_equal(joined.data, "before|", 7);
	assert_memory_equal(joined.data + 7, b->data, b->len);
	buf_fini(&joined);
}

/* Headers of b other than those with the given ids match a's, in order. */
static void expect_same_except(const struct sip_msg *a, const struct sip_msg *b,
			       const enum sip_hdr_id *skip, size_t nskip)
{
	unsigned i = 0, j = 0;
	for (;;) {
		while (i < a->hdr_count) {
			bool s = false;
			for (size_t k = 0; k < nskip; k++)
				s = s || a->hdrs[i].id == skip[k];
			if (!s)
				break;
			i++;
		}
		while (j < b->hdr_count) {
			bool s = false;
			for (size_t k = 0; k < nskip; k++)
				s = s || b->hdrs[j].id == skip[k];
			if (!s)
				break;
			j++;
		}
		if (i >= a->hdr_count || j >= b->hdr_count)
			break;
		assert_int_equal(a->hdrs[i].id, b->hdrs[j].id);
		assert_true(view_eq(a->hdrs[i].name, b->hdrs[j].name));
		assert_true(view_eq(a->hdrs[i].value, b->hdrs[j].value));
		i++;
		j++;
	}
	assert_int_equal(i, a->hdr_count);
	assert_int_equal(j, b->hdr_count);
	assert_true(view_eq(a->body, b->body));
}

static void test_forward_request(void **state)
{
	static const enum sip_hdr_id changed[] = { SIP_HDR_VIA, SIP_HDR_MAX_FORWARDS, SIP_HDR_ROUTE,
						   SIP_HDR_RECORD_ROUTE };
	struct sip_msg orig, out;
	struct sip_edit e;
	struct buf b;
	const struct sip_via *vias;
	const struct sip_addr *routes, *rr;
	size_t n;
	(void)state;

	decode(&orig, invite, sizeof(invite) - 1);
	sip_edit_init(&e, &orig);
	assert_int_equal(sip_edit_insert_via(&e, VIEW_LIT("SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKp1")), 0);
	assert_int_equal(sip_edit_set_max_forwards(&e, orig.max_forwards - 1), 0);
	assert_int_equal(sip_edit_remove_top_route(&e), 0);
	assert_int_equal(sip_edit_insert_record_route(&e, VIEW_LIT("<sip:198.51.100.1;lr>")), 0);
	assert_int_equal(sip_edit_set_request_uri(&e, VIEW_LIT("sip:bob@192.0.2.99:5062")), 0);
	render(&e, &b);

	decode(&out, b.data, b.len);
	expect_view(out.ruri_raw, "sip:bob@192.0.2.99:5062");
	expect_view(out.via.branch, "z9hG4bKp1");
	assert_int_equal(sip_msg_vias(&out, &vias, &n, NULL), 0);
	assert_int_equal(n, 2);
	expect_view(vias[1].branch, "z9hG4bKa1");
	assert_int_equal(out.max_forwards, 69);
	assert_int_equal(sip_msg_addrs(&out, SIP_HDR_ROUTE, &routes, &n, NULL), 0);
	assert_int_equal(n, 1);
	expect_view(routes[0].uri.host, "next.example.net");
	assert_int_equal(sip_msg_addrs(&out, SIP_HDR_RECORD_ROUTE, &rr, &n, NULL), 0);
	assert_int_equal(n, 2);
	expect_view(rr[0].uri.host, "198.51.100.1");
	expect_view(rr[1].uri.host, "earlier.example.org");
	expect_same_except(&orig, &out, changed, 4);
	sip_msg_fini(&out);
	buf_fini(&b);
	sip_msg_fini(&orig);
}

static void test_remove_whole_route_line(void **state)
{
	static const char text[] = "BYE sip:bob@192.0.2.99 SIP/2.0\r\n"
				   "Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKb2\r\n"
				   "Route: <sip:proxy.example.com;lr>\r\n"
				   "Route: <sip:second.example.com;lr>\r\n"
				   "From: <sip:alice@example.com>;tag=9\r\n"
				   "To: <sip:bob@example.com>;tag=7\r\n"
				   "Call-ID: edit-2\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n";
	static const enum sip_hdr_id changed[] = { SIP_HDR_ROUTE, SIP_HDR_MAX_FORWARDS };
	struct sip_msg orig, out;
	struct sip_edit e;
	struct buf b;
	const struct sip_addr *routes;
	size_t n;
	(void)state;

	decode(&orig, text, sizeof(text) - 1);
	sip_edit_init(&e, &orig);
	assert_int_equal(sip_edit_remove_top_route(&e), 0);
	/* no Max-Forwards in the request: one is added */
	assert_int_equal(sip_edit_set_max_forwards(&e, 70), 0);
	render(&e, &b);
	decode(&out, b.data, b.len);
	assert_int_equal(sip_msg_addrs(&out, SIP_HDR_ROUTE, &routes, &n, NULL), 0);
	assert_int_equal(n, 1);
	expect_view(routes[0].uri.host, "second.example.com");
	assert_true(out.has_max_forwards);
	assert_int_equal(out.max_forwards, 70);
	assert_int_equal(out.hdr_count, orig.hdr_count);
	expect_same_except(&orig, &out, changed, 2);
	sip_msg_fini(&out);
	buf_fini(&b);
	sip_msg_fini(&orig);
}

/* remove_routes(k) over lines with several values, remove_last_route,
 * remove_header: each table row is (Route lines, edit, expected hosts left). */
static void test_route_removals(void **state)
{
	static const struct {
		const char *routes; /* Route header lines */
		int op;             /* 0: remove_routes(k), 1: remove_last_route, 2: Proxy-Authorization */
		unsigned k;
		int rc;
		const char *left; /* hosts of the Route values left, space-separated */
	} rows[] = {
		{ "Route: <sip:a;lr>\r\nRoute: <sip:b;lr>\r\n", 0, 1, 0, "b" },
		{ "Route: <sip:a;lr>\r\nRoute: <sip:b;lr>\r\n", 0, 2, 0, "" },
		{ "Route: <sip:a;lr>, <sip:b;lr>, <sip:c;lr>\r\n", 0, 2, 0, "c" },
		{ "Route: <sip:a;lr>, <sip:b;lr>\r\nRoute: <sip:c;lr>\r\n", 0, 3, 0, "" },
		{ "Route: <sip:a;lr>\r\nRoute: <sip:b;lr>, <sip:c;lr>\r\n", 0, 2, 0, "c" },
		{ "Route: <sip:a;lr>\r\n", 0, 2, ENOENT, NULL },
		{ "", 0, 1, ENOENT, NULL },
		{ "Route: <sip:a;lr>\r\nRoute: <sip:b>\r\n", 1, 0, 0, "a" },
		{ "Route: <sip:a;lr>, <sip:b>, <sip:c>\r\n", 1, 0, 0, "a b" },
		{ "Route: <sip:a>\r\n", 1, 0, 0, "" },
		{ "", 1, 0, ENOENT, NULL },
		{ "Route: <sip:a;lr>\r\n", 2, 0, 0, "a" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[1024];
		struct sip_msg orig, out;
		struct sip_edit e;
		struct buf b;
		const struct sip_addr *routes;
		size_t n;
		int rc;

		snprintf(text, sizeof(text),
			 "BYE sip:bob@192.0.2.99 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr%zu\r\n%s"
			 "Proxy-Authorization: Digest username=\"x\"\r\n"
			 "From: <sip:alice@example.com>;tag=9\r\nTo: <sip:bob@example.com>;tag=7\r\n"
			 "Call-ID: edit-r\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n",
			 i, rows[i].routes);
		decode(&orig, text, strlen(text));
		sip_edit_init(&e, &orig);
		if (rows[i].op == 0)
			rc = sip_edit_remove_routes(&e, rows[i].k);
		else if (rows[i].op == 1)
			rc = sip_edit_remove_last_route(&e);
		else
			rc = sip_edit_remove_header(&e, sip_msg_hdr_find(&orig,
									 SIP_HDR_PROXY_AUTHORIZATION));
		if (rc != rows[i].rc)
			fail_msg("row %zu: rc %d, expected %d", i, rc, rows[i].rc);
		if (rc != 0) {
			sip_msg_fini(&orig);
			continue;
		}
		render(&e, &b);
		decode(&out, b.data, b.len);
		assert_int_equal(sip_msg_addrs(&out, SIP_HDR_ROUTE, &routes, &n, NULL), 0);
		char left[256] = "";
		for (size_t j = 0; j < n; j++)
			snprintf(left + strlen(left), sizeof(left) - strlen(left), "%s%.*s",
				 j ? " " : "", (int)routes[j].uri.host.len, routes[j].uri.host.p);
		if (strcmp(left, rows[i].left) != 0)
			fail_msg("row %zu: Routes left '%s', expected '%s'", i, left, rows[i].left);
		assert_int_equal(sip_msg_hdr_find(&out, SIP_HDR_PROXY_AUTHORIZATION) == NULL,
				 rows[i].op == 2);
		sip_msg_fini(&out);
		buf_fini(&b);
		sip_msg_fini(&orig);
	}
}

static void test_response_remove_top_via(void **state)
{
	static const char one_line[] = "SIP/2.0 200 OK\r\n"
				       "v: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKp1, "
				       "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa1\r\n"
				       "f: <sip:alice@example.com>;tag=9\r\nt: <sip:bob@example.com>;tag=3\r\n"
				       "i: edit-3\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n";
	static const char two_lines[] = "SIP/2.0 180 Ringing\r\n"
					"Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKp1\r\n"
					"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa1\r\n"
					"From: <sip:alice@example.com>;tag=9\r\nTo: <sip:bob@example.com>;tag=3\r\n"
					"Call-ID: edit-3\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	const char *texts[] = { one_line, two_lines };
	size_t lens[] = { sizeof(one_line) - 1, sizeof(two_lines) - 1 };
	(void)state;

	for (int t = 0; t < 2; t++) {
		struct sip_msg orig, out;
		struct sip_edit e;
		struct buf b;
		const struct sip_via *vias;
		size_t n;

		decode(&orig, texts[t], lens[t]);
		sip_edit_init(&e, &orig);
		assert_int_equal(sip_edit_remove_top_via(&e), 0);
		assert_int_equal(sip_edit_set_request_uri(&e, VIEW_LIT("sip:x")), EINVAL);
		render(&e, &b);
		decode(&out, b.data, b.len);
		assert_int_equal(sip_msg_vias(&out, &vias, &n, NULL), 0);
		assert_int_equal(n, 1);
		expect_view(out.via.branch, "z9hG4bKa1");
		assert_int_equal(out.status, orig.status);
		sip_msg_fini(&out);
		buf_fini(&b);
		sip_msg_fini(&orig);
	}
}

static void test_edit_limits(void **state)
{
	struct sip_msg m;
	struct sip_edit e;
	struct iovec iov[2];
	size_t n, total;
	char big[SIP_EDIT_MAX_TEXT];
	(void)state;

	decode(&m, invite, sizeof(invite) - 1);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_set_max_forwards(&e, 10), 0);
	assert_int_equal(sip_edit_set_max_forwards(&e, 9), EINVAL); /* same span twice */
	assert_int_equal(sip_edit_remove_top_route(&e), 0);
	assert_int_equal(sip_edit_remove_top_route(&e), EINVAL);
	memset(big, 'x', sizeof(big));
	assert_int_equal(sip_edit_insert_via(&e, view_make(big, sizeof(big))), EMSGSIZE);
	/* a render that does not fit the caller's iovec */
	assert_int_equal(sip_edit_render(&e, iov, 2, &n, &total), EMSGSIZE);
	/* the op table fills up */
	sip_edit_init(&e, &m);
	unsigned ok = 0;
	while (sip_edit_add_header(&e, VIEW_LIT("X-A"), VIEW_LIT("1")) == 0)
		ok++;
	assert_int_equal(ok, SIP_EDIT_MAX_OPS);
	assert_int_equal(sip_edit_add_header(&e, VIEW_LIT("X-A"), VIEW_LIT("1")), EMSGSIZE);
	sip_msg_fini(&m);
}

static void test_add_header_and_no_edits(void **state)
{
	struct sip_msg orig, out;
	struct sip_edit e;
	struct buf b;
	(void)state;

	decode(&orig, invite, sizeof(invite) - 1);
	sip_edit_init(&e, &orig);
	render(&e, &b); /* no edits: the same bytes */
	assert_int_equal(b.len, sizeof(invite) - 1);
	assert_memory_equal(b.data, invite, b.len);
	buf_fini(&b);

	assert_int_equal(sip_edit_add_header(&e, VIEW_LIT("X-Added"), VIEW_LIT("yes")), 0);
	render(&e, &b);
	decode(&out, b.data, b.len);
	assert_int_equal(out.hdr_count, orig.hdr_count + 1);
	expect_view(out.hdrs[out.hdr_count - 1].name, "X-Added");
	expect_view(out.hdrs[out.hdr_count - 1].value, "yes");
	expect_view(out.body, "v=0\n");
	sip_msg_fini(&out);
	buf_fini(&b);
	sip_msg_fini(&orig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_request),
		cmocka_unit_test(test_remove_whole_route_line),
		cmocka_unit_test(test_route_removals),
		cmocka_unit_test(test_response_remove_top_via),
		cmocka_unit_test(test_edit_limits),
		cmocka_unit_test(test_add_header_and_no_edits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

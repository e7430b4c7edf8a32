/*
 * test_sip_response.c - responses built from requests: Via copying with
 * received/rport (RFC 3261 §18.2.1, RFC 3581), To tags, and best-effort
 * answers to requests that failed to decode. Each response is decoded
 * again and checked field by field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "sip/msg.h"
#include "sip/response.h"

static void expect_view(struct view v, const char *s)
{
	if (v.p == NULL || v.len != strlen(s) || memcmp(v.p, s, v.len) != 0)
		fail_msg("view is '%.*s', expected '%s'", (int)v.len, v.p ? v.p : "(null)", s);
}

static void decode(struct sip_msg *m, const char *text, size_t len)
{
	struct sip_error err;
	size_t used;
	int rc = sip_msg_decode(m, text, len, SIP_FRAMING_DGRAM, &used, &err);
	if (rc != 0)
		fail_msg("decode: %d %s", rc, err.reason);
}

static const char request[] = "OPTIONS sip:192.0.2.5 SIP/2.0\r\n"
			      "Via: SIP/2.0/UDP 10.0.0.7:5062;rport;branch=z9hG4bKr1,\r\n"
			      " SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp0\r\n"
			      "v: SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKp00\r\n"
			      "From: \"A\" <sip:a@example.com>;tag=fa\r\n"
			      "To: <sip:192.0.2.5>\r\n"
			      "Call-ID: resp-1\r\n"
			      "CSeq: 7 OPTIONS\r\n"
			      "Max-Forwards: 70\r\n"
			      "Content-Length: 0\r\n\r\n";

static void test_response_fields(void **state)
{
	struct sip_msg req, resp;
	struct buf out;
	const struct sip_via *vias;
	size_t n;
	(void)state;

	decode(&req, request, sizeof(request) - 1);
	struct sip_response_spec spec = {
		.status = 200,
		.via_params = VIEW_LIT(";received=198.51.100.9;rport=40000"),
		.to_tag = VIEW_LIT("tt1"),
		.extra = VIEW_LIT("Allow: OPTIONS\r\nContent-Type: text/plain\r\n"),
		.body = VIEW_LIT("hello"),
	};
	buf_init(&out);
	assert_int_equal(sip_response_print(&out, &req, &spec), 0);
	decode(&resp, out.data, out.len);
	assert_false(resp.is_request);
	assert_int_equal(resp.status, 200);
	expect_view(resp.reason, "OK");
	assert_int_equal(sip_msg_vias(&resp, &vias, &n, NULL), 0);
	assert_int_equal(n, 3);
	expect_view(vias[0].branch, "z9hG4bKr1");
	expect_view(vias[0].received, "198.51.100.9");
	assert_true(vias[0].rport_has_value); /* the bare rport was replaced */
	assert_int_equal(vias[0].rport, 40000);
	expect_view(vias[1].host, "proxy.example.com");
	expect_view(vias[2].host, "[2001:db8::1]");
	expect_view(resp.from.tag, "fa");
	expect_view(resp.to.tag, "tt1");
	expect_view(resp.call_id, "resp-1");
	assert_int_equal(resp.cseq.number, 7);
	assert_int_equal(resp.cseq.method_id, SIP_METHOD_OPTIONS);
	expect_view(resp.body, "hello");
	assert_int_equal(resp.content_length, 5);
	assert_non_null(sip_msg_hdr_find(&resp, SIP_HDR_ALLOW));
	assert_null(sip_msg_hdr_find(&resp, SIP_HDR_MAX_FORWARDS));
	/* only the first bare rport goes, and only when a valued one is added */
	assert_null(strstr(out.data, ";rport;"));
	assert_non_null(strstr(out.data, ";branch=z9hG4bKr1;received=198.51.100.9;rport=40000,"));
	sip_msg_fini(&resp);
	buf_fini(&out);
	sip_msg_fini(&req);
}

/* The top Via line of the response for each top via-parm, with and
 * without white space (a copy of the via-parm, or parameter by parameter),
 * with the bare rport first, last, alone, twice, valued, or absent. */
static void test_response_top_via(void **state)
{
	static const struct {
		const char *via, *add, *line;
	} cases[] = {
		{ "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport", ";rport=7", "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport=7" },
		{ "SIP/2.0/UDP h:5;rport;branch=z9hG4bKa", ";rport=7", "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport=7" },
		{ "SIP/2.0/UDP h:5;rport", ";received=1.2.3.4;rport=7",
		  "SIP/2.0/UDP h:5;received=1.2.3.4;rport=7" },
		{ "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport", ";received=1.2.3.4",
		  "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport;received=1.2.3.4" },
		{ "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport=9", ";rport=7",
		  "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport=9;rport=7" },
		{ "SIP/2.0/UDP h:5;rport;branch=z9hG4bKa;rport", ";rport=7",
		  "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport=7" },
		{ "SIP/2.0/UDP h:5;branch=z9hG4bKa", "", "SIP/2.0/UDP h:5;branch=z9hG4bKa" },
		{ "SIP/2.0/UDP h:5 ; rport ; branch=z9hG4bKa", ";rport=7",
		  "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport=7" },
		{ "SIP / 2.0 / UDP h:5;branch = z9hG4bKa;rport", ";rport=7",
		  "SIP / 2.0 / UDP h:5;branch=z9hG4bKa;rport=7" },
		/* a bare CR (the decoder lets one through) after the ';': the
		 * name of the rport is not right after its ';', so the copy that
		 * cuts at the ';' must not be taken (it wrote ";;branch") */
		{ "SIP/2.0/UDP h:5;\rrport;branch=z9hG4bKa", ";rport=7",
		  "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport=7" },
		{ "SIP/2.0/UDP h:5;branch=z9hG4bKa;\rrport", ";rport=7",
		  "SIP/2.0/UDP h:5;branch=z9hG4bKa;rport=7" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		struct sip_msg req;
		struct buf out;
		int n = snprintf(text, sizeof(text),
				 "OPTIONS sip:192.0.2.5 SIP/2.0\r\nVia: %s\r\n"
				 "From: <sip:a@example.com>;tag=fa\r\nTo: <sip:192.0.2.5>\r\n"
				 "Call-ID: via-%zu\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
				 cases[i].via, i);
		decode(&req, text, (size_t)n);
		struct sip_response_spec spec = { .status = 200,
						   .via_params = view_from_cstr(cases[i].add) };
		buf_init(&out);
		assert_int_equal(sip_response_print(&out, &req, &spec), 0);
		assert_int_equal(buf_append(&out, "", 1), 0);
		char want[256];
		snprintf(want, sizeof(want), "\r\nVia: %s\r\n", cases[i].line);
		if (!strstr(out.data, want))
			fail_msg("row %zu: want '%s' in:\n%s", i, cases[i].line, out.data);
		buf_fini(&out);
		sip_msg_fini(&req);
	}
}

static void test_response_keeps_existing_tag(void **state)
{
	static const char tagged[] = "BYE sip:a@192.0.2.1 SIP/2.0\r\n"
				     "Via: SIP/2.0/TCP 192.0.2.9;branch=z9hG4bKb\r\n"
				     "From: <sip:b@example.com>;tag=fb\r\n"
				     "To: <sip:a@example.com>;tag=already\r\n"
				     "Call-ID: resp-2\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n";
	struct sip_msg req, resp;
	struct buf out;
	(void)state;

	decode(&req, tagged, sizeof(tagged) - 1);
	struct sip_response_spec spec = { .status = 481, .to_tag = VIEW_LIT("new") };
	buf_init(&out);
	assert_int_equal(sip_response_print(&out, &req, &spec), 0);
	decode(&resp, out.data, out.len);
	expect_view(resp.to.tag, "already");
	expect_view(resp.reason, "Call/Transaction Does Not Exist");
	assert_null(resp.via.received.p); /* nothing added when nothing is asked */
	sip_msg_fini(&resp);
	buf_fini(&out);
	sip_msg_fini(&req);
}

static void test_response_bad_input(void **state)
{
	struct sip_msg req;
	struct buf out;
	(void)state;

	decode(&req, request, sizeof(request) - 1);
	buf_init(&out);
	struct sip_response_spec spec = { .status = 99 };
	assert_int_equal(sip_response_print(&out, &req, &spec), EINVAL);
	spec.status = 700;
	assert_int_equal(sip_response_print(&out, &req, &spec), EINVAL);
	assert_int_equal(out.len, 0);
	buf_fini(&out);
	sip_msg_fini(&req);
}

struct malformed_case {
	const char *name;
	const char *text;
	int rc; /* of sip_response_print_malformed */
	unsigned status;
	const char *reason;
};

static const struct malformed_case malformed[] = {
	{ "bad CSeq", "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKm\r\n"
		      "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: m1\r\nCSeq: x\r\n\r\n",
	  0, 400, "Bad CSeq header" },
	{ "response", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKm\r\nCSeq: 99999999999 INVITE\r\n\r\n",
	  ENOENT, 0, NULL },
	{ "ACK", "ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKm\r\nCSeq: x\r\n\r\n", ENOENT,
	  0, NULL },
	{ "no Via", "INVITE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>\r\nCSeq: x\r\n\r\n", ENOENT, 0, NULL },
	{ "bad request line", "INVITE  sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKm\r\n\r\n", 0,
	  400, "Bad request line" },
};

static void test_malformed_answers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		const struct malformed_case *c = &malformed[i];
		struct sip_msg req;
		struct sip_error err = { 0, NULL };
		struct buf out;
		size_t used;

		assert_int_not_equal(sip_msg_decode(&req, c->text, strlen(c->text), SIP_FRAMING_DGRAM,
						    &used, &err),
				     0);
		buf_init(&out);
		struct sip_response_spec spec = { .status = (unsigned)err.status,
						  .reason = err.reason,
						  .via_params = VIEW_LIT(";received=192.0.2.1"),
						  .to_tag = VIEW_LIT("t9"),
						  .extra = VIEW_LIT("Allow: INVITE\r\n") };
		int rc = sip_response_print_malformed(&out, &req, &spec);
		if (rc != c->rc)
			fail_msg("%s: rc %d, expected %d", c->name, rc, c->rc);
		if (rc == 0) {
			/* the answer carries the status line and the reason */
			char line[64];
			snprintf(line, sizeof(line), "SIP/2.0 %u %s\r\n", c->status, c->reason);
			assert_memory_equal(out.data, line, strlen(line));
			assert_non_null(strstr(out.data, "Via: SIP/2.0/UDP h;branch=z9hG4bKm"));
			assert_non_null(strstr(out.data, "Allow: INVITE\r\nContent-Length: 0\r\n\r\n"));
			if (strcmp(c->name, "bad CSeq") == 0) {
				/* the top Via decoded: its parameters are added; To is tagged */
				assert_non_null(strstr(out.data, "branch=z9hG4bKm;received=192.0.2.1\r\n"));
				assert_non_null(strstr(out.data, "To: <sip:a@b>;tag=t9\r\n"));
			}
		}
		buf_fini(&out);
		sip_msg_fini(&req);
	}
}

static void test_reason_phrases(void **state)
{
	(void)state;
	assert_string_equal(sip_reason_phrase(100), "Trying");
	assert_string_equal(sip_reason_phrase(483), "Too Many Hops");
	assert_string_equal(sip_reason_phrase(420), "Bad Extension");
	assert_string_equal(sip_reason_phrase(299), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response_fields),
		cmocka_unit_test(test_response_top_via),
		cmocka_unit_test(test_response_keeps_existing_tag),
		cmocka_unit_test(test_response_bad_input),
		cmocka_unit_test(test_malformed_answers),
		cmocka_unit_test(test_reason_phrases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

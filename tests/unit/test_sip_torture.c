/*
 * test_sip_torture.c - every RFC 4475 and RFC 5118 torture message through
 * the parser, as a table: the expectation of each case is written beside it.
 *
 * For each case:
 *   1. datagram decode: the expected result (and 400/501/505 reason), then
 *      for a decoded message every lazy header (decode_all) with its
 *      expected result, then the values the index talks about;
 *   2. stream decode of the whole file, then of every shorter prefix, each
 *      placed against a guard page: a prefix is incomplete (EAGAIN), or,
 *      for a message that is malformed anyway, already malformed;
 *   3. round trip for each decoded message: print, decode, compare.
 * A last test checks that the table covers every message of both index
 * files, so a new torture message cannot be forgotten.
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
#include "sip/msg.h"
#include "sip/print.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

typedef void(check_h)(struct sip_msg *m);

struct tcase {
	const char *file;   /* under TEST_DATA_DIR */
	int rc;             /* datagram decode */
	int status;         /* err.status when rc != 0 */
	const char *reason; /* err.reason when rc != 0 */
	int all_rc;         /* sip_msg_decode_all when rc == 0 */
	int stream_rc;      /* whole file on a stream */
	check_h *check;     /* values, when rc == 0 */
	const char *why;    /* the expectation, in words */
};

static void expect_view(struct view v, const char *s)
{
	assert_non_null(v.p);
	assert_int_equal(v.len, strlen(s));
	assert_memory_equal(v.p, s, v.len);
}

static const struct sip_hdr *hdr_named(struct sip_msg *m, const char *name)
{
	for (unsigned i = 0; i < m->hdr_count; i++) {
		if (view_eq_cstr(m->hdrs[i].name, name))
			return &m->hdrs[i];
	}
	return NULL;
}

/* --- value checks ------------------------------------------------- */

static void check_wsinv(struct sip_msg *m)
{
	const struct sip_via *vias;
	const struct sip_contact *ct;
	const struct sip_addr *routes;
	size_t n;

	assert_int_equal(m->method_id, SIP_METHOD_INVITE);
	expect_view(m->ruri_raw, "sip:vivekg@chair-dnrc.example.com;unknownparam");
	expect_view(m->to.uri_raw, "sip:vivekg@chair-dnrc.example.com");
	expect_view(m->to.tag, "1918181833n");
	expect_view(m->from.display, "\"J Rosenberg \\\\\\\"\"");
	expect_view(m->from.tag, "98asjd8");
	assert_int_equal(m->max_forwards, 68);
	assert_int_equal(m->cseq.number, 9);
	assert_int_equal(m->cseq.method_id, SIP_METHOD_INVITE);
	expect_view(m->call_id, "wsinv.ndaksdj@192.0.2.1");
	assert_int_equal(m->content_length, 150);
	assert_int_equal(m->body.len, 150);
	expect_view(m->via.host, "192.0.2.2");
	expect_view(m->via.transport, "UDP");
	expect_view(m->via.branch, "390skdjuw");
	assert_int_equal(sip_msg_vias(m, &vias, &n, NULL), 0);
	assert_int_equal(n, 3);
	expect_view(vias[1].host, "spindle.example.com");
	expect_view(vias[1].transport, "TCP");
	expect_view(vias[1].branch, "z9hG4bK9ikj8");
	expect_view(vias[2].host, "192.168.255.111");
	expect_view(vias[2].branch, "z9hG4bK30239");
	assert_int_equal(sip_msg_contacts(m, &ct, &n, NULL), 0);
	assert_int_equal(n, 1);
	expect_view(ct[0].addr.display, "\"Quoted string \\\"\\\"\"");
	assert_true(ct[0].has_q);
	assert_int_equal(ct[0].q, 330);
	assert_int_equal(sip_msg_addrs(m, SIP_HDR_ROUTE, &routes, &n, NULL), 0);
	assert_int_equal(n, 1);
	expect_view(routes[0].uri.host, "services.example.com");
	/* unknown headers pass untouched: never parsed as parameters */
	expect_view(hdr_named(m, "UnknownHeaderWithUnusualValue")->value, ";;,,;;,;");
	assert_int_equal(hdr_named(m, "s")->id, SIP_HDR_SUBJECT);
	assert_int_equal(hdr_named(m, "s")->value.len, 0);
}

static void check_intmeth(struct sip_msg *m)
{
	assert_int_equal(m->method_id, SIP_METHOD_UNKNOWN);
	expect_view(m->method, "!interesting-Method0123456789_*+`.%indeed'~");
	expect_view(m->ruri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
	expect_view(m->ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	expect_view(m->ruri.host, "example.com");
	expect_view(m->via.branch, "z9hG4bK-.!%66*_+`'~");
	expect_view(m->call_id, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
	expect_view(m->from.tag, "_token~1'+`*%!-.");
	expect_view(m->from.display, "token1~` token2'+_ token3*%!.-");
	assert_int_equal(m->to.display.len, 22); /* quoted, with a raw NUL inside */
	assert_int_equal(m->cseq.number, 139122385);
	assert_int_equal(m->max_forwards, 255);
}

static void check_esc01(struct sip_msg *m)
{
	const struct sip_contact *ct;
	size_t n;

	expect_view(m->ruri.user, "sips%3Auser%40example.com");
	expect_view(m->ruri.host, "example.net");
	expect_view(m->to.uri.user, "%75se%72");
	expect_view(m->from.uri.user, "I%20have%20spaces");
	assert_int_equal(sip_msg_contacts(m, &ct, &n, NULL), 0);
	assert_int_equal(n, 1);
	expect_view(ct[0].addr.uri.user, "cal%6Cer");
	expect_view(ct[0].addr.uri.params, ";%6C%72;n%61me=v%61lue%25%34%31");
}

static void check_escnull(struct sip_msg *m)
{
	const struct sip_contact *ct;
	size_t n;

	assert_int_equal(m->method_id, SIP_METHOD_REGISTER);
	expect_view(m->to.uri.user, "null-%00-null");
	assert_int_equal(sip_msg_contacts(m, &ct, &n, NULL), 0);
	assert_int_equal(n, 2); /* two different contacts */
	expect_view(ct[0].addr.uri.user, "%00");
	expect_view(ct[1].addr.uri.user, "%00%00");
	assert_false(sip_uri_equal(&ct[0].addr.uri, &ct[1].addr.uri));
}

static void check_esc02(struct sip_msg *m)
{
	const struct sip_contact *ct;
	size_t n;

	assert_int_equal(m->method_id, SIP_METHOD_UNKNOWN); /* not REGISTER */
	expect_view(m->method, "RE%47IST%45R");
	assert_int_equal(sip_msg_contacts(m, &ct, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(hdr_named(m, "C%6Fntact")->id, SIP_HDR_OTHER);
	expect_view(m->to.display, "\"%Z%45\"");
}

static void check_lwsdisp(struct sip_msg *m)
{
	expect_view(m->from.display, "caller");
	expect_view(m->from.uri_raw, "sip:caller@example.com");
	expect_view(m->from.tag, "323");
}

static void check_longreq(struct sip_msg *m)
{
	const struct sip_via *vias;
	size_t n;

	assert_int_equal(sip_msg_vias(m, &vias, &n, NULL), 0);
	assert_int_equal(n, 34);
	expect_view(vias[0].host, "sip33.example.com");
	expect_view(vias[33].host, "host.example.com");
	assert_int_equal(vias[33].branch.len, 215);
	assert_null(m->via.branch.p);
	assert_int_equal(m->to.display.len, 105);
	assert_int_equal(m->to.uri.params.len, 354);
	assert_int_equal(m->to.uri.port, 6000);
}

static void check_dblreq(struct sip_msg *m)
{
	/* the REGISTER alone: the octets after it are not a second message */
	assert_int_equal(m->method_id, SIP_METHOD_REGISTER);
	assert_int_equal(m->body.len, 0);
	assert_int_equal(m->len, (size_t)(m->hdrs[m->hdr_count - 1].name.p - m->buf) +
					 m->hdrs[m->hdr_count - 1].line_len + 2);
}

static void check_semiuri(struct sip_msg *m)
{
	expect_view(m->ruri.user, "user;par=u%40example.net");
	expect_view(m->ruri.host, "example.com");
	assert_int_equal(m->ruri.params.len, 0);
}

static void check_transports(struct sip_msg *m)
{
	static const char *const t[] = { "UDP", "SCTP", "TLS", "UNKNOWN", "TCP" };
	const struct sip_via *vias;
	size_t n;

	assert_int_equal(sip_msg_vias(m, &vias, &n, NULL), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		expect_view(vias[i].transport, t[i]);
}

static void check_mpart01(struct sip_msg *m)
{
	assert_int_equal(m->method_id, SIP_METHOD_MESSAGE);
	assert_int_equal(m->body.len, 553);
	assert_non_null(memchr(m->body.p, '\0', m->body.len)); /* binary, framed by length */
	assert_true(m->via.has_rport);
	assert_false(m->via.rport_has_value);
	expect_view(sip_msg_user_agent(m), "SIPimp.org/0.2.5 (curses)");
}

static void check_unreason(struct sip_msg *m)
{
	assert_false(m->is_request);
	assert_int_equal(m->status, 200);
	assert_true(m->reason.len > 20);
	expect_view(view_make(m->reason.p, 15), "= 2**3 * 5**2 \xd0");
}

static void check_noreason(struct sip_msg *m)
{
	assert_int_equal(m->status, 100);
	assert_int_equal(m->reason.len, 0);
}

static void check_badbranch(struct sip_msg *m)
{
	/* parses; the transaction layer decides what a bare cookie means */
	expect_view(m->via.branch, "z9hG4bK");
}

static void check_unkscm(struct sip_msg *m)
{
	assert_int_equal(m->ruri.scheme, SIP_URI_OTHER);
}

static void check_unksm2(struct sip_msg *m)
{
	const struct sip_contact *ct;
	size_t n;

	assert_int_equal(m->to.uri.scheme, SIP_URI_OTHER);
	expect_view(m->to.uri.scheme_v, "isbn");
	assert_int_equal(m->from.uri.scheme, SIP_URI_OTHER);
	assert_int_equal(sip_msg_contacts(m, &ct, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ct[0].addr.uri.scheme, SIP_URI_OTHER);
}

static void check_bext01(struct sip_msg *m)
{
	const struct view *t;
	size_t n;

	assert_int_equal(sip_msg_tokens(m, SIP_HDR_REQUIRE, &t, &n, NULL), 0);
	assert_int_equal(n, 2);
	expect_view(t[0], "nothingSupportsThis");
	expect_view(t[1], "nothingSupportsThisEither");
	assert_int_equal(sip_msg_tokens(m, SIP_HDR_PROXY_REQUIRE, &t, &n, NULL), 0);
	assert_int_equal(n, 2);
	expect_view(t[0], "noProxiesSupportThis");
	expect_view(t[1], "norDoAnyProxiesSupportThis");
}

static void check_regaut01(struct sip_msg *m)
{
	const struct sip_auth *a;
	size_t n;

	assert_int_equal(sip_msg_auths(m, SIP_HDR_AUTHORIZATION, &a, &n, NULL), 0);
	assert_int_equal(n, 1);
	expect_view(a[0].scheme, "NoOneKnowsThisScheme");
	assert_false(a[0].digest);
	expect_view(a[0].params, "opaque-data=here");
}

static void check_bcast(struct sip_msg *m)
{
	const struct sip_via *vias;
	size_t n;

	assert_int_equal(sip_msg_vias(m, &vias, &n, NULL), 0);
	assert_int_equal(n, 2);
	expect_view(vias[1].host, "255.255.255.255");
	assert_int_equal(vias[1].host_type, SIP_HOST_IPV4);
}

static void check_zeromf(struct sip_msg *m)
{
	assert_true(m->has_max_forwards);
	assert_int_equal(m->max_forwards, 0);
}

static void check_cparam01(struct sip_msg *m)
{
	const struct sip_contact *ct;
	size_t n;

	assert_int_equal(sip_msg_contacts(m, &ct, &n, NULL), 0);
	assert_int_equal(n, 1);
	/* a header parameter, not part of the stored URI */
	assert_int_equal(ct[0].addr.uri.params.len, 0);
	expect_view(ct[0].addr.params, ";unknownparam");
}

static void check_cparam02(struct sip_msg *m)
{
	const struct sip_contact *ct;
	size_t n;

	assert_int_equal(sip_msg_contacts(m, &ct, &n, NULL), 0);
	assert_int_equal(n, 1);
	expect_view(ct[0].addr.uri.params, ";unknownparam");
	assert_int_equal(ct[0].addr.params.len, 0);
}

static void check_regescrt(struct sip_msg *m)
{
	const struct sip_contact *ct;
	size_t n;

	assert_int_equal(sip_msg_contacts(m, &ct, &n, NULL), 0);
	assert_int_equal(n, 1);
	expect_view(ct[0].addr.uri.headers, "Route=%3Csip:sip.example.com%3E");
}

static void check_inv2543(struct sip_msg *m)
{
	assert_null(m->via.branch.p);
	assert_null(m->from.tag.p);
	assert_false(m->has_max_forwards);
	assert_false(m->has_content_length);
	assert_true(m->body.len > 100); /* to the end of the datagram */
}

static void check_invut(struct sip_msg *m)
{
	assert_non_null(sip_msg_hdr_find(m, SIP_HDR_CONTENT_TYPE));
}

/* RFC 5118 */
static void check_ipv6_good(struct sip_msg *m)
{
	const struct sip_contact *ct;
	size_t n;

	expect_view(m->ruri.host, "[2001:db8::10]");
	assert_int_equal(m->ruri.host_type, SIP_HOST_IPV6);
	expect_view(m->via.host, "[2001:db8::9:1]");
	assert_int_equal(m->via.host_type, SIP_HOST_IPV6);
	assert_int_equal(sip_msg_contacts(m, &ct, &n, NULL), 0);
	assert_int_equal(n, 1);
	expect_view(ct[0].addr.uri.host, "[2001:db8::1]");
}

static void check_port_ambiguous(struct sip_msg *m)
{
	expect_view(m->ruri.host, "[2001:db8::10:5070]");
	assert_false(m->ruri.has_port);
}

static void check_port_unambiguous(struct sip_msg *m)
{
	expect_view(m->ruri.host, "[2001:db8::10]");
	assert_true(m->ruri.has_port);
	assert_int_equal(m->ruri.port, 5070);
}

static void check_received_delim(struct sip_msg *m)
{
	expect_view(m->via.received, "[2001:db8::9:255]");
}

static void check_received_nodelim(struct sip_msg *m)
{
	expect_view(m->via.received, "2001:db8::9:255");
}

static void check_mult_ip(struct sip_msg *m)
{
	const struct sip_via *vias;
	size_t n;

	assert_int_equal(sip_msg_vias(m, &vias, &n, NULL), 0);
	assert_int_equal(n, 3);
	expect_view(vias[0].host, "[2001:db8::9:1]");
	assert_true(vias[0].has_port);
	assert_int_equal(vias[0].port, 6050);
	assert_int_equal(vias[1].host_type, SIP_HOST_IPV4);
	assert_int_equal(vias[2].host_type, SIP_HOST_IPV6);
	expect_view(vias[2].received, "192.0.2.200");
}

static void check_v4mapped(struct sip_msg *m)
{
	expect_view(m->via.host, "[::ffff:192.0.2.10]");
	assert_int_equal(m->via.host_type, SIP_HOST_IPV6);
}

static void check_3colons(struct sip_msg *m)
{
	expect_view(m->ruri.host, "[2001:db8:::192.0.2.1]");
	assert_int_equal(m->ruri.host_type, SIP_HOST_IPV6);
}

static void check_2colons(struct sip_msg *m)
{
	expect_view(m->ruri.host, "[2001:db8::192.0.2.1]");
}

static void check_sdp_body(struct sip_msg *m)
{
	assert_true(m->body.len > 100);
	assert_memory_equal(m->body.p, "v=0", 3);
}

#define OK(f, chk, why) { f, 0, 0, NULL, 0, 0, chk, why }
#define OK_STREAM(f, chk, srs, why) { f, 0, 0, NULL, 0, srs, chk, why }
#define LAZY_BAD(f, why) { f, 0, 0, NULL, EBADMSG, 0, NULL, why }
#define BAD(f, st, rsn, why) { f, EBADMSG, st, rsn, 0, EBADMSG, NULL, why }
#define BAD_STREAM(f, st, rsn, srs, why) { f, EBADMSG, st, rsn, 0, srs, NULL, why }

static const struct tcase cases[] = {
	/* RFC 4475 §3.1.1: valid, must parse */
	OK("rfc4475/wsinv.sip", check_wsinv, "accept: folding, LWS everywhere, compact forms"),
	OK("rfc4475/intmeth.sip", check_intmeth,
	   "accept (a UAS answers 501): odd but legal token and word characters, NUL in quotes"),
	OK("rfc4475/esc01.sip", check_esc01, "accept: escapes kept as on the wire in URI parts"),
	OK("rfc4475/escnull.sip", check_escnull, "accept: %00 user parts; two distinct contacts"),
	OK("rfc4475/esc02.sip", check_esc02, "accept (UAS 501): RE%47IST%45R is not REGISTER"),
	OK("rfc4475/lwsdisp.sip", check_lwsdisp, "accept: token display name right before '<'"),
	OK("rfc4475/longreq.sip", check_longreq, "accept: long values, dozens of Via values"),
	OK_STREAM("rfc4475/dblreq.sip", check_dblreq, 0,
		  "accept the REGISTER, ignore the octets after Content-Length"),
	OK("rfc4475/semiuri.sip", check_semiuri, "accept: ';' before '@' belongs to the user"),
	OK("rfc4475/transports.sip", check_transports, "accept: unknown transport tokens"),
	OK("rfc4475/mpart01.sip", check_mpart01, "accept: binary body framed by Content-Length"),
	OK("rfc4475/unreason.sip", check_unreason, "accept: UTF-8 reason phrase"),
	OK("rfc4475/noreason.sip", check_noreason, "accept: empty reason phrase"),

	/* RFC 4475 §3.1.2: invalid */
	BAD("rfc4475/badinv01.sip", 400, "Bad Via parameter", "reject 400: empty ';' in Via"),
	BAD_STREAM("rfc4475/clerr.sip", 400, "Body shorter than Content-Length", EAGAIN,
		   "UDP: 400; stream: wait for the missing body"),
	BAD("rfc4475/ncl.sip", 400, "Bad Content-Length header", "reject 400: negative length"),
	BAD("rfc4475/scalar02.sip", 400, "Bad CSeq header", "reject 400: CSeq above 2^32-1"),
	BAD("rfc4475/scalarlg.sip", 400, "Bad CSeq header",
	    "malformed response (huge CSeq): the transport drops it"),
	BAD("rfc4475/quotbal.sip", 400, "Bad To header", "reject 400: unclosed quote"),
	BAD("rfc4475/ltgtruri.sip", 400, "Bad Request-URI", "reject 400: '<' '>' around it"),
	BAD("rfc4475/lwsruri.sip", 400, "Bad request line", "reject 400: space in Request-URI"),
	BAD("rfc4475/lwsstart.sip", 400, "Bad request line",
	    "reject 400 (allowed): double spaces in the request line"),
	BAD("rfc4475/trws.sip", 400, "Bad request line",
	    "reject 400 (allowed): trailing spaces after SIP/2.0"),
	BAD("rfc4475/escruri.sip", 400, "Request-URI must not have headers",
	    "reject 400 (allowed): headers in the Request-URI"),
	OK("rfc4475/baddate.sip", NULL, "accept: Date is not used by sipd, so not checked"),
	LAZY_BAD("rfc4475/regbadct.sip",
		 "Contact decode fails: addr-spec with '?' must be bracketed (registrar: 400)"),
	BAD("rfc4475/badaspec.sip", 400, "Bad To header", "reject 400: spaces inside '<' '>'"),
	BAD_STREAM("rfc4475/baddn.sip", 400, "Missing end of headers", EAGAIN,
		   "archive bytes: no empty line ends the headers"),
	BAD("rfc4475/wire/baddn.sip", 400, "Bad From header",
	    "reject 400: unquoted display name with ','"),
	BAD("rfc4475/badvers.sip", 505, "Version Not Supported", "reject 505: SIP/7.0"),
	BAD("rfc4475/mismatch01.sip", 400, "CSeq method does not match",
	    "reject 400: OPTIONS with CSeq INVITE"),
	BAD("rfc4475/mismatch02.sip", 501, "Not Implemented",
	    "reject 501 (preferred): unknown method, CSeq INVITE"),
	BAD("rfc4475/bigcode.sip", 400, "Bad status code", "malformed response: dropped"),

	/* RFC 4475 §3.2-3.4 */
	OK("rfc4475/badbranch.sip", check_badbranch,
	   "parse; bare magic cookie is the transaction layer's business"),
	BAD("rfc4475/insuf.sip", 400, "Missing Call-ID header",
	    "reject 400: no Call-ID, From or To"),
	OK("rfc4475/unkscm.sip", check_unkscm, "parse; the core answers 416"),
	OK("rfc4475/novelsc.sip", check_unkscm, "parse; the core answers 416 or 404"),
	OK("rfc4475/unksm2.sip", check_unksm2, "parse; a registrar answers 400 (To not SIP)"),
	OK("rfc4475/bext01.sip", check_bext01, "parse; the core answers 420 with Unsupported"),
	OK("rfc4475/invut.sip", check_invut, "parse; a UAS answers 415, a proxy forwards"),
	OK("rfc4475/regaut01.sip", check_regaut01, "parse an unknown auth scheme"),
	BAD("rfc4475/multi01.sip", 400, "Duplicate CSeq header",
	    "reject 400: single-valued headers repeated"),
	BAD("rfc4475/mcl01.sip", 400, "Duplicate Content-Length header",
	    "reject 400: two Content-Length values"),
	OK("rfc4475/bcast.sip", check_bcast, "parse; never forward to the broadcast address"),
	OK("rfc4475/zeromf.sip", check_zeromf, "parse; a proxy answers 483"),
	OK("rfc4475/cparam01.sip", check_cparam01, "';unknownparam' is a header parameter"),
	OK("rfc4475/cparam02.sip", check_cparam02, "';unknownparam' is a URI parameter"),
	OK("rfc4475/regescrt.sip", check_regescrt, "the escaped Route stays in the contact URI"),
	OK("rfc4475/sdp01.sip", NULL, "parse; a UAS answers 406 or 400"),
	OK_STREAM("rfc4475/inv2543.sip", check_inv2543, 0,
		  "accept RFC 2543 style: no branch, no tag, no Content-Length"),

	/* RFC 5118, ready-to-send copies */
	OK("rfc5118/wire/ipv6-good.sip", check_ipv6_good, "accept"),
	BAD("rfc5118/wire/ipv6-bad.sip", 400, "Bad Request-URI",
	    "reject 400: IPv6 without brackets"),
	OK("rfc5118/wire/port-ambiguous.sip", check_port_ambiguous,
	   "accept: host 2001:db8::10:5070, no port"),
	OK("rfc5118/wire/port-unambiguous.sip", check_port_unambiguous, "accept: port 5070"),
	OK("rfc5118/wire/via-received-param-with-delim.sip", check_received_delim,
	   "accept (robustness): bracketed received"),
	OK("rfc5118/wire/via-received-param-no-delim.sip", check_received_nodelim, "accept"),
	OK("rfc5118/wire/ipv6-in-sdp.sip", check_sdp_body, "accept"),
	OK("rfc5118/wire/mult-ip-in-header.sip", check_mult_ip, "accept"),
	OK("rfc5118/wire/mult-ip-in-sdp.sip", check_sdp_body, "accept"),
	OK("rfc5118/wire/ipv4-mapped-ipv6.sip", check_v4mapped, "accept"),
	OK("rfc5118/wire/ipv6-bug-abnf-3-colons.sip", check_3colons, "accept (tolerated ':::')"),
	OK("rfc5118/wire/ipv6-correct-abnf-2-colons.sip", check_2colons, "accept"),

	/* RFC 5118 archive bytes (bare LF, some Content-Length values wrong):
	 * bare LF is tolerated; a wrong length is judged like any other. */
	OK("rfc5118/ipv6-good.sip", check_ipv6_good, "LF line ends tolerated"),
	BAD("rfc5118/ipv6-bad.sip", 400, "Bad Request-URI", "reject 400"),
	OK("rfc5118/port-ambiguous.sip", check_port_ambiguous, "LF tolerated"),
	OK("rfc5118/port-unambiguous.sip", check_port_unambiguous, "LF tolerated"),
	OK("rfc5118/via-received-param-with-delim.sip", check_received_delim, "LF tolerated"),
	OK("rfc5118/via-received-param-no-delim.sip", check_received_nodelim, "LF tolerated"),
	BAD_STREAM("rfc5118/ipv6-in-sdp.sip", 400, "Body shorter than Content-Length", EAGAIN,
		   "archive defect: Content-Length 268 > body 242"),
	OK("rfc5118/mult-ip-in-header.sip", check_mult_ip, "LF tolerated"),
	BAD_STREAM("rfc5118/mult-ip-in-sdp.sip", 400, "Body shorter than Content-Length", EAGAIN,
		   "archive defect: Content-Length 181 > LF body 180"),
	OK("rfc5118/ipv4-mapped-ipv6.sip", check_v4mapped, "LF body matches its length"),
	BAD_STREAM("rfc5118/ipv6-bug-abnf-3-colons.sip", 400, "Missing end of headers", EAGAIN,
		   "archive defect: no empty line"),
	BAD_STREAM("rfc5118/ipv6-correct-abnf-2-colons.sip", 400, "Missing end of headers", EAGAIN,
		   "archive defect: no empty line"),
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static char *load(const char *rel, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, rel);
	return test_read_file(path, len);
}

/* Everything that must agree between a message and its printed copy. */
static void expect_same(struct sip_msg *a, struct sip_msg *b)
{
	struct buf va, vb;

	assert_int_equal(a->is_request, b->is_request);
	assert_true(view_eq(a->method, b->method));
	assert_true(view_eq(a->ruri_raw, b->ruri_raw));
	assert_int_equal(a->status, b->status);
	assert_true(view_eq(a->reason, b->reason));
	assert_int_equal(a->hdr_count, b->hdr_count);
	buf_init(&va);
	buf_init(&vb);
	for (unsigned i = 0; i < a->hdr_count; i++) {
		assert_int_equal(a->hdrs[i].id, b->hdrs[i].id);
		if (a->hdrs[i].id == SIP_HDR_OTHER)
			assert_true(view_eq(a->hdrs[i].name, b->hdrs[i].name));
		buf_reset(&va);
		buf_reset(&vb);
		assert_int_equal(sip_value_print_unfolded(a->hdrs[i].value, &va), 0);
		assert_int_equal(sip_value_print_unfolded(b->hdrs[i].value, &vb), 0);
		assert_true(view_eq(buf_view(&va), buf_view(&vb)));
	}
	buf_fini(&va);
	buf_fini(&vb);
	assert_true(view_eq(a->body, b->body));
	assert_int_equal(a->cseq.number, b->cseq.number);
	assert_true(view_eq(a->cseq.method, b->cseq.method));
	assert_true(view_eq(a->call_id, b->call_id));
	assert_true(view_eq(a->from.tag, b->from.tag));
	assert_true(view_eq(a->to.tag, b->to.tag));
	assert_true(view_eq(a->from.uri_raw, b->from.uri_raw));
	assert_true(view_eq(a->via.branch, b->via.branch));
	assert_true(view_eq(a->via.host, b->via.host));
	assert_int_equal(a->max_forwards, b->max_forwards);
	assert_int_equal(a->has_content_length, b->has_content_length);
}

static void round_trip(struct sip_msg *m, int all_rc)
{
	struct buf out;
	struct sip_msg again;
	struct sip_error err;
	size_t used;

	buf_init(&out);
	assert_int_equal(sip_msg_print(m, &out), 0);
	assert_int_equal(sip_msg_decode(&again, out.data, out.len, SIP_FRAMING_DGRAM, &used, &err),
			 0);
	expect_same(m, &again);
	assert_int_equal(sip_msg_decode_all(&again, &err), all_rc);
	sip_msg_fini(&again);
	buf_fini(&out);
}

static void run_case(const struct tcase *c, struct guard *g)
{
	struct sip_msg m;
	struct sip_error err = { 0, NULL };
	size_t len, used = 0;
	char *data = load(c->file, &len);
	const char *p = guard_place(g, data, len);

	print_message("case %s: %s\n", c->file, c->why);

	/* 1. datagram */
	int rc = sip_msg_decode(&m, p, len, SIP_FRAMING_DGRAM, &used, &err);
	if (rc != c->rc)
		fail_msg("%s: datagram decode gave %d (%d %s), expected %d", c->file, rc,
			 err.status, err.reason ? err.reason : "", c->rc);
	if (rc != 0) {
		assert_int_equal(err.status, c->status);
		assert_string_equal(err.reason, c->reason);
	} else {
		assert_int_equal(used, len);
		int all = sip_msg_decode_all(&m, &err);
		if (all != c->all_rc)
			fail_msg("%s: decode_all gave %d (%s)", c->file, all, all ? err.reason : "");
		if (c->check)
			c->check(&m);
		round_trip(&m, c->all_rc);
	}
	sip_msg_fini(&m);

	/* 2. stream: the whole file, then every shorter prefix */
	rc = sip_msg_decode(&m, p, len, SIP_FRAMING_STREAM, &used, &err);
	if (rc != c->stream_rc)
		fail_msg("%s: stream decode gave %d, expected %d", c->file, rc, c->stream_rc);
	size_t complete = rc == 0 ? used : len;
	if (rc == 0) {
		assert_true(used <= len);
		(void)sip_msg_decode_all(&m, &err);
	}
	sip_msg_fini(&m);
	for (size_t n = 0; n < complete; n++) {
		const char *q = guard_place(g, data, n);
		int prc = sip_msg_decode(&m, q, n, SIP_FRAMING_STREAM, &used, &err);
		if (prc != EAGAIN && !(c->stream_rc != 0 && (prc == EBADMSG || prc == EMSGSIZE)))
			fail_msg("%s: prefix %zu of %zu gave %d", c->file, n, complete, prc);
		sip_msg_fini(&m);
	}
	/* the datagram path on every prefix must not crash or over-read */
	for (size_t n = 0; n < len; n++) {
		const char *q = guard_place(g, data, n);
		if (sip_msg_decode(&m, q, n, SIP_FRAMING_DGRAM, &used, &err) == 0)
			(void)sip_msg_decode_all(&m, &err);
		sip_msg_fini(&m);
	}
	free(data);
}

static struct guard guard;

static void test_case(void **state)
{
	run_case(*state, &guard);
}

/* Every "name" in an index file has a case in the table. */
static void check_index(const char *index_rel, const char *dir)
{
	size_t len;
	char *json = load(index_rel, &len);
	const char *p = json;
	unsigned found = 0;

	while ((p = strstr(p, "\"name\": \"")) != NULL) {
		p += 9;
		const char *end = strchr(p, '"');
		assert_non_null(end);
		char file[256];
		snprintf(file, sizeof(file), "%s/%.*s.sip", dir, (int)(end - p), p);
		bool covered = false;
		for (size_t i = 0; i < NCASES; i++)
			covered = covered || strcmp(cases[i].file, file) == 0;
		if (!covered)
			fail_msg("%s is in %s but has no case", file, index_rel);
		found++;
		p = end;
	}
	assert_true(found >= 12);
	free(json);
}

static void test_index_covered(void **state)
{
	(void)state;
	check_index("rfc4475/index.json", "rfc4475");
	check_index("rfc5118/index.json", "rfc5118");
	check_index("rfc5118/index.json", "rfc5118/wire");
}

int main(void)
{
	struct CMUnitTest tests[NCASES + 1];

	for (size_t i = 0; i < NCASES; i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(test_case, (void *)&cases[i]);
		tests[i].name = cases[i].file;
	}
	tests[NCASES] = (struct CMUnitTest)cmocka_unit_test(test_index_covered);
	guard_init(&guard, SIP_MAX_MESSAGE + 1);
	int rc = _cmocka_run_group_tests("sip_torture", tests, NCASES + 1, NULL, NULL);
	guard_fini(&guard);
	return rc;
}

/*
 * test_transport.c - the transport without the network: stream framing
 * (frame.h) as a table, at every prefix and in every chunk size; and the
 * seam of transport.h that runs a transport with no socket (listeners
 * without one, datagrams handed to the UDP receive path, sends captured by
 * a hook).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/loop.h"
#include "base/obj.h"
#include "transport/frame.h"
#include "transport/transport.h"

#define MSG_OPTIONS "OPTIONS sip:192.0.2.10 SIP/2.0\r\n"                  \
		    "Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKt1\r\n" \
		    "From: <sip:a@example.com>;tag=f1\r\n"                 \
		    "To: <sip:192.0.2.10>\r\n"                             \
		    "Call-ID: frame-1\r\n"                                 \
		    "CSeq: 1 OPTIONS\r\n"                                  \
		    "Content-Length: 0\r\n\r\n"
#define MSG_HEADERS "MESSAGE sip:101@example.com SIP/2.0\r\n"            \
		    "Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKt2\r\n"   \
		    "From: <sip:100@example.com>;tag=f2\r\n"            \
		    "To: <sip:101@example.com>\r\n"                     \
		    "Call-ID: frame-2\r\n"                              \
		    "CSeq: 2 MESSAGE\r\n"
#define MSG_BODY MSG_HEADERS "Content-Length: 5\r\n\r\nhello"
#define MSG_HUGE_BODY MSG_HEADERS "Content-Length: 70000\r\n\r\nhel"
#define MAX SIP_MAX_MESSAGE

/* ---- framing ---------------------------------------------------------- */

struct frame_case {
	const char *name;
	const char *in;
	size_t max;
	enum tp_frame_kind kind;
	size_t used;
	bool partial; /* MORE */
	int error;    /* ERROR */
	int status;   /* ERROR */
};

static const struct frame_case frame_cases[] = {
	{ "empty", "", MAX, TP_FRAME_MORE, 0, false, 0, 0 },
	{ "CR: maybe a ping", "\r", MAX, TP_FRAME_MORE, 0, false, 0, 0 },
	{ "CRLF: maybe a ping", "\r\n", MAX, TP_FRAME_MORE, 0, false, 0, 0 },
	{ "CRLFCR: maybe a ping", "\r\n\r", MAX, TP_FRAME_MORE, 0, false, 0, 0 },
	{ "ping", "\r\n\r\n", MAX, TP_FRAME_PING, 4, false, 0, 0 },
	{ "ping, then a message", "\r\n\r\n" MSG_OPTIONS, MAX, TP_FRAME_PING, 4, false, 0, 0 },
	{ "pong before a message", "\r\nOPTIONS", MAX, TP_FRAME_SKIP, 2, false, 0, 0 },
	{ "pong, then a stray CR", "\r\n\rX", MAX, TP_FRAME_SKIP, 2, false, 0, 0 },
	{ "stray CR", "\rX", MAX, TP_FRAME_SKIP, 1, false, 0, 0 },
	{ "stray CR before CRLF", "\r\r\n", MAX, TP_FRAME_SKIP, 1, false, 0, 0 },
	{ "stray LF", "\n", MAX, TP_FRAME_SKIP, 1, false, 0, 0 },
	{ "stray LF before a message", "\n" MSG_OPTIONS, MAX, TP_FRAME_SKIP, 1, false, 0, 0 },
	{ "message", MSG_OPTIONS, MAX, TP_FRAME_MESSAGE, sizeof(MSG_OPTIONS) - 1, false, 0, 0 },
	{ "message, then the next", MSG_OPTIONS MSG_BODY, MAX, TP_FRAME_MESSAGE,
	  sizeof(MSG_OPTIONS) - 1, false, 0, 0 },
	{ "message with a body", MSG_BODY "\r\n\r\n", MAX, TP_FRAME_MESSAGE, sizeof(MSG_BODY) - 1,
	  false, 0, 0 },
	{ "headers still coming", MSG_HEADERS, MAX, TP_FRAME_MORE, 0, true, 0, 0 },
	{ "body still coming", MSG_HEADERS "Content-Length: 5\r\n\r\nhel", MAX, TP_FRAME_MORE, 0,
	  true, 0, 0 },
	{ "body announced over the limit", MSG_HUGE_BODY, MAX, TP_FRAME_ERROR, 0, false, EMSGSIZE,
	  413 },
	{ "message at the limit", MSG_OPTIONS, sizeof(MSG_OPTIONS) - 1, TP_FRAME_MESSAGE,
	  sizeof(MSG_OPTIONS) - 1, false, 0, 0 },
	{ "message one byte over the limit", MSG_OPTIONS, sizeof(MSG_OPTIONS) - 2, TP_FRAME_ERROR,
	  0, false, EMSGSIZE, 413 },
	{ "partial message at the limit", MSG_HEADERS, sizeof(MSG_HEADERS) - 1, TP_FRAME_MORE, 0,
	  true, 0, 0 },
	{ "partial message over the limit", MSG_HEADERS, 64, TP_FRAME_ERROR, 0, false, EMSGSIZE,
	  413 },
	{ "malformed", "garbage\r\n\r\n", MAX, TP_FRAME_ERROR, 0, false, EBADMSG, 400 },
	{ "malformed after a message", MSG_OPTIONS "garbage\r\n\r\n", MAX, TP_FRAME_MESSAGE,
	  sizeof(MSG_OPTIONS) - 1, false, 0, 0 },
};

static void expect_frame(const struct frame_case *c, const struct tp_frame *f)
{
	if (f->kind != c->kind || f->used != c->used)
		fail_msg("%s: kind %d used %zu, expected %d used %zu", c->name, f->kind, f->used,
			 c->kind, c->used);
	if (c->kind == TP_FRAME_MORE && f->partial != c->partial)
		fail_msg("%s: partial %d", c->name, f->partial);
	if (c->kind == TP_FRAME_ERROR && (f->error != c->error || f->err.status != c->status))
		fail_msg("%s: error %d status %d", c->name, f->error, f->err.status);
}

static void test_frame_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(frame_cases) / sizeof(frame_cases[0]); i++) {
		const struct frame_case *c = &frame_cases[i];
		size_t len = strlen(c->in);
		char *copy = malloc(len ? len : 1); /* exact size: ASan sees an over-read */
		struct tp_frame f;

		assert_non_null(copy);
		memcpy(copy, c->in, len);
		tp_frame_next(copy, len, c->max, &f);
		expect_frame(c, &f);
		free(copy);
	}
}

/* A message or a ping is not framed before its last byte. */
static void test_frame_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(frame_cases) / sizeof(frame_cases[0]); i++) {
		const struct frame_case *c = &frame_cases[i];
		if (c->kind != TP_FRAME_MESSAGE && c->kind != TP_FRAME_PING)
			continue;
		for (size_t n = 0; n < c->used; n++) {
			char *copy = malloc(n ? n : 1);
			struct tp_frame f;
			assert_non_null(copy);
			memcpy(copy, c->in, n);
			tp_frame_next(copy, n, c->max, &f);
			if (f.kind != TP_FRAME_MORE)
				fail_msg("%s: prefix of %zu bytes gives kind %d", c->name, n, f.kind);
			free(copy);
		}
	}
}

/* What a stream framed into: one letter per frame, then each message. */
static void frame_stream(const char *in, size_t len, size_t chunk, char *trace, size_t size)
{
	char *buf = malloc(len ? len : 1);
	size_t have = 0, fed = 0, at = 0;
	bool closed = false;

	assert_non_null(buf);
	while (fed < len && !closed) {
		size_t n = len - fed < chunk ? len - fed : chunk;
		memcpy(buf + have, in + fed, n);
		have += n;
		fed += n;
		for (;;) {
			struct tp_frame f;
			tp_frame_next(buf, have, MAX, &f);
			if (f.kind == TP_FRAME_MORE)
				break;
			assert_true(at + 2 + f.used < size);
			trace[at++] = "MPSME"[f.kind];
			if (f.kind == TP_FRAME_ERROR) {
				closed = true;
				break;
			}
			if (f.kind == TP_FRAME_MESSAGE) {
				memcpy(trace + at, buf, f.used);
				at += f.used;
			}
			memmove(buf, buf + f.used, have - f.used);
			have -= f.used;
		}
	}
	trace[at] = '\0';
	free(buf);
}

static void test_frame_chunks(void **state)
{
	static const char stream[] = "\r\n\r\n" MSG_OPTIONS "\r\n\n\r" MSG_BODY "\r\n\r\n\r\n"
				     MSG_OPTIONS "garbage\r\n\r\n" MSG_OPTIONS;
	static char whole[4096], cut[4096];
	(void)state;

	frame_stream(stream, sizeof(stream) - 1, sizeof(stream), whole, sizeof(whole));
	assert_string_equal(whole, "PM" MSG_OPTIONS "SSSM" MSG_BODY "PSM" MSG_OPTIONS "E");
	for (size_t chunk = 1; chunk < sizeof(stream); chunk++) {
		frame_stream(stream, sizeof(stream) - 1, chunk, cut, sizeof(cut));
		if (strcmp(cut, whole) != 0)
			fail_msg("chunks of %zu bytes frame differently", chunk);
	}
}

/* ---- a transport without sockets ----------------------------------------- */

#define MAX_SENT 8

static struct fixture {
	struct loop *loop;
	struct transport *tp;
	struct tp_addr local, local6, peer;
	unsigned received;
	struct tp_addr received_src;
	char received_call_id[64];
	unsigned sent;
	struct tp_dest sent_dest[MAX_SENT];
	char sent_first_line[MAX_SENT][64];
	int send_rc;
} F;

static void on_receive(struct tp_packet *pkt, void *arg)
{
	(void)arg;
	F.received++;
	F.received_src = pkt->src;
	assert_int_equal(pkt->proto, TP_UDP);
	snprintf(F.received_call_id, sizeof(F.received_call_id), "%.*s", (int)pkt->msg.call_id.len,
		 pkt->msg.call_id.p);
}

static int on_send(const struct tp_dest *dest, const struct iovec *iov, size_t iov_count,
		   void *arg)
{
	(void)arg;
	assert_true(F.sent < MAX_SENT);
	assert_true(iov_count >= 1);
	F.sent_dest[F.sent] = *dest;
	snprintf(F.sent_first_line[F.sent], sizeof(F.sent_first_line[0]), "%.*s",
		 (int)strcspn(iov[0].iov_base, "\r"), (const char *)iov[0].iov_base);
	F.sent++;
	return F.send_rc;
}

static void addr(struct tp_addr *a, const char *ip, uint16_t port)
{
	assert_int_equal(tp_addr_from_text(a, view_from_cstr(ip), port), 0);
}

static int setup(void **state)
{
	struct transport_config cfg = { .max_message_size = 1024, .max_connections = 4,
					.max_connections_per_ip = 4 };
	(void)state;
	memset(&F, 0, sizeof(F));
	addr(&F.local, "192.0.2.10", 5060);
	addr(&F.local6, "2001:db8::10", 5060);
	addr(&F.peer, "192.0.2.1", 5062);
	if (loop_alloc(&F.loop) != 0 || transport_alloc(&F.tp, F.loop, &cfg, on_receive, NULL) != 0)
		return -1;
	if (transport_listen_unbound(F.tp, TP_UDP, &F.local) != 0 ||
	    transport_listen_unbound(F.tp, TP_UDP, &F.local6) != 0)
		return -1;
	transport_set_send_hook(F.tp, on_send, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	transport_free(F.tp);
	loop_free(F.loop);
	return 0;
}

static void receive(const struct tp_addr *local, const char *text)
{
	assert_int_equal(transport_receive_datagram(F.tp, local, &F.peer, text, strlen(text)), 0);
}

static void test_receive_delivers(void **state)
{
	(void)state;
	receive(&F.local, MSG_OPTIONS);
	assert_int_equal(F.received, 1);
	assert_true(tp_addr_equal(&F.received_src, &F.peer));
	assert_string_equal(F.received_call_id, "frame-1");
	assert_int_equal(transport_stats(F.tp)->received, 1);
	assert_int_equal(F.sent, 0);
}

/* A malformed request is answered through the hook, to its source. */
static void test_receive_malformed(void **state)
{
	(void)state;
	receive(&F.local, "OPTIONS sip:192.0.2.10 SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKt3\r\n"
			  "Call-ID: bad-1\r\n\r\n");
	assert_int_equal(F.received, 0);
	assert_int_equal(transport_stats(F.tp)->malformed, 1);
	assert_int_equal(F.sent, 1);
	assert_int_equal(F.sent_dest[0].proto, TP_UDP);
	assert_true(tp_addr_equal(&F.sent_dest[0].addr, &F.peer));
	assert_memory_equal(F.sent_first_line[0], "SIP/2.0 400 ", 12);
}

/* Keep-alives are dropped, oversize datagrams counted, as from a socket. */
static void test_receive_limits(void **state)
{
	char big[1100];
	(void)state;
	receive(&F.local, "\r\n\r\n");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	receive(&F.local6, big);
	assert_int_equal(F.received, 0);
	assert_int_equal(F.sent, 0);
	assert_int_equal(transport_stats(F.tp)->oversize, 1);
	assert_int_equal(transport_stats(F.tp)->malformed, 0);
}

static void test_receive_unknown_listener(void **state)
{
	struct tp_addr other;
	(void)state;
	addr(&other, "192.0.2.10", 5070);
	assert_int_equal(transport_receive_datagram(F.tp, &other, &F.peer, "x", 1), ENOENT);
	assert_int_equal(F.received, 0);
}

/* Sends go to the hook, its result is tp_send's; the unbound listener is
 * the local side of a request. */
static void test_send_hook(void **state)
{
	struct tp_dest dest = { .proto = TP_TCP, .addr = F.peer };
	struct iovec iov = { .iov_base = (void *)(uintptr_t) "BYE sip:a@192.0.2.1 SIP/2.0\r\n",
			     .iov_len = 29 };
	struct tp_listener *l = NULL;
	struct tp_addr local;
	(void)state;

	assert_int_equal(tp_send(F.tp, &dest, &iov, 1), 0);
	F.send_rc = ECONNREFUSED;
	assert_int_equal(tp_send(F.tp, &dest, &iov, 1), ECONNREFUSED);
	assert_int_equal(F.sent, 2);
	assert_int_equal(F.sent_dest[0].proto, TP_TCP);
	assert_string_equal(F.sent_first_line[1], "BYE sip:a@192.0.2.1 SIP/2.0");
	assert_int_equal(transport_stats(F.tp)->send_errors, 1);
	assert_int_equal(transport_conn_count(F.tp), 0); /* no connection opened */
	assert_int_equal(tp_local_for(F.tp, TP_UDP, &F.peer, &l, &local), 0);
	assert_non_null(l);
	assert_true(tp_addr_equal(&local, &F.local));
	assert_int_equal(tp_local_for(F.tp, TP_TCP, &F.peer, &l, &local), EAFNOSUPPORT);
}

/* A URI without a host gives a NULL view: no address, and no pointer
 * arithmetic on NULL on the way (clang's UBSan; fuzz_core found it through
 * an ACK the proxy forwards, tests/fuzz/corpus/core/ack-no-host.sip). */
static void test_addr_from_null_view(void **state)
{
	struct tp_addr a;
	(void)state;
	assert_int_equal(tp_addr_from_text(&a, VIEW_NULL, 5060), EINVAL);
	assert_int_equal(tp_addr_from_text(&a, VIEW_LIT(""), 5060), EINVAL);
	assert_int_equal(tp_addr_from_text(&a, VIEW_LIT("[]"), 5060), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_table),
		cmocka_unit_test(test_frame_prefixes),
		cmocka_unit_test(test_frame_chunks),
		cmocka_unit_test(test_addr_from_null_view),
		cmocka_unit_test_setup_teardown(test_receive_delivers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_unknown_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_hook, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_txn.c - the RFC 3261 §17 transaction layer driven by a fake clock.
 *
 * The layer runs on a timing wheel that only moves when a test calls
 * timer_wheel_advance, and sends through a fake that records each message
 * with the wheel's time (the wheel sets its clock to each timer's expiry
 * before calling it, so one long advance still stamps every retransmission
 * with its exact time). Received messages are built from text as the
 * transport would build them: a refcounted struct tp_packet holding the
 * bytes and the decoded message. The TU is a set of handlers whose answer
 * each test chooses. Every schedule is asserted to the millisecond.
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

#include "base/obj.h"
#include "base/timer.h"
#include "txn/txn.h"

#define MAX_SENT 64
#define MAX_CALLS 16
#define MAX_HELD 8
#define TEXT_MAX 2048
#define END_OF_TIME 100000u /* ms; past every timer of every test */

/* ---- fixture: the fake clock, the fake transport and the fake TU ---- */

struct sent {
	uint64_t at_ms;
	char first_line[128];
	char *bytes; /* owned; NUL-terminated */
	size_t len;
	struct tp_dest dest;
};

struct client_call {
	uint64_t at_ms;
	unsigned status; /* 0 when no response */
	int error;
	enum txn_state state;
};

enum tu_answer {
	TU_HOLD,  /* keep a reference, answer later */
	TU_REPLY, /* answer tu_status at once */
};

static struct fixture {
	struct timer_wheel wheel;
	struct txn_layer *layer;
	struct txn_config cfg;

	struct sent sent[MAX_SENT];
	size_t sent_count;
	int send_error; /* returned by the fake send when non-zero */

	enum tu_answer tu_answer;
	unsigned tu_status;
	size_t requests, acks, cancels, strays;
	struct txn *held[MAX_HELD]; /* references taken by the TU */
	size_t held_count;
	struct txn *cancel_invite; /* invite_st of the last cancel (borrowed snapshot) */
	bool cancel_had_invite;
	int last_reply_rc;

	struct client_call calls[MAX_CALLS];
	size_t call_count;
} F;

static int fake_send(const struct tp_dest *dest, const struct iovec *iov, size_t iov_count,
		     void *arg)
{
	struct sent *s;
	size_t len = 0;

	(void)arg;
	if (F.send_error)
		return F.send_error;
	assert_true(F.sent_count < MAX_SENT);
	s = &F.sent[F.sent_count++];
	for (size_t i = 0; i < iov_count; i++)
		len += iov[i].iov_len;
	s->bytes = malloc(len + 1);
	assert_non_null(s->bytes);
	len = 0;
	for (size_t i = 0; i < iov_count; i++) {
		memcpy(s->bytes + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	s->bytes[len] = '\0';
	s->len = len;
	s->at_ms = F.wheel.now_ms;
	s->dest = *dest;
	size_t line = strcspn(s->bytes, "\r");
	if (line >= sizeof(s->first_line))
		line = sizeof(s->first_line) - 1;
	memcpy(s->first_line, s->bytes, line);
	s->first_line[line] = '\0';
	return 0;
}

static void hold(struct txn *st)
{
	assert_true(F.held_count < MAX_HELD);
	F.held[F.held_count++] = obj_ref(st);
}

static void tu_request(struct txn *st, struct tp_packet *pkt, void *arg)
{
	(void)pkt;
	(void)arg;
	F.requests++;
	assert_int_equal(txn_request(st), pkt);
	if (F.tu_answer == TU_HOLD)
		hold(st);
	else
		F.last_reply_rc = txn_server_reply_simple(st, F.tu_status, NULL, VIEW_NULL,
							  VIEW_LIT("srv"));
}

static void tu_ack(struct tp_packet *pkt, void *arg)
{
	(void)arg;
	assert_true(pkt->msg.method_id == SIP_METHOD_ACK);
	F.acks++;
}

/* Like the core: 200 to the CANCEL, 487 to the INVITE still proceeding. */
static void tu_cancel(struct txn *cancel_st, struct txn *invite_st, struct tp_packet *pkt,
		      void *arg)
{
	(void)pkt;
	(void)arg;
	F.cancels++;
	F.cancel_invite = invite_st;
	F.cancel_had_invite = invite_st != NULL;
	if (!invite_st) {
		assert_int_equal(txn_server_reply_simple(cancel_st, 481, NULL, VIEW_NULL, VIEW_LIT("srv")),
				 0);
		return;
	}
	assert_int_equal(txn_server_reply_simple(cancel_st, 200, NULL, VIEW_NULL, VIEW_LIT("srv")), 0);
	if (txn_state(invite_st) == TXN_PROCEEDING)
		assert_int_equal(
			txn_server_reply_simple(invite_st, 487, NULL, VIEW_NULL, VIEW_LIT("srv")), 0);
}

static void tu_stray(struct tp_packet *pkt, void *arg)
{
	(void)arg;
	assert_false(pkt->msg.is_request);
	F.strays++;
}

static void client_cb(struct txn *ct, struct tp_packet *response, int error, void *arg)
{
	struct client_call *c;

	(void)arg;
	assert_true(F.call_count < MAX_CALLS);
	c = &F.calls[F.call_count++];
	c->at_ms = F.wheel.now_ms;
	c->status = response ? response->msg.status : 0;
	c->error = error;
	c->state = txn_state(ct);
	assert_true(response == NULL || error == 0);
}

static int layer_open(void)
{
	struct txn_handlers h = {
		.request = tu_request,
		.ack = tu_ack,
		.cancel = tu_cancel,
		.stray_response = tu_stray,
	};
	return txn_layer_alloc(&F.layer, &F.wheel, &F.cfg, fake_send, NULL, &h);
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	timer_wheel_init(&F.wheel, 0);
	F.tu_answer = TU_HOLD;
	return layer_open();
}

static int teardown(void **state)
{
	(void)state;
	txn_layer_free(F.layer);
	F.layer = NULL;
	assert_int_equal(F.wheel.count, 0); /* every timer was cancelled */
	for (size_t i = 0; i < F.held_count; i++)
		obj_unref(F.held[i]);
	for (size_t i = 0; i < F.sent_count; i++)
		free(F.sent[i].bytes);
	timer_wheel_fini(&F.wheel);
	return 0;
}

/* Re-open the layer with other timer values (at time 0, nothing live). */
static void layer_reconfigure(uint32_t t1_ms, uint32_t t2_ms)
{
	txn_layer_free(F.layer);
	F.cfg.t1_ms = t1_ms;
	F.cfg.t2_ms = t2_ms;
	assert_int_equal(layer_open(), 0);
}

static void clock_to(uint64_t ms)
{
	timer_wheel_advance(&F.wheel, ms);
}

/* ---- packets from text ---- */

static void packet_destroy(void *obj)
{
	struct tp_packet *pkt = obj;
	pkt->conn = obj_unref(pkt->conn);
	sip_msg_fini(&pkt->msg);
}

static struct tp_packet *packet_new(enum tp_proto proto, const char *text, size_t len)
{
	struct tp_packet *pkt = obj_alloc(sizeof(*pkt) + len, packet_destroy);
	struct sip_error err;
	size_t used;

	assert_non_null(pkt);
	memcpy(pkt->data, text, len);
	pkt->len = len;
	pkt->proto = proto;
	pkt->received_ms = F.wheel.now_ms;
	assert_int_equal(tp_addr_from_text(&pkt->src, VIEW_LIT("192.0.2.1"), 5060), 0);
	assert_int_equal(sip_msg_decode(&pkt->msg, pkt->data, len, SIP_FRAMING_DGRAM, &used, &err), 0);
	return pkt;
}

static void receive_text(enum tp_proto proto, const char *text)
{
	struct tp_packet *pkt = packet_new(proto, text, strlen(text));
	txn_layer_receive(F.layer, pkt);
	obj_unref(pkt);
}

/* A request as a UAC (or the proxy before us) sends it. NULL = default. */
struct req {
	const char *method; /* "INVITE" */
	const char *via;    /* sent-by and params: "192.0.2.1:5060;branch=z9hG4bKs1" */
	const char *ruri;   /* "sip:bob@example.com" */
	const char *to_tag; /* none */
	const char *call_id;
	unsigned cseq;      /* 1 */
	enum tp_proto proto;
};

static void receive_request(struct req r)
{
	char text[TEXT_MAX];
	const char *method = r.method ? r.method : "INVITE";
	int n = snprintf(text, sizeof(text),
			 "%s %s SIP/2.0\r\n"
			 "Via: SIP/2.0/%s %s\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:alice@example.com>;tag=a1\r\n"
			 "To: <sip:bob@example.com>%s%s\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %u %s\r\n"
			 "Content-Length: 0\r\n\r\n",
			 method, r.ruri ? r.ruri : "sip:bob@example.com",
			 r.proto == TP_TCP ? "TCP" : "UDP",
			 r.via ? r.via : "192.0.2.1:5060;branch=z9hG4bKs1", r.to_tag ? ";tag=" : "",
			 r.to_tag ? r.to_tag : "", r.call_id ? r.call_id : "call-1@192.0.2.1",
			 r.cseq ? r.cseq : 1, method);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	receive_text(r.proto, text);
}

/* A response as the next hop sends it to our client transaction. */
struct resp {
	unsigned status;
	const char *branch;      /* "z9hG4bKc1" */
	const char *cseq_method; /* "INVITE" */
	const char *to_tag;      /* "b2"; "" = none */
};

static void receive_response(struct resp r)
{
	char text[TEXT_MAX];
	const char *tag = r.to_tag ? r.to_tag : "b2";
	int n = snprintf(text, sizeof(text),
			 "SIP/2.0 %u Whatever\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=%s;rport\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKs1\r\n"
			 "From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"
			 "To: <sip:bob@example.com>%s%s\r\n"
			 "Call-ID: c1@192.0.2.1\r\n"
			 "CSeq: 7 %s\r\n"
			 "Content-Length: 0\r\n\r\n",
			 r.status, r.branch ? r.branch : "z9hG4bKc1", tag[0] ? ";tag=" : "", tag,
			 r.cseq_method ? r.cseq_method : "INVITE");
	assert_true(n > 0 && (size_t)n < sizeof(text));
	receive_text(TP_UDP, text);
}

/* The request a proxy forwards: two Vias, two Routes. */
static void client_request_text(struct buf *b, const char *method, const char *branch)
{
	buf_init(b);
	assert_int_equal(buf_printf(b,
				    "%s sip:bob@192.0.2.20 SIP/2.0\r\n"
				    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=%s;rport\r\n"
				    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKs1\r\n"
				    "Route: <sip:p1.example.com;lr>\r\n"
				    "Route: <sip:p2.example.com;lr>\r\n"
				    "Max-Forwards: 69\r\n"
				    "From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"
				    "To: <sip:bob@example.com>\r\n"
				    "Call-ID: c1@192.0.2.1\r\n"
				    "CSeq: 7 %s\r\n"
				    "Contact: <sip:alice@192.0.2.1>\r\n"
				    "Content-Length: 0\r\n\r\n",
				    method, branch, method),
			 0);
}

static void client_dest(struct tp_dest *dest, enum tp_proto proto)
{
	memset(dest, 0, sizeof(*dest));
	dest->proto = proto;
	assert_int_equal(tp_addr_from_text(&dest->addr, VIEW_LIT("192.0.2.20"), 5060), 0);
}

static int client_start(const char *method, const char *branch, enum tp_proto proto,
			struct txn **out)
{
	struct tp_dest dest;
	struct buf b;
	int rc;

	client_request_text(&b, method, branch);
	client_dest(&dest, proto);
	rc = txn_client_start(F.layer, &dest, &b, client_cb, NULL, out);
	assert_int_equal(b.len, 0); /* moved in (or freed) whatever the result */
	assert_null(b.data);
	return rc;
}

static void expect_sent(size_t index, uint64_t at_ms, const char *first_line)
{
	assert_true(index < F.sent_count);
	assert_int_equal(F.sent[index].at_ms, at_ms);
	assert_string_equal(F.sent[index].first_line, first_line);
}

/* ---- client schedules (Table 4 of RFC 3261, timers A, B, E, F) ---- */

struct client_schedule_case {
	const char *name;
	const char *method;
	enum tp_proto proto;
	uint32_t t1_ms, t2_ms; /* 0 = default */
	uint64_t sends[16];    /* times of every copy of the request */
	size_t send_count;
	uint64_t timeout_ms;   /* B or F */
};

static const struct client_schedule_case client_schedules[] = {
	{ "INVITE UDP: A doubles, B at 64*T1", "INVITE", TP_UDP, 0, 0,
	  { 0, 500, 1500, 3500, 7500, 15500, 31500 }, 7, 32000 },
	{ "OPTIONS UDP: E doubles to T2, F at 64*T1", "OPTIONS", TP_UDP, 0, 0,
	  { 0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500 }, 11, 32000 },
	{ "INVITE TCP: no A", "INVITE", TP_TCP, 0, 0, { 0 }, 1, 32000 },
	{ "OPTIONS TCP: no E", "OPTIONS", TP_TCP, 0, 0, { 0 }, 1, 32000 },
	{ "INVITE UDP, T1 50", "INVITE", TP_UDP, 50, 0, { 0, 50, 150, 350, 750, 1550, 3150 }, 7,
	  3200 },
	{ "OPTIONS UDP, T1 50 (T2 not reached)", "OPTIONS", TP_UDP, 50, 0,
	  { 0, 50, 150, 350, 750, 1550, 3150 }, 7, 3200 },
	{ "OPTIONS UDP, T1 50, T2 400", "OPTIONS", TP_UDP, 50, 400,
	  { 0, 50, 150, 350, 750, 1150, 1550, 1950, 2350, 2750, 3150 }, 11, 3200 },
	{ "REGISTER TCP, T1 50", "REGISTER", TP_TCP, 50, 0, { 0 }, 1, 3200 },
};

static void test_client_schedules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(client_schedules) / sizeof(client_schedules[0]); i++) {
		const struct client_schedule_case *c = &client_schedules[i];
		char line[64];
		struct txn *ct = NULL;

		teardown(NULL);
		setup(NULL);
		layer_reconfigure(c->t1_ms, c->t2_ms);
		assert_int_equal(client_start(c->method, "z9hG4bKc1", c->proto, &ct), 0);
		assert_int_equal(txn_layer_count(F.layer), 1);
		assert_int_equal(txn_state(ct),
				 strcmp(c->method, "INVITE") == 0 ? TXN_CALLING : TXN_TRYING);
		clock_to(c->timeout_ms - 1);
		assert_int_equal(F.call_count, 0);
		assert_int_equal(txn_layer_count(F.layer), 1);
		clock_to(END_OF_TIME);

		snprintf(line, sizeof(line), "%s sip:bob@192.0.2.20 SIP/2.0", c->method);
		if (F.sent_count != c->send_count)
			fail_msg("%s: %zu sends, expected %zu", c->name, F.sent_count, c->send_count);
		for (size_t k = 0; k < c->send_count; k++) {
			if (F.sent[k].at_ms != c->sends[k])
				fail_msg("%s: send %zu at %llu, expected %llu", c->name, k,
					 (unsigned long long)F.sent[k].at_ms,
					 (unsigned long long)c->sends[k]);
			assert_string_equal(F.sent[k].first_line, line);
			assert_int_equal(F.sent[k].dest.proto, c->proto);
			assert_int_equal(tp_addr_port(&F.sent[k].dest.addr), 5060);
		}
		assert_int_equal(F.call_count, 1);
		assert_int_equal(F.calls[0].at_ms, c->timeout_ms);
		assert_int_equal(F.calls[0].status, 0);
		assert_int_equal(F.calls[0].error, ETIMEDOUT);
		assert_int_equal(F.calls[0].state, TXN_TERMINATED);
		assert_int_equal(txn_state(ct), TXN_TERMINATED);
		assert_int_equal(txn_layer_count(F.layer), 0);
		assert_int_equal(F.wheel.count, 0);
		obj_unref(ct);
	}
}

/* ---- client INVITE responses ---- */

static const char expected_ack[] = "ACK sip:bob@192.0.2.20 SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKc1;rport\r\n"
				   "Route: <sip:p1.example.com;lr>\r\n"
				   "Route: <sip:p2.example.com;lr>\r\n"
				   "From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"
				   "To: <sip:bob@example.com>;tag=b2\r\n"
				   "Call-ID: c1@192.0.2.1\r\n"
				   "CSeq: 7 ACK\r\n"
				   "Max-Forwards: 70\r\n"
				   "Content-Length: 0\r\n\r\n";

/* §17.1.1.3: the ACK, D, and retransmitted finals absorbed */
static void test_client_invite_486_ack(void **state)
{
	struct txn *ct;

	(void)state;
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_UDP, &ct), 0);
	clock_to(700);
	receive_response((struct resp){ .status = 486 });
	assert_int_equal(F.call_count, 1);
	assert_int_equal(F.calls[0].status, 486);
	assert_int_equal(F.calls[0].state, TXN_COMPLETED);
	assert_int_equal(txn_status(ct), 486);
	assert_int_equal(F.sent_count, 3); /* INVITE at 0 and 500, then the ACK */
	expect_sent(0, 0, "INVITE sip:bob@192.0.2.20 SIP/2.0");
	expect_sent(1, 500, "INVITE sip:bob@192.0.2.20 SIP/2.0");
	expect_sent(2, 700, "ACK sip:bob@192.0.2.20 SIP/2.0");
	assert_string_equal(F.sent[2].bytes, expected_ack);

	/* the retransmitted 486 gets the same ACK again and is not passed up */
	clock_to(1200);
	receive_response((struct resp){ .status = 486 });
	assert_int_equal(F.call_count, 1);
	assert_int_equal(F.sent_count, 4);
	expect_sent(3, 1200, "ACK sip:bob@192.0.2.20 SIP/2.0");
	assert_string_equal(F.sent[3].bytes, expected_ack);
	/* a late 1xx or 2xx on a Completed transaction is dropped too */
	receive_response((struct resp){ .status = 180 });
	assert_int_equal(F.call_count, 1);
	assert_int_equal(F.sent_count, 4);

	/* timer A stopped; D = 32 s after the final */
	clock_to(700 + 32000 - 1);
	assert_int_equal(F.sent_count, 4);
	assert_int_equal(txn_state(ct), TXN_COMPLETED);
	assert_int_equal(txn_layer_count(F.layer), 1);
	clock_to(700 + 32000);
	assert_int_equal(txn_state(ct), TXN_TERMINATED);
	assert_int_equal(txn_layer_count(F.layer), 0);
	assert_int_equal(F.call_count, 1); /* no timeout callback */
	/* now a retransmission is a stray */
	receive_response((struct resp){ .status = 486 });
	assert_int_equal(F.strays, 1);
	assert_int_equal(F.sent_count, 4);
	obj_unref(ct);
}

static void test_client_invite_486_tcp(void **state)
{
	(void)state;
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_TCP, NULL), 0);
	clock_to(100);
	receive_response((struct resp){ .status = 603 });
	assert_int_equal(F.sent_count, 2);
	expect_sent(1, 100, "ACK sip:bob@192.0.2.20 SIP/2.0");
	assert_int_equal(F.sent[1].dest.proto, TP_TCP);
	/* D is 0 on a reliable transport */
	assert_int_equal(F.call_count, 1);
	assert_int_equal(F.calls[0].state, TXN_TERMINATED);
	assert_int_equal(txn_layer_count(F.layer), 0);
}

/* 1xx stops A and B; 2xx ends it at once; its retransmission is stray */
static void test_client_invite_1xx_2xx(void **state)
{
	struct txn *ct;

	(void)state;
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_UDP, &ct), 0);
	clock_to(600);
	receive_response((struct resp){ .status = 100, .to_tag = "" });
	clock_to(800);
	receive_response((struct resp){ .status = 180 });
	assert_int_equal(F.call_count, 2);
	assert_int_equal(F.calls[0].status, 100);
	assert_int_equal(F.calls[0].state, TXN_PROCEEDING);
	assert_int_equal(F.calls[1].status, 180);
	clock_to(60000); /* no retransmission, no timeout in Proceeding */
	assert_int_equal(F.sent_count, 2);
	assert_int_equal(F.call_count, 2);
	assert_int_equal(txn_state(ct), TXN_PROCEEDING);
	receive_response((struct resp){ .status = 200 });
	assert_int_equal(F.call_count, 3);
	assert_int_equal(F.calls[2].status, 200);
	assert_int_equal(F.calls[2].state, TXN_TERMINATED);
	assert_int_equal(F.sent_count, 2); /* no ACK for a 2xx from the transaction */
	assert_int_equal(txn_layer_count(F.layer), 0);
	receive_response((struct resp){ .status = 200 });
	assert_int_equal(F.strays, 1);
	assert_int_equal(F.call_count, 3);
	obj_unref(ct);
}

/* ---- client non-INVITE responses ---- */

/* E becomes T2 in Proceeding; the final starts K; retransmissions absorbed */
static void test_client_non_invite_proceeding_k(void **state)
{
	struct txn *ct;
	static const uint64_t sends[] = { 0, 500, 1500, 5500, 9500 };

	(void)state;
	assert_int_equal(client_start("MESSAGE", "z9hG4bKm1", TP_UDP, &ct), 0);
	clock_to(600);
	receive_response((struct resp){ .status = 100, .branch = "z9hG4bKm1",
					.cseq_method = "MESSAGE" });
	assert_int_equal(txn_state(ct), TXN_PROCEEDING);
	clock_to(10000);
	receive_response((struct resp){ .status = 202, .branch = "z9hG4bKm1",
					.cseq_method = "MESSAGE" });
	assert_int_equal(F.sent_count, sizeof(sends) / sizeof(sends[0]));
	for (size_t i = 0; i < F.sent_count; i++)
		expect_sent(i, sends[i], "MESSAGE sip:bob@192.0.2.20 SIP/2.0");
	assert_int_equal(F.call_count, 2);
	assert_int_equal(F.calls[0].status, 100);
	assert_int_equal(F.calls[1].status, 202);
	assert_int_equal(F.calls[1].state, TXN_COMPLETED);
	clock_to(12000);
	receive_response((struct resp){ .status = 202, .branch = "z9hG4bKm1",
					.cseq_method = "MESSAGE" });
	assert_int_equal(F.call_count, 2);
	assert_int_equal(F.strays, 0);
	/* K = T4 */
	clock_to(10000 + 5000 - 1);
	assert_int_equal(txn_layer_count(F.layer), 1);
	clock_to(10000 + 5000);
	assert_int_equal(txn_layer_count(F.layer), 0);
	assert_int_equal(txn_state(ct), TXN_TERMINATED);
	assert_int_equal(F.sent_count, 5);
	obj_unref(ct);
}

static void test_client_non_invite_tcp_final(void **state)
{
	(void)state;
	assert_int_equal(client_start("OPTIONS", "z9hG4bKo1", TP_TCP, NULL), 0);
	receive_response((struct resp){ .status = 200, .branch = "z9hG4bKo1",
					.cseq_method = "OPTIONS" });
	assert_int_equal(F.call_count, 1);
	assert_int_equal(F.calls[0].state, TXN_TERMINATED); /* K is 0 */
	assert_int_equal(txn_layer_count(F.layer), 0);
}

/* ---- client matching and errors ---- */

static void test_client_matching(void **state)
{
	(void)state;
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_UDP, NULL), 0);
	assert_int_equal(client_start("CANCEL", "z9hG4bKc1", TP_UDP, NULL), 0);
	assert_int_equal(txn_layer_count(F.layer), 2);
	/* another branch: stray */
	receive_response((struct resp){ .status = 200, .branch = "z9hG4bKzz" });
	assert_int_equal(F.strays, 1);
	/* the CANCEL's 200 goes to the CANCEL transaction, not the INVITE */
	receive_response((struct resp){ .status = 200, .cseq_method = "CANCEL" });
	assert_int_equal(F.call_count, 1);
	assert_int_equal(F.calls[0].state, TXN_COMPLETED); /* non-INVITE: Completed, not Terminated */
	/* same branch, a method no transaction has: stray */
	receive_response((struct resp){ .status = 200, .cseq_method = "BYE" });
	assert_int_equal(F.strays, 2);
	receive_response((struct resp){ .status = 487 });
	assert_int_equal(F.call_count, 2);
	assert_int_equal(F.calls[1].status, 487);
}

static void test_client_start_refused(void **state)
{
	struct tp_dest dest;
	struct buf b;
	struct txn *ct = NULL;

	(void)state;
	/* no magic cookie; a bare cookie; an ACK; not a request at all */
	assert_int_equal(client_start("INVITE", "abc123", TP_UDP, &ct), EINVAL);
	assert_int_equal(client_start("INVITE", "z9hG4bK", TP_UDP, &ct), EINVAL);
	assert_int_equal(client_start("ACK", "z9hG4bKa1", TP_UDP, &ct), EINVAL);
	client_dest(&dest, TP_UDP);
	buf_init(&b);
	assert_int_equal(buf_append_cstr(&b, "garbage\r\n\r\n"), 0);
	assert_int_equal(txn_client_start(F.layer, &dest, &b, client_cb, NULL, &ct), EINVAL);
	assert_int_equal(b.len, 0);
	assert_null(ct);
	/* a response; a request without a Via; a Via without a branch */
	static const char *const refused[] = {
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr1\r\n\r\n",
		"OPTIONS sip:a@example.com SIP/2.0\r\nTo: <sip:a@example.com>\r\n\r\n",
		"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1\r\n\r\n",
		"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;rport;x=y\r\n\r\n",
		"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch\r\n\r\n",
		/* the branch of a second Via value is not the top Via's */
		"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;rport, "
		"SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKv2\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		buf_init(&b);
		assert_int_equal(buf_append_cstr(&b, refused[i]), 0);
		assert_int_equal(txn_client_start(F.layer, &dest, &b, client_cb, NULL, &ct), EINVAL);
		assert_null(ct);
	}
	/* a duplicate of a live transaction */
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_UDP, NULL), 0);
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_UDP, &ct), EEXIST);
	assert_null(ct);
	assert_int_equal(txn_layer_count(F.layer), 1);
	assert_int_equal(F.sent_count, 1);
	/* the key of a compact top Via with two values: the first one's branch */
	buf_init(&b);
	assert_int_equal(buf_append_cstr(&b, "MESSAGE sip:a@example.com SIP/2.0\r\n"
					     "Max-Forwards: 70\r\n"
					     "v : SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKk1 , "
					     "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKk2\r\n"
					     "Content-Length: 0\r\n\r\n"),
			 0);
	assert_int_equal(txn_client_start(F.layer, &dest, &b, client_cb, NULL, &ct), 0);
	assert_non_null(ct);
	buf_init(&b);
	assert_int_equal(buf_append_cstr(&b, "MESSAGE sip:a@example.com SIP/2.0\r\n"
					     "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKk1\r\n"
					     "Content-Length: 0\r\n\r\n"),
			 0);
	struct txn *dup = NULL;
	assert_int_equal(txn_client_start(F.layer, &dest, &b, client_cb, NULL, &dup), EEXIST);
	assert_null(dup);
	obj_unref(ct);	/* the branch is found among other parameters, in any case */
	buf_init(&b);
	assert_int_equal(buf_append_cstr(&b, "OPTIONS sip:a@example.com SIP/2.0\r\n"
					     "v: SIP/2.0/UDP [2001:db8::1]:5060 ;rport ; BRANCH = z9hG4bKu1;x\r\n\r\n"), 0);
	assert_int_equal(txn_client_start(F.layer, &dest, &b, client_cb, NULL, &ct), 0);
	assert_non_null(ct);
	ct = obj_unref(ct);
	assert_int_equal(client_start("OPTIONS", "z9hG4bKu1", TP_UDP, &ct), EEXIST); /* its key */
	assert_null(ct);
}

/* §17.1.4: a failed first send is returned; a failed retransmission is
 * called back and ends the transaction */
static void test_client_send_errors(void **state)
{
	struct txn *ct = NULL;

	(void)state;
	F.send_error = ENETUNREACH;
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_UDP, &ct), ENETUNREACH);
	assert_null(ct);
	assert_int_equal(txn_layer_count(F.layer), 0);
	assert_int_equal(F.call_count, 0);

	F.send_error = 0;
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_UDP, &ct), 0);
	assert_int_equal(client_start("OPTIONS", "z9hG4bKo1", TP_UDP, NULL), 0);
	clock_to(499);
	F.send_error = EHOSTUNREACH;
	clock_to(500);
	assert_int_equal(F.call_count, 2);
	assert_int_equal(F.calls[0].error, EHOSTUNREACH);
	assert_int_equal(F.calls[0].at_ms, 500);
	assert_int_equal(F.calls[1].error, EHOSTUNREACH);
	assert_int_equal(F.calls[1].state, TXN_TERMINATED);
	assert_int_equal(txn_state(ct), TXN_TERMINATED);
	assert_int_equal(txn_layer_count(F.layer), 0);
	assert_int_equal(F.wheel.count, 0);
	obj_unref(ct);
}

static void test_client_detach(void **state)
{
	struct txn *ct;

	(void)state;
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_UDP, &ct), 0);
	txn_client_detach(ct);
	struct view req = txn_client_request(ct);
	assert_true(req.len > 0 && memcmp(req.p, "INVITE ", 7) == 0);
	ct = obj_unref(ct); /* the TU went away */
	receive_response((struct resp){ .status = 486 });
	assert_int_equal(F.call_count, 0);
	assert_int_equal(F.sent_count, 2); /* the ACK is still sent */
	assert_string_equal(F.sent[1].bytes, expected_ack);
	clock_to(END_OF_TIME);
	assert_int_equal(txn_layer_count(F.layer), 0);
}

/* A detached INVITE in Proceeding ends 64*T1 after the detach or its
 * first 1xx, whichever is later, unless a final response comes (RFC 3261
 * §9.1); nothing is called back. */
struct detach_case {
	const char *name;
	uint64_t ringing_ms;  /* the 180 arrives */
	uint64_t detach_ms;
	uint64_t final_ms;    /* a 486 arrives; 0 = never */
	uint64_t end_ms;      /* Terminated (the layer is empty) */
};

static const struct detach_case detach_cases[] = {
	{ "ringing, then detached", 100, 1000, 0, 1000 + 32000 },
	{ "detached while calling, then ringing", 1000, 100, 0, 1000 + 32000 },
	{ "detached while calling, never ringing: timer B", 0, 100, 0, 32000 },
	{ "detached, then its final response: ACK and timer D", 100, 1000, 5000, 5000 + 32000 },
	{ "ringing twice: the second 180 does not stop the clock", 100, 1000, 0, 1000 + 32000 },
};

static void test_client_detach_proceeding(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(detach_cases) / sizeof(detach_cases[0]); i++) {
		const struct detach_case *c = &detach_cases[i];
		struct txn *ct;
		uint64_t base = F.wheel.now_ms;
		size_t calls = 0;

		assert_int_equal(client_start("INVITE", "z9hG4bKd1", TP_UDP, &ct), 0);
		for (uint64_t t = base; t <= base + c->end_ms; t += 100) {
			clock_to(t);
			if (c->ringing_ms && t - base == c->ringing_ms)
				receive_response((struct resp){ .status = 180, .branch = "z9hG4bKd1" });
			if (i == 4 && t - base == 20000)
				receive_response((struct resp){ .status = 180, .branch = "z9hG4bKd1" });
			if (t - base == c->detach_ms) {
				txn_client_detach(ct);
				ct = obj_unref(ct);
				calls = F.call_count;
			}
			if (c->final_ms && t - base == c->final_ms)
				receive_response((struct resp){ .status = 486, .branch = "z9hG4bKd1" });
			if (t - base < c->end_ms && txn_layer_count(F.layer) != 1)
				fail_msg("%s: ended at %llu ms", c->name, (unsigned long long)(t - base));
		}
		if (F.call_count != calls)
			fail_msg("%s: called back after the detach", c->name);
		if (txn_layer_count(F.layer) != 0)
			fail_msg("%s: still alive at %llu ms", c->name, (unsigned long long)c->end_ms);
		if (c->final_ms)
			assert_memory_equal(F.sent[F.sent_count - 1].bytes, "ACK ", 4);
	}
}

/* ---- server INVITE ---- */

struct server_invite_case {
	const char *name;
	enum tp_proto proto;
	uint32_t t1_ms;        /* 0 = default */
	uint64_t ack_at_ms;    /* 0 = no ACK */
	uint64_t sends[16];    /* copies of the 486 */
	size_t send_count;
	uint64_t terminated_ms; /* by H, or by I after the ACK */
};

static const struct server_invite_case server_invites[] = {
	{ "UDP, no ACK: G until H", TP_UDP, 0, 0,
	  { 0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500 }, 11, 32000 },
	{ "UDP, ACK at 4000: G stops, I = T4", TP_UDP, 0, 4000, { 0, 500, 1500, 3500 }, 4, 9000 },
	{ "UDP, ACK at 3500: after the G of that instant", TP_UDP, 0, 3500, { 0, 500, 1500, 3500 }, 4,
	  8500 },
	{ "TCP, no ACK: H", TP_TCP, 0, 0, { 0 }, 1, 32000 },
	{ "TCP, ACK: I = 0", TP_TCP, 0, 100, { 0 }, 1, 100 },
	{ "UDP, T1 50, no ACK", TP_UDP, 50, 0, { 0, 50, 150, 350, 750, 1550, 3150 }, 7, 3200 },
	{ "UDP, T1 50, ACK at 200", TP_UDP, 50, 200, { 0, 50, 150 }, 3, 5200 },
};

static void test_server_invite_schedules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(server_invites) / sizeof(server_invites[0]); i++) {
		const struct server_invite_case *c = &server_invites[i];
		struct txn *st;

		teardown(NULL);
		setup(NULL);
		layer_reconfigure(c->t1_ms, 0);
		F.tu_answer = TU_HOLD;
		receive_request((struct req){ .proto = c->proto });
		assert_int_equal(F.requests, 1);
		st = F.held[0];
		assert_int_equal(F.sent_count, 1); /* the 100 */
		free(F.sent[0].bytes);
		F.sent_count = 0;
		assert_int_equal(txn_server_reply_simple(st, 486, NULL, VIEW_NULL, VIEW_LIT("srv")), 0);
		assert_int_equal(txn_state(st), TXN_COMPLETED);
		if (c->ack_at_ms) {
			clock_to(c->ack_at_ms);
			receive_request((struct req){ .method = "ACK", .to_tag = "srv",
						      .proto = c->proto });
			assert_int_equal(F.acks, 0); /* absorbed */
			if (c->terminated_ms == c->ack_at_ms)
				assert_int_equal(txn_layer_count(F.layer), 0); /* I = 0 */
			if (c->terminated_ms > c->ack_at_ms) {
				assert_int_equal(txn_state(st), TXN_CONFIRMED);
				/* ACK and INVITE retransmissions: absorbed */
				receive_request((struct req){ .method = "ACK", .to_tag = "srv",
							      .proto = c->proto });
				receive_request((struct req){ .proto = c->proto });
				assert_int_equal(F.acks, 0);
				assert_int_equal(F.requests, 1);
			}
		}
		clock_to(c->terminated_ms - 1);
		if (c->terminated_ms > c->ack_at_ms)
			assert_int_equal(txn_layer_count(F.layer), 1);
		clock_to(END_OF_TIME);
		assert_int_equal(txn_state(st), TXN_TERMINATED);
		assert_int_equal(txn_layer_count(F.layer), 0);
		if (F.sent_count != c->send_count)
			fail_msg("%s: %zu sends, expected %zu", c->name, F.sent_count, c->send_count);
		for (size_t k = 0; k < c->send_count; k++) {
			if (F.sent[k].at_ms != c->sends[k])
				fail_msg("%s: send %zu at %llu, expected %llu", c->name, k,
					 (unsigned long long)F.sent[k].at_ms,
					 (unsigned long long)c->sends[k]);
			assert_string_equal(F.sent[k].first_line, "SIP/2.0 486 Busy Here");
		}
	}
}

/* H: the exact instant */
static void test_server_invite_timer_h(void **state)
{
	(void)state;
	F.tu_answer = TU_REPLY;
	F.tu_status = 480;
	receive_request((struct req){ 0 });
	assert_int_equal(F.sent_count, 1);
	expect_sent(0, 0, "SIP/2.0 480 Temporarily Unavailable");
	clock_to(31999);
	assert_int_equal(txn_layer_count(F.layer), 1);
	clock_to(32000);
	assert_int_equal(txn_layer_count(F.layer), 0);
	/* an ACK after H has nothing to match: it goes to the TU */
	receive_request((struct req){ .method = "ACK", .to_tag = "srv" });
	assert_int_equal(F.acks, 1);
}

/* §17.2.1: 100 Trying when the TU has not answered in the callback */
static void test_server_invite_100_trying(void **state)
{
	struct txn *st;

	(void)state;
	receive_request((struct req){ .via = "192.0.2.1:5060;branch=z9hG4bKs1;rport" });
	assert_int_equal(F.requests, 1);
	st = F.held[0];
	assert_int_equal(txn_state(st), TXN_PROCEEDING);
	assert_int_equal(F.sent_count, 1);
	expect_sent(0, 0, "SIP/2.0 100 Trying");
	assert_string_equal(F.sent[0].bytes,
			    "SIP/2.0 100 Trying\r\n"
			    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKs1;received=192.0.2.1;"
			    "rport=5060\r\n"
			    "From: <sip:alice@example.com>;tag=a1\r\n"
			    "To: <sip:bob@example.com>\r\n"
			    "Call-ID: call-1@192.0.2.1\r\n"
			    "CSeq: 1 INVITE\r\n"
			    "Content-Length: 0\r\n\r\n");
	assert_int_equal(txn_status(st), 100);

	/* the retransmitted INVITE gets the 100 again; the TU is not called */
	clock_to(500);
	receive_request((struct req){ .via = "192.0.2.1:5060;branch=z9hG4bKs1;rport" });
	assert_int_equal(F.requests, 1);
	assert_int_equal(F.sent_count, 2);
	expect_sent(1, 500, "SIP/2.0 100 Trying");
	/* later the TU rings: the next retransmission gets the 180 */
	clock_to(800);
	assert_int_equal(txn_server_reply_simple(st, 180, NULL, VIEW_NULL, VIEW_LIT("srv")), 0);
	clock_to(1500);
	receive_request((struct req){ .via = "192.0.2.1:5060;branch=z9hG4bKs1;rport" });
	assert_int_equal(F.sent_count, 4);
	expect_sent(2, 800, "SIP/2.0 180 Ringing");
	expect_sent(3, 1500, "SIP/2.0 180 Ringing");
	assert_string_equal(F.sent[3].bytes, F.sent[2].bytes);
	assert_int_equal(F.requests, 1);
	/* 2xx: Terminated at once; nothing more retransmits */
	assert_int_equal(txn_server_reply_simple(st, 200, NULL, VIEW_NULL, VIEW_LIT("srv")), 0);
	assert_int_equal(txn_state(st), TXN_TERMINATED);
	assert_int_equal(txn_layer_count(F.layer), 0);
	/* a reply after the final is refused */
	assert_int_equal(txn_server_reply_simple(st, 200, NULL, VIEW_NULL, VIEW_LIT("srv")), EINVAL);
	clock_to(END_OF_TIME);
	assert_int_equal(F.sent_count, 5);
	expect_sent(4, 1500, "SIP/2.0 200 OK");
}

static void test_server_invite_no_100_when_answered(void **state)
{
	static const unsigned statuses[] = { 180, 200, 404 };

	(void)state;
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		teardown(NULL);
		setup(NULL);
		F.tu_answer = TU_REPLY;
		F.tu_status = statuses[i];
		receive_request((struct req){ 0 });
		assert_int_equal(F.last_reply_rc, 0);
		assert_int_equal(F.sent_count, 1);
		assert_non_null(strstr(F.sent[0].first_line, statuses[i] == 180 ? " 180 " :
							      statuses[i] == 200 ? " 200 " : " 404 "));
		/* the To tag the TU chose */
		assert_non_null(strstr(F.sent[0].bytes, "To: <sip:bob@example.com>;tag=srv\r\n"));
	}
}

/* ACK with the INVITE's branch for a non-2xx; for a 2xx the ACK is the TU's */
static void test_server_ack_for_2xx(void **state)
{
	(void)state;
	F.tu_answer = TU_REPLY;
	F.tu_status = 200;
	receive_request((struct req){ 0 });
	assert_int_equal(txn_layer_count(F.layer), 0);
	/* the ACK for a 2xx is a new transaction id (§17.1.1.3) ... */
	receive_request((struct req){ .method = "ACK", .to_tag = "srv",
				      .via = "192.0.2.1:5060;branch=z9hG4bKack2" });
	assert_int_equal(F.acks, 1);
	/* ... and even with the INVITE's branch it matches nothing now */
	receive_request((struct req){ .method = "ACK", .to_tag = "srv" });
	assert_int_equal(F.acks, 2);
	assert_int_equal(F.requests, 1);
	assert_int_equal(F.sent_count, 1);
	assert_int_equal(txn_layer_count(F.layer), 0);
}

/* an ACK with the INVITE's branch but another sent-by is not ours */
static void test_server_matching_sent_by(void **state)
{
	(void)state;
	F.tu_answer = TU_REPLY;
	F.tu_status = 486;
	receive_request((struct req){ 0 });
	receive_request((struct req){ .method = "ACK", .to_tag = "srv",
				      .via = "192.0.2.99:5060;branch=z9hG4bKs1" });
	assert_int_equal(F.acks, 1);
	/* the same INVITE branch from another sent-by is another transaction */
	receive_request((struct req){ .via = "192.0.2.99:5060;branch=z9hG4bKs1" });
	assert_int_equal(F.requests, 2);
	/* sent-by host compares case-insensitively, the port exactly */
	receive_request((struct req){ .via = "PROXY.example.com:5070;branch=z9hG4bKs1" });
	receive_request((struct req){ .via = "proxy.EXAMPLE.com:5070;branch=z9hG4bKs1" });
	assert_int_equal(F.requests, 3);
	receive_request((struct req){ .via = "proxy.example.com:5071;branch=z9hG4bKs1" });
	assert_int_equal(F.requests, 4);
	/* the same branch with another method is another transaction */
	receive_request((struct req){ .method = "OPTIONS" });
	assert_int_equal(F.requests, 5);
	/* and the right ACK is absorbed */
	receive_request((struct req){ .method = "ACK", .to_tag = "srv" });
	assert_int_equal(F.acks, 1);
	assert_int_equal(txn_layer_count(F.layer), 5);
}

/* ---- CANCEL ---- */

static void test_server_cancel(void **state)
{
	struct txn *invite_st;

	(void)state;
	receive_request((struct req){ 0 });
	invite_st = F.held[0];
	clock_to(1000);
	receive_request((struct req){ .method = "CANCEL" });
	assert_int_equal(F.cancels, 1);
	assert_int_equal(F.requests, 1); /* a CANCEL goes to the cancel handler */
	assert_ptr_equal(F.cancel_invite, invite_st);
	assert_int_equal(F.sent_count, 3);
	expect_sent(0, 0, "SIP/2.0 100 Trying");
	expect_sent(1, 1000, "SIP/2.0 200 OK");
	assert_non_null(strstr(F.sent[1].bytes, "CSeq: 1 CANCEL\r\n"));
	expect_sent(2, 1000, "SIP/2.0 487 Request Terminated");
	assert_non_null(strstr(F.sent[2].bytes, "CSeq: 1 INVITE\r\n"));
	assert_int_equal(txn_state(invite_st), TXN_COMPLETED);
	assert_int_equal(txn_layer_count(F.layer), 2);
	/* a retransmitted CANCEL gets its 200 again */
	clock_to(1200);
	receive_request((struct req){ .method = "CANCEL" });
	assert_int_equal(F.cancels, 1);
	assert_int_equal(F.sent_count, 4);
	expect_sent(3, 1200, "SIP/2.0 200 OK");
	/* a CANCEL for no INVITE: NULL */
	receive_request((struct req){ .method = "CANCEL", .via = "192.0.2.1:5060;branch=z9hG4bKx9" });
	assert_int_equal(F.cancels, 2);
	assert_false(F.cancel_had_invite);
	expect_sent(4, 1200, "SIP/2.0 481 Call/Transaction Does Not Exist");
	/* the ACK for the 487 */
	receive_request((struct req){ .method = "ACK", .to_tag = "srv" });
	assert_int_equal(F.acks, 0);
	assert_int_equal(txn_state(invite_st), TXN_CONFIRMED);
	clock_to(END_OF_TIME);
	assert_int_equal(txn_layer_count(F.layer), 0);
	/* the ACK (1200) came before the first G (1500): the 487 went out once */
	assert_int_equal(F.sent_count, 5);
}

/* ---- server non-INVITE ---- */

static void test_server_non_invite(void **state)
{
	struct txn *st;

	(void)state;
	receive_request((struct req){ .method = "OPTIONS" });
	st = F.held[0];
	assert_int_equal(txn_state(st), TXN_TRYING);
	assert_int_equal(F.sent_count, 0); /* no 100 for a non-INVITE */
	/* in Trying a retransmission has nothing to get */
	clock_to(500);
	receive_request((struct req){ .method = "OPTIONS" });
	assert_int_equal(F.sent_count, 0);
	assert_int_equal(F.requests, 1);
	clock_to(1000);
	assert_int_equal(txn_server_reply_simple(st, 100, NULL, VIEW_NULL, VIEW_NULL), 0);
	assert_int_equal(txn_state(st), TXN_PROCEEDING);
	clock_to(1500);
	receive_request((struct req){ .method = "OPTIONS" });
	assert_int_equal(F.sent_count, 2);
	expect_sent(1, 1500, "SIP/2.0 100 Trying");
	clock_to(2000);
	assert_int_equal(txn_server_reply_simple(st, 200, NULL, VIEW_NULL, VIEW_LIT("srv")), 0);
	assert_int_equal(txn_state(st), TXN_COMPLETED);
	/* over UDP the request is let go: matching runs on the kept key */
	assert_null(txn_request(st));
	/* out of range, and after the final: refused */
	struct buf b;
	buf_init(&b);
	assert_int_equal(buf_append_cstr(&b, "SIP/2.0 99 x\r\n\r\n"), 0);
	assert_int_equal(txn_server_reply(st, 99, &b), EINVAL);
	assert_int_equal(b.len, 0);
	clock_to(2500);
	receive_request((struct req){ .method = "OPTIONS" });
	assert_int_equal(F.sent_count, 4);
	expect_sent(2, 2000, "SIP/2.0 200 OK");
	expect_sent(3, 2500, "SIP/2.0 200 OK");
	assert_int_equal(F.requests, 1);
	/* J = 64*T1 after the final; no retransmission of its own */
	clock_to(2000 + 32000 - 1);
	assert_int_equal(txn_layer_count(F.layer), 1);
	clock_to(2000 + 32000);
	assert_int_equal(txn_layer_count(F.layer), 0);
	assert_int_equal(txn_state(st), TXN_TERMINATED);
	assert_int_equal(F.sent_count, 4);
	/* now the same request is new again */
	receive_request((struct req){ .method = "OPTIONS" });
	assert_int_equal(F.requests, 2);
}

static void test_server_non_invite_tcp(void **state)
{
	(void)state;
	F.tu_answer = TU_REPLY;
	F.tu_status = 404;
	receive_request((struct req){ .method = "REGISTER", .proto = TP_TCP });
	assert_int_equal(F.sent_count, 1);
	assert_int_equal(F.sent[0].dest.proto, TP_TCP);
	assert_int_equal(txn_layer_count(F.layer), 0); /* J is 0 */
}

/* ---- RFC 2543 matching (§17.2.3, second part) ---- */

static void test_server_rfc2543(void **state)
{
	struct txn *st;

	(void)state;
	receive_request((struct req){ .via = "iftgw.example.com" });
	st = F.held[0];
	receive_request((struct req){ .via = "iftgw.example.com" });
	assert_int_equal(F.requests, 1);
	assert_int_equal(F.sent_count, 2); /* the 100, twice */
	/* any key field different: a new transaction */
	receive_request((struct req){ .via = "iftgw.example.com", .cseq = 2 });
	receive_request((struct req){ .via = "iftgw.example.com", .call_id = "other@x" });
	receive_request((struct req){ .via = "iftgw.example.com", .ruri = "sip:carol@example.com" });
	receive_request((struct req){ .via = "iftgw.example.com", .to_tag = "zz" });
	receive_request((struct req){ .via = "other.example.com" });
	receive_request((struct req){ .via = "iftgw.example.com", .method = "OPTIONS" });
	assert_int_equal(F.requests, 7);
	/* the ACK matches on the To tag of the response sent */
	assert_int_equal(txn_server_reply_simple(st, 486, NULL, VIEW_NULL, VIEW_LIT("t486")), 0);
	receive_request((struct req){ .method = "ACK", .via = "iftgw.example.com", .to_tag = "nope" });
	assert_int_equal(F.acks, 1);
	assert_int_equal(txn_state(st), TXN_COMPLETED);
	receive_request((struct req){ .method = "ACK", .via = "iftgw.example.com", .to_tag = "t486" });
	assert_int_equal(F.acks, 1);
	assert_int_equal(txn_state(st), TXN_CONFIRMED);
	/* a CANCEL finds it too (method aside, the same fields) */
	receive_request((struct req){ .method = "CANCEL", .via = "iftgw.example.com" });
	assert_int_equal(F.cancels, 1);
	assert_ptr_equal(F.cancel_invite, st);
}

/* RFC 4475 §3.3.8 badbranch: a bare "z9hG4bK" is no RFC 3261 branch */
static void test_server_bare_cookie(void **state)
{
	(void)state;
	receive_request((struct req){ .method = "OPTIONS", .via = "192.0.2.1;branch=z9hG4bK" });
	receive_request((struct req){ .method = "OPTIONS", .via = "192.0.2.1;branch=z9hG4bK" });
	assert_int_equal(F.requests, 1);
	/* same bare branch, other Call-ID: not matched by branch */
	receive_request((struct req){ .method = "OPTIONS", .via = "192.0.2.1;branch=z9hG4bK",
				      .call_id = "another@192.0.2.1" });
	assert_int_equal(F.requests, 2);
}

static char *read_file(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *data;
	long size;

	snprintf(path, sizeof(path), "%s/rfc4475/%s", TEST_DATA_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	data = malloc((size_t)size);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return data;
}

/* the torture messages themselves, each received twice */
static void test_server_rfc4475_retransmissions(void **state)
{
	static const struct {
		const char *file;
		size_t requests;
		size_t sends; /* 100 Trying for an INVITE, twice */
	} cases[] = {
		{ "inv2543.sip", 1, 2 },
		{ "badbranch.sip", 1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *text = read_file(cases[i].file, &len);

		teardown(NULL);
		setup(NULL);
		for (int k = 0; k < 2; k++) {
			struct tp_packet *pkt = packet_new(TP_UDP, text, len);
			txn_layer_receive(F.layer, pkt);
			obj_unref(pkt);
		}
		free(text);
		assert_int_equal(F.requests, cases[i].requests);
		assert_int_equal(F.sent_count, cases[i].sends);
		assert_int_equal(txn_layer_count(F.layer), 1);
	}
}

/* ---- life cycle ---- */

/* the TU keeps transactions past the layer: they are Terminated, inert */
static void test_layer_free_with_held(void **state)
{
	struct txn *st, *ct;

	(void)state;
	receive_request((struct req){ 0 });
	receive_request((struct req){ .method = "OPTIONS", .via = "192.0.2.1;branch=z9hG4bKo2" });
	assert_int_equal(client_start("INVITE", "z9hG4bKc1", TP_UDP, &ct), 0);
	assert_int_equal(client_start("OPTIONS", "z9hG4bKo1", TP_UDP, NULL), 0);
	st = F.held[0];
	assert_int_equal(txn_layer_count(F.layer), 4);
	assert_int_equal(obj_refcount(st), 2);
	txn_layer_free(F.layer);
	F.layer = NULL;
	assert_int_equal(F.wheel.count, 0);
	assert_int_equal(obj_refcount(st), 1);
	assert_int_equal(txn_state(st), TXN_TERMINATED);
	assert_int_equal(txn_state(ct), TXN_TERMINATED);
	assert_int_equal(txn_server_reply_simple(st, 486, NULL, VIEW_NULL, VIEW_LIT("x")), EINVAL);
	assert_non_null(txn_request(st));
	assert_int_equal(F.call_count, 0);
	obj_unref(ct);
	assert_int_equal(layer_open(), 0);
}

static void test_layer_alloc_refused(void **state)
{
	struct txn_layer *layer = NULL;
	struct txn_handlers h = { 0 };

	(void)state;
	assert_int_equal(txn_layer_alloc(&layer, &F.wheel, NULL, fake_send, NULL, &h), EINVAL);
	h.request = tu_request;
	assert_int_equal(txn_layer_alloc(&layer, &F.wheel, NULL, NULL, NULL, &h), EINVAL);
	assert_null(layer);
	assert_int_equal(txn_layer_alloc(&layer, &F.wheel, NULL, fake_send, NULL, &h), 0);
	assert_int_equal(txn_layer_count(layer), 0);
	txn_layer_free(layer);
	txn_layer_free(NULL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_client_schedules),
		T(test_client_invite_486_ack),
		T(test_client_invite_486_tcp),
		T(test_client_invite_1xx_2xx),
		T(test_client_non_invite_proceeding_k),
		T(test_client_non_invite_tcp_final),
		T(test_client_matching),
		T(test_client_start_refused),
		T(test_client_send_errors),
		T(test_client_detach),
		T(test_client_detach_proceeding),
		T(test_server_invite_schedules),
		T(test_server_invite_timer_h),
		T(test_server_invite_100_trying),
		T(test_server_invite_no_100_when_answered),
		T(test_server_ack_for_2xx),
		T(test_server_matching_sent_by),
		T(test_server_cancel),
		T(test_server_non_invite),
		T(test_server_non_invite_tcp),
		T(test_server_rfc2543),
		T(test_server_bare_cookie),
		T(test_server_rfc4475_retransmissions),
		T(test_layer_free_with_held),
		T(test_layer_alloc_refused),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_msg.c - libFuzzer harness for the SIP message parser, printer and
 * forwarding edits (src/sip/msg.h, print.h, edit.h).
 *
 * For one input it:
 *   1. decodes it as a datagram, and as a stream (consecutive messages for
 *      as long as decoding succeeds and consumes bytes);
 *   2. for each decoded message: decodes every lazy header, walks every
 *      accessor's result and reads every byte of every view it returns, so
 *      ASan sees a view that points outside the input;
 *   3. prints the message and checks the output decodes again as a
 *      datagram into the same message shape (round trip);
 *   4. for a request, applies the edits a proxy makes when forwarding
 *      (RFC 3261 §16.6: add a Via, set Max-Forwards, pop the top Route, add
 *      a Record-Route), renders and concatenates the iovec, and checks the
 *      result decodes again with our Via, Max-Forwards and Record-Route on
 *      top.
 * A broken property calls abort() so libFuzzer records the input.
 *
 * The input is copied into a malloc'd buffer of exactly its size: an
 * over-read by one byte is an ASan report. Built with replay.c instead of
 * libFuzzer, the same function replays the corpus as a test.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "sip/edit.h"
#include "sip/msg.h"
#include "sip/print.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the forwarding edit inserts, and checks for afterwards. */
#define FUZZ_VIA_BRANCH "z9hG4bK-fuzz-4f1c"
#define FUZZ_VIA "SIP/2.0/UDP proxy.example.net:5060;branch=" FUZZ_VIA_BRANCH ";rport"
#define FUZZ_RECORD_ROUTE "<sip:proxy.example.net;lr>"
#define FUZZ_MAX_FORWARDS_DEFAULT 70u
/* Header lines the edit may add: Via, Record-Route, Max-Forwards. */
#define FUZZ_EDIT_NEW_HEADERS 3u

/* Written so the reads below cannot be optimised away. */
static volatile unsigned fuzz_sink;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_msg: property broken: %s\n", what);
		abort();
	}
}

/* Read every byte of a view. A NULL view must have length 0. */
static void touch(struct view v)
{
	unsigned sum = 0;

	if (v.p == NULL) {
		check(v.len == 0, "NULL view with a length");
		return;
	}
	for (size_t i = 0; i < v.len; i++)
		sum += (unsigned char)v.p[i];
	fuzz_sink += sum;
}

/* A view returned by the parser lies inside the message buffer. */
static void check_inside(const struct sip_msg *msg, struct view v)
{
	if (v.p == NULL || v.len == 0)
		return;
	check(v.p >= msg->buf && v.p + v.len <= msg->buf + msg->len, "view outside the message");
	touch(v);
}

static void walk_params(struct view params)
{
	struct view rest = params;
	struct sip_param param;

	touch(params);
	/* a parameter list is at most as many parameters as it has bytes */
	for (size_t guard = 0; guard <= params.len; guard++) {
		if (sip_param_next(&rest, &param) != 0)
			return;
		touch(param.name);
		touch(param.value);
	}
	check(0, "sip_param_next does not advance");
}

static void walk_uri(const struct sip_uri *uri)
{
	char unescaped[256];
	struct view value;

	touch(uri->raw);
	touch(uri->scheme_v);
	touch(uri->user);
	touch(uri->password);
	touch(uri->host);
	touch(uri->headers);
	touch(uri->opaque);
	walk_params(uri->params);
	(void)sip_uri_param(uri, "transport", &value);
	(void)sip_uri_param(uri, "lr", &value);
	if (uri->user.p != NULL)
		(void)sip_unescape(uri->user, unescaped, sizeof(unescaped));
	check(sip_uri_equal(uri, uri), "URI not equal to itself");
}

static void walk_addr(const struct sip_msg *msg, const struct sip_addr *addr)
{
	check_inside(msg, addr->raw);
	check_inside(msg, addr->display);
	check_inside(msg, addr->uri_raw);
	check_inside(msg, addr->tag);
	walk_uri(&addr->uri);
	walk_params(addr->params);
}

static void walk_via(const struct sip_msg *msg, const struct sip_via *via)
{
	check_inside(msg, via->raw);
	check_inside(msg, via->proto_name);
	check_inside(msg, via->proto_version);
	check_inside(msg, via->transport);
	check_inside(msg, via->host);
	check_inside(msg, via->branch);
	check_inside(msg, via->received);
	check_inside(msg, via->maddr);
	walk_params(via->params);
}

static void walk_auth(const struct sip_msg *msg, const struct sip_auth *a)
{
	const struct view *fields[] = {
		&a->scheme, &a->params, &a->username, &a->realm, &a->nonce, &a->uri,
		&a->response, &a->algorithm, &a->cnonce, &a->opaque, &a->qop, &a->nc,
		&a->stale, &a->domain, &a->userhash, &a->auts,
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		check_inside(msg, *fields[i]);
}

/* Every accessor; each result is read through. */
static void walk_lazy(struct sip_msg *msg)
{
	static const enum sip_hdr_id addr_ids[] = {
		SIP_HDR_ROUTE, SIP_HDR_RECORD_ROUTE, SIP_HDR_PATH, SIP_HDR_SERVICE_ROUTE,
		SIP_HDR_P_ASSOCIATED_URI,
	};
	static const enum sip_hdr_id auth_ids[] = {
		SIP_HDR_AUTHORIZATION, SIP_HDR_PROXY_AUTHORIZATION, SIP_HDR_WWW_AUTHENTICATE,
		SIP_HDR_PROXY_AUTHENTICATE,
	};
	static const enum sip_hdr_id token_ids[] = {
		SIP_HDR_REQUIRE, SIP_HDR_PROXY_REQUIRE, SIP_HDR_SUPPORTED, SIP_HDR_UNSUPPORTED,
		SIP_HDR_ALLOW,
	};
	struct sip_error err;
	size_t count;
	uint32_t seconds;

	const struct sip_via *vias;
	if (sip_msg_vias(msg, &vias, &count, &err) == 0) {
		for (size_t i = 0; i < count; i++)
			walk_via(msg, &vias[i]);
	}
	const struct sip_contact *contacts;
	if (sip_msg_contacts(msg, &contacts, &count, &err) == 0) {
		for (size_t i = 0; i < count; i++) {
			if (!contacts[i].star)
				walk_addr(msg, &contacts[i].addr);
			check_inside(msg, contacts[i].instance);
		}
	}
	for (size_t k = 0; k < sizeof(addr_ids) / sizeof(addr_ids[0]); k++) {
		const struct sip_addr *addrs;
		if (sip_msg_addrs(msg, addr_ids[k], &addrs, &count, &err) == 0) {
			for (size_t i = 0; i < count; i++)
				walk_addr(msg, &addrs[i]);
		}
	}
	for (size_t k = 0; k < sizeof(auth_ids) / sizeof(auth_ids[0]); k++) {
		const struct sip_auth *auths;
		if (sip_msg_auths(msg, auth_ids[k], &auths, &count, &err) == 0) {
			for (size_t i = 0; i < count; i++)
				walk_auth(msg, &auths[i]);
		}
	}
	for (size_t k = 0; k < sizeof(token_ids) / sizeof(token_ids[0]); k++) {
		const struct view *tokens;
		if (sip_msg_tokens(msg, token_ids[k], &tokens, &count, &err) == 0) {
			for (size_t i = 0; i < count; i++)
				check_inside(msg, tokens[i]);
		}
	}
	if (sip_msg_expires(msg, &seconds, &err) == 0)
		fuzz_sink += seconds;
	if (sip_msg_min_expires(msg, &seconds, &err) == 0)
		fuzz_sink += seconds;
	check_inside(msg, sip_msg_user_agent(msg));

	/* every header line, through the per-id chains too */
	unsigned chained = 0;
	for (int id = 0; id < SIP_HDR__COUNT; id++) {
		const struct sip_hdr *h = sip_msg_hdr_find(msg, (enum sip_hdr_id)id);
		unsigned n = 0;
		for (; h != NULL; h = sip_msg_hdr_next(msg, h)) {
			check(h->id == id, "header chained under another id");
			n++;
		}
		check(n == sip_msg_hdr_count(msg, (enum sip_hdr_id)id), "sip_msg_hdr_count");
		if (id != SIP_HDR_OTHER)
			chained += n;
	}
	unsigned known = 0;
	for (unsigned i = 0; i < msg->hdr_count; i++) {
		check_inside(msg, msg->hdrs[i].name);
		check_inside(msg, msg->hdrs[i].value);
		if (msg->hdrs[i].id != SIP_HDR_OTHER)
			known++;
	}
	check(chained == known, "a known header is missing from its chain");
}

/* The eager part of a decoded message. */
static void walk_eager(struct sip_msg *msg)
{
	check_inside(msg, msg->start_line);
	check_inside(msg, msg->method);
	check_inside(msg, msg->ruri_raw);
	check_inside(msg, msg->reason);
	check_inside(msg, msg->body);
	check_inside(msg, msg->call_id);
	check_inside(msg, msg->cseq.method);
	if (msg->is_request)
		walk_uri(&msg->ruri);
	walk_via(msg, &msg->via);
	walk_addr(msg, &msg->from);
	walk_addr(msg, &msg->to);
	check(msg->headers_end <= msg->len, "headers end past the message");
}

/* Decode a whole buffer as one datagram: 0, or the decoder's error. */
static int decode_copy(struct sip_msg *msg, const char *p, size_t len, char **copy)
{
	size_t consumed = 0;
	struct sip_error err;

	*copy = malloc(len ? len : 1);
	if (*copy == NULL)
		abort();
	memcpy(*copy, p, len);
	return sip_msg_decode(msg, *copy, len, SIP_FRAMING_DGRAM, &consumed, &err);
}

/* Equal bytes, and both absent or both present. */
static bool same_view(struct view a, struct view b)
{
	return view_is_null(a) == view_is_null(b) && view_eq(a, b);
}

/* The shape both sides of a round trip must agree on. */
static void check_same_shape(const struct sip_msg *a, const struct sip_msg *b)
{
	check(a->is_request == b->is_request, "round trip: request/response");
	if (a->is_request) {
		check(view_eq(a->method, b->method), "round trip: method");
		check(view_eq(a->ruri_raw, b->ruri_raw), "round trip: Request-URI");
	} else {
		check(a->status == b->status, "round trip: status");
	}
	check(a->cseq.number == b->cseq.number, "round trip: CSeq number");
	check(view_eq(a->cseq.method, b->cseq.method), "round trip: CSeq method");
	check(same_view(a->via.branch, b->via.branch), "round trip: top Via branch");
	check(same_view(a->from.tag, b->from.tag), "round trip: From tag");
	check(same_view(a->to.tag, b->to.tag), "round trip: To tag");
	check(a->has_max_forwards == b->has_max_forwards &&
		      a->max_forwards == b->max_forwards,
	      "round trip: Max-Forwards");
	check(view_eq(a->body, b->body), "round trip: body");
}

/* Print, then decode the output as a datagram: it must decode to the same
 * message shape with the same header ids in the same order. */
static void check_print(struct sip_msg *msg)
{
	struct buf out;
	struct sip_msg *again = malloc(sizeof(*again));
	char *copy = NULL;

	if (again == NULL)
		abort();
	buf_init(&out);
	if (sip_msg_print(msg, &out) != 0)
		abort(); /* only ENOMEM */
	int rc = decode_copy(again, out.data, out.len, &copy);
	/* Full names for compact ones can push a message over the limit. */
	if (!(rc == EMSGSIZE && out.len > SIP_MAX_MESSAGE)) {
		check(rc == 0, "printed message does not decode");
		check_same_shape(msg, again);
		check(again->hdr_count == msg->hdr_count, "round trip: header count");
		for (unsigned i = 0; i < msg->hdr_count; i++)
			check(again->hdrs[i].id == msg->hdrs[i].id, "round trip: header id");
		/* printing is canonical: printing again changes nothing */
		struct buf out2;
		buf_init(&out2);
		if (sip_msg_print(again, &out2) != 0)
			abort();
		check(out2.len == out.len && memcmp(out2.data, out.data, out.len) == 0,
		      "printing the printed message changes it");
		buf_fini(&out2);
	}
	sip_msg_fini(again);
	free(again);
	free(copy);
	buf_fini(&out);
}

/* The forwarding edits of a proxy; the result must decode with them. */
static void check_edit(struct sip_msg *msg)
{
	struct sip_edit *edit = malloc(sizeof(*edit));
	struct sip_msg *again = malloc(sizeof(*again));
	struct iovec iov[SIP_EDIT_MAX_IOV];
	size_t iov_count = 0, total = 0;
	char *flat = NULL, *copy = NULL;
	uint32_t max_forwards = FUZZ_MAX_FORWARDS_DEFAULT;
	int rc;

	if (edit == NULL || again == NULL)
		abort();
	if (msg->has_max_forwards)
		max_forwards = msg->max_forwards > 0 ? msg->max_forwards - 1 : 0;
	sip_edit_init(edit, msg);
	check(sip_edit_insert_via(edit, VIEW_LIT(FUZZ_VIA)) == 0, "sip_edit_insert_via");
	check(sip_edit_set_max_forwards(edit, max_forwards) == 0, "sip_edit_set_max_forwards");
	rc = sip_edit_remove_top_route(edit);
	check(rc == 0 || rc == ENOENT, "sip_edit_remove_top_route");
	check(sip_edit_insert_record_route(edit, VIEW_LIT(FUZZ_RECORD_ROUTE)) == 0,
	      "sip_edit_insert_record_route");
	check(sip_edit_render(edit, iov, SIP_EDIT_MAX_IOV, &iov_count, &total) == 0,
	      "sip_edit_render");

	flat = malloc(total ? total : 1);
	if (flat == NULL)
		abort();
	size_t at = 0;
	for (size_t i = 0; i < iov_count; i++) {
		check(at + iov[i].iov_len <= total, "iovec longer than its total");
		memcpy(flat + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	check(at == total, "iovec shorter than its total");

	rc = decode_copy(again, flat, total, &copy);
	bool over_limit = total > SIP_MAX_MESSAGE ||
			  msg->hdr_count + FUZZ_EDIT_NEW_HEADERS > SIP_MAX_HEADERS;
	if (!(rc == EMSGSIZE && over_limit)) {
		check(rc == 0, "edited request does not decode");
		check(again->is_request, "edited request is a response");
		check(view_eq(again->method, msg->method), "edit: method");
		check(view_eq(again->call_id, msg->call_id), "edit: Call-ID");
		check(again->cseq.number == msg->cseq.number, "edit: CSeq");
		check(view_eq(again->via.branch, VIEW_LIT(FUZZ_VIA_BRANCH)), "edit: top Via");
		check(again->has_max_forwards && again->max_forwards == max_forwards,
		      "edit: Max-Forwards");
		const struct sip_hdr *rr = sip_msg_hdr_find(again, SIP_HDR_RECORD_ROUTE);
		check(rr != NULL && view_eq(rr->value, VIEW_LIT(FUZZ_RECORD_ROUTE)),
		      "edit: top Record-Route");
		check(view_eq(again->body, msg->body), "edit: body");
	}
	sip_msg_fini(again);
	free(again);
	free(copy);
	free(flat);
	free(edit);
}

/* Everything we do with a message that decoded. */
static void exercise(struct sip_msg *msg)
{
	struct sip_error err;

	walk_eager(msg);
	(void)sip_msg_decode_all(msg, &err);
	walk_lazy(msg);
	check_print(msg);
	if (msg->is_request)
		check_edit(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_msg *msg = malloc(sizeof(*msg));
	char *buf = malloc(size ? size : 1);
	struct sip_error err = { 0, NULL };
	size_t consumed = 0;
	int rc;

	if (msg == NULL || buf == NULL)
		abort();
	memcpy(buf, data, size);

	rc = sip_msg_decode(msg, buf, size, SIP_FRAMING_DGRAM, &consumed, &err);
	if (rc == 0) {
		check(consumed == size, "a datagram is consumed whole");
		check(msg->buf >= buf && msg->len <= size, "message outside the datagram");
		exercise(msg);
	} else {
		/* err must be set: it says how to answer */
		check(rc == EBADMSG || rc == EMSGSIZE, "datagram decode error code");
		check(err.status >= 400 && err.status <= 599 && err.reason != NULL,
		      "datagram decode error status");
	}
	sip_msg_fini(msg);

	size_t off = 0;
	for (;;) {
		consumed = 0;
		err = (struct sip_error){ 0, NULL };
		rc = sip_msg_decode(msg, buf + off, size - off, SIP_FRAMING_STREAM, &consumed, &err);
		if (rc != 0 || consumed == 0) {
			check(rc == 0 || rc == EAGAIN || rc == EBADMSG || rc == EMSGSIZE,
			      "stream decode error code");
			if (rc == EBADMSG || rc == EMSGSIZE)
				check(err.status >= 400 && err.status <= 599 && err.reason != NULL,
				      "stream decode error status");
			sip_msg_fini(msg);
			break;
		}
		check(consumed <= size - off, "stream consumed past the input");
		exercise(msg);
		sip_msg_fini(msg);
		off += consumed;
	}

	free(buf);
	free(msg);
	return 0;
}

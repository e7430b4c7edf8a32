/*
 * fuzz_stream.c - libFuzzer harness for the framing of a SIP stream
 * (src/transport/frame.h: Content-Length framing, CRLF keep-alive, the
 * size limit), the function tcp.c frames every TCP connection with.
 *
 * Input: byte 0 chooses the size limit (its low 3 bits index fz_limits)
 * and how many chunk-size bytes follow (its high 4 bits, 0-15); each of
 * those gives the size of one read (the byte + 1, used in turn; none: one
 * byte per read); the rest is the stream.
 *
 * The stream is framed as tcp.c frames it (each read appended to a buffer,
 * frames taken off its front until TP_FRAME_MORE or an error, which closes
 * the stream) twice: delivered in one read, and in the chosen reads.
 * Properties (abort, so libFuzzer records the input):
 *   - a frame never takes more than the buffer holds, MORE takes nothing,
 *     every other frame takes something;
 *   - a ping is CRLFCRLF, a skip one CR or LF or a CRLF;
 *   - every message is within the limit and decodes as tcp.c decodes it
 *     (a packet of its bytes, stream framing) to exactly its bytes;
 *   - an error is EBADMSG or EMSGSIZE with a 4xx or 5xx answer;
 *   - both deliveries give the same frames (kind, bytes, error and status)
 *     and leave the same bytes unframed.
 * Every buffer is malloc'd at its exact size, so an over-read is an ASan
 * report. Built with replay.c instead of libFuzzer, the same function
 * replays the corpus as a test.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/obj.h"
#include "transport/frame.h"
#include "transport/tp_int.h" /* tp_packet_alloc, tp_packet_decode: as tcp.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_LIMIT_BITS 0x07u
#define FZ_CHUNKS_SHIFT 4u

static const size_t fz_limits[] = { SIP_MAX_MESSAGE, 8192, 1500, 512, 256, 128, 64, 16 };

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_stream: property broken: %s\n", what);
		abort();
	}
}

/* How the stream was framed: one entry per frame, then what was left. */
struct trace {
	struct buf frames;
	bool closed;
};

static void append(struct buf *b, const void *p, size_t n)
{
	check(buf_append(b, p, n) == 0, "out of memory");
}

/* A message decodes as tcp.c decodes it: a packet of its bytes. */
static void check_message(const char *p, size_t len, size_t limit)
{
	struct sip_error err = { 0, NULL };
	size_t used = 0;

	check(len > 0 && len <= limit, "message size");
	struct tp_packet *pkt = tp_packet_alloc(p, len);
	check(pkt != NULL, "out of memory");
	int rc = tp_packet_decode(pkt, SIP_FRAMING_STREAM, &used, &err);
	check(rc == 0, "a framed message does not decode");
	check(used == len, "a framed message decodes to another length");
	check(pkt->msg.buf == pkt->data, "a framed message starts after its first byte");
	obj_unref(pkt);
}

static void check_frame(const char *buf, size_t have, size_t limit, const struct tp_frame *f)
{
	check(f->used <= have, "a frame takes more than the buffer holds");
	switch (f->kind) {
	case TP_FRAME_MORE:
		check(f->used == 0, "MORE takes bytes");
		break;
	case TP_FRAME_PING:
		check(f->used == 4 && memcmp(buf, "\r\n\r\n", 4) == 0, "a ping that is no CRLFCRLF");
		break;
	case TP_FRAME_SKIP:
		check((f->used == 1 && (buf[0] == '\r' || buf[0] == '\n')) ||
			      (f->used == 2 && buf[0] == '\r' && buf[1] == '\n'),
		      "a skip of other bytes");
		break;
	case TP_FRAME_MESSAGE:
		check_message(buf, f->used, limit);
		break;
	case TP_FRAME_ERROR:
		check(f->error == EBADMSG || f->error == EMSGSIZE, "error code");
		check(f->err.status >= 400 && f->err.status <= 599 && f->err.reason != NULL,
		      "error status");
		break;
	}
}

/* Take frames off the front of buf until MORE or an error; record them. */
static size_t frame_all(char **buf, size_t have, size_t limit, struct trace *t)
{
	for (;;) {
		struct tp_frame f;
		/* an exact-size copy of what is there, for ASan */
		char *exact = malloc(have ? have : 1);
		check(exact != NULL, "out of memory");
		if (have > 0)
			memcpy(exact, *buf, have);
		tp_frame_next(exact, have, limit, &f);
		check_frame(exact, have, limit, &f);
		free(exact);
		if (f.kind == TP_FRAME_MORE)
			return have;
		uint8_t kind = (uint8_t)f.kind;
		append(&t->frames, &kind, 1);
		if (f.kind == TP_FRAME_ERROR) {
			append(&t->frames, &f.error, sizeof(f.error));
			append(&t->frames, &f.err.status, sizeof(f.err.status));
			t->closed = true;
			return have;
		}
		check(f.used > 0, "a frame takes nothing");
		if (f.kind == TP_FRAME_MESSAGE) {
			append(&t->frames, &f.used, sizeof(f.used));
			append(&t->frames, *buf, f.used);
		}
		memmove(*buf, *buf + f.used, have - f.used);
		have -= f.used;
	}
}

/* Deliver the stream in one read, or in reads of the given sizes (cycled;
 * none: one byte each). */
static void deliver(const uint8_t *stream, size_t len, const uint8_t *sizes, size_t size_count,
		    bool one_read, size_t limit, struct trace *t)
{
	char *buf = malloc(len ? len : 1);
	size_t have = 0, fed = 0, k = 0;

	check(buf != NULL, "out of memory");
	buf_init(&t->frames);
	t->closed = false;
	while (fed < len && !t->closed) {
		size_t chunk = one_read ? len : size_count ? (size_t)sizes[k++ % size_count] + 1 : 1;
		if (chunk > len - fed)
			chunk = len - fed;
		memcpy(buf + have, stream + fed, chunk);
		have += chunk;
		fed += chunk;
		have = frame_all(&buf, have, limit, t);
	}
	/* what is left unframed (nothing when closed: the stream is gone) */
	if (!t->closed) {
		append(&t->frames, &have, sizeof(have));
		if (have > 0)
			append(&t->frames, buf, have);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace whole, cut;

	if (size == 0)
		return 0;
	size_t limit = fz_limits[data[0] & FZ_LIMIT_BITS];
	size_t size_count = data[0] >> FZ_CHUNKS_SHIFT;
	if (size_count > size - 1)
		size_count = size - 1;
	const uint8_t *sizes = data + 1;
	const uint8_t *stream = sizes + size_count;
	size_t len = size - 1 - size_count;

	deliver(stream, len, NULL, 0, true, limit, &whole);
	deliver(stream, len, sizes, size_count, false, limit, &cut);
	check(whole.closed == cut.closed, "one read and several close differently");
	check(whole.frames.len == cut.frames.len &&
		      (whole.frames.len == 0 ||
		       memcmp(whole.frames.data, cut.frames.data, whole.frames.len) == 0),
	      "one read and several frame differently");
	buf_fini(&whole.frames);
	buf_fini(&cut.frames);
	return 0;
}

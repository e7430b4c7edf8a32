/*
 * frame.h - framing of a SIP byte stream (RFC 3261 §18.3: a message ends
 * after its Content-Length body; RFC 5626 §3.5.1: CRLF keep-alive), as a
 * pure function: bytes in, one frame out. No I/O, no state, no logging.
 *
 * tcp.c calls tp_frame_next on the bytes a connection has received and not
 * yet consumed, acts on the frame (answer a ping, hand a message up, answer
 * an error and close) and drops the frame's bytes, until it gets
 * TP_FRAME_MORE. The function sees only the unconsumed bytes and every frame
 * but MORE is decided by bytes it has, so a stream gives the same frames
 * however its bytes are cut into reads (tests/fuzz/fuzz_stream.c checks
 * this).
 *
 * Line ends between messages: CRLFCRLF is a ping, a CRLF a pong (dropped);
 * any other CR or LF there is dropped one byte at a time as it arrives. So
 * a message always starts at the first byte, and line ends never pile up
 * in the buffer, nor count towards the size limit of the next message.
 *
 * Invariants: used <= len; MORE uses nothing; a MESSAGE is in[0, used)
 * and decodes (SIP_FRAMING_STREAM) as a message of exactly used bytes.
 */
#ifndef SIPD_TRANSPORT_FRAME_H
#define SIPD_TRANSPORT_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#include "sip/msg.h"

enum tp_frame_kind {
	/* Incomplete: wait for more bytes. */
	TP_FRAME_MORE,
	/* CRLFCRLF: a keep-alive ping, to answer with one CRLF (used 4). */
	TP_FRAME_PING,
	/* Line-end bytes outside a message: a CRLF pong, or one stray CR or
	 * LF. Dropped (used 2 or 1). */
	TP_FRAME_SKIP,
	/* A complete message: in[0, used). */
	TP_FRAME_MESSAGE,
	/* Malformed, or over the size limit: answer err and close the
	 * stream (nothing after it can be framed). used 0. */
	TP_FRAME_ERROR,
};

struct tp_frame {
	enum tp_frame_kind kind;
	size_t used; /* bytes this frame takes from the front of the buffer */
	/* MORE: a message has begun (its headers or body are still coming:
	 * the message timer runs); false while only a CR, CRLF or CRLFCR is
	 * there, which may be the start of a ping */
	bool partial;
	int error;            /* ERROR: EBADMSG (malformed) or EMSGSIZE (413) */
	struct sip_error err; /* ERROR: status and reason of the answer */
};

/*
 * The first frame of in[0, len). A message longer than max_message_size is
 * an EMSGSIZE error as soon as that is known: when its headers announce a
 * Content-Length that takes it past the limit, or when more than
 * max_message_size bytes of it have arrived without completing it. Only
 * the first max_message_size bytes are decoded, so the answer to a message
 * never depends on bytes past the limit (nor on how many have arrived).
 */
void tp_frame_next(const char *in, size_t len, size_t max_message_size, struct tp_frame *frame);

#endif

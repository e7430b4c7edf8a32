/*
 * frame.c - stream framing as a pure function (frame.h).
 *
 * Line ends come first: a keep-alive, or stray CR and LF bytes, are taken
 * before the decoder sees the buffer, so the decoder never skips any (a
 * message starts at byte 0) and the limit counts message bytes only. Then
 * the message is decoded in a window of at most max_message_size bytes:
 * complete inside it, or over the limit.
 *
 * Streams are not the hot path: the message is decoded here into a scratch
 * struct and again by the caller into its packet (tcp.c), which is simpler
 * than handing the decoded views over to another buffer.
 */
#include "transport/frame.h"

#include <errno.h>
#include <string.h>

#define CRLFCRLF "\r\n\r\n"
#define CRLFCRLF_LEN 4u
#define CRLF_LEN 2u

/* A keep-alive or stray line ends at the front: sets the frame and returns
 * true; false when the front is the start of a message. */
static bool line_ends(const char *in, size_t len, struct tp_frame *frame)
{
	if (in[0] == '\n') {
		frame->kind = TP_FRAME_SKIP;
		frame->used = 1;
		return true;
	}
	if (in[0] != '\r')
		return false;
	if (len >= CRLFCRLF_LEN && memcmp(in, CRLFCRLF, CRLFCRLF_LEN) == 0) {
		frame->kind = TP_FRAME_PING;
		frame->used = CRLFCRLF_LEN;
	} else if (len < CRLFCRLF_LEN && memcmp(in, CRLFCRLF, len) == 0) {
		frame->kind = TP_FRAME_MORE; /* maybe a ping still arriving */
	} else {
		frame->kind = TP_FRAME_SKIP;
		frame->used = in[1] == '\n' ? CRLF_LEN : 1;
	}
	return true;
}

/* Headers complete, body still coming: its announced size is over. */
static bool announced_over(const struct sip_msg *msg, size_t max_message_size)
{
	return msg->headers_end > 0 && msg->has_content_length &&
	       (size_t)msg->headers_end + msg->content_length > max_message_size;
}

static void frame_error(struct tp_frame *frame, int error, const struct sip_error *err)
{
	frame->kind = TP_FRAME_ERROR;
	frame->used = 0;
	frame->error = error;
	frame->err = *err;
}

void tp_frame_next(const char *in, size_t len, size_t max_message_size, struct tp_frame *frame)
{
	static const struct sip_error too_large = { 413, "Message Too Large" };
	struct sip_error err = { 400, "Bad Request" };
	struct sip_msg msg;
	size_t used = 0;

	memset(frame, 0, sizeof(*frame));
	frame->kind = TP_FRAME_MORE;
	if (len == 0 || line_ends(in, len, frame))
		return;
	size_t window = len < max_message_size ? len : max_message_size;
	int rc = sip_msg_decode(&msg, in, window, SIP_FRAMING_STREAM, &used, &err);
	bool over = rc == EAGAIN && (len > max_message_size || announced_over(&msg, max_message_size));
	sip_msg_fini(&msg);
	if (rc == 0) {
		frame->kind = TP_FRAME_MESSAGE;
		frame->used = used;
	} else if (over || rc == EMSGSIZE) {
		frame_error(frame, EMSGSIZE, rc == EMSGSIZE ? &err : &too_large);
	} else if (rc == EAGAIN) {
		frame->partial = true;
	} else {
		frame_error(frame, EBADMSG, &err);
	}
}

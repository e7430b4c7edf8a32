/*
 * edit.h - forwarding edits over a received message, rendered once into an
 * iovec (RFC 3261 §16.6: add a Via, decrement Max-Forwards, pop the top
 * Route, add a Record-Route, rewrite the Request-URI; §16.7: remove the top
 * Via of a response).
 *
 * The message is never copied: an edit is "replace bytes [off, off+del) of
 * the original with this text". Edits must not overlap (each helper below
 * touches its own span; a second edit of the same span is EINVAL). Text is
 * copied into the edit's own storage, so the caller's strings may go away.
 * The result shares the original's bytes: keep the message alive until the
 * iovec has been sent.
 */
#ifndef SIPD_SIP_EDIT_H
#define SIPD_SIP_EDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "base/view.h"
#include "sip/msg.h"

#define SIP_EDIT_MAX_OPS 16u     /* edits per message */
#define SIP_EDIT_MAX_TEXT 2048u  /* bytes of inserted text per message */
/* iovec entries a render needs at most: one per edit text, one per gap. */
#define SIP_EDIT_MAX_IOV (2u * SIP_EDIT_MAX_OPS + 1u)

struct sip_edit_op {
	uint32_t off;      /* in the original message (msg->buf) */
	uint32_t del;      /* original bytes replaced */
	uint32_t text_off; /* into text[] */
	uint32_t text_len;
	uint32_t seq;      /* insertion order, for edits at the same offset */
};

struct sip_edit {
	const struct sip_msg *msg; /* borrowed */
	struct sip_edit_op ops[SIP_EDIT_MAX_OPS];
	unsigned op_count;
	char text[SIP_EDIT_MAX_TEXT];
	size_t text_len;
};

void sip_edit_init(struct sip_edit *edit, const struct sip_msg *msg);

/* Each returns 0, EMSGSIZE (no room for the edit), ENOENT (nothing to
 * change) or EINVAL (the span was edited already). */
int sip_edit_insert_via(struct sip_edit *edit, struct view via_value);
int sip_edit_remove_top_via(struct sip_edit *edit);
int sip_edit_set_max_forwards(struct sip_edit *edit, uint32_t value);
int sip_edit_remove_top_route(struct sip_edit *edit);
/* The first count Route values, over as many lines as they take (a proxy
 * that Record-Routed twice pops both). ENOENT when there are fewer. */
int sip_edit_remove_routes(struct sip_edit *edit, unsigned count);
/* The last Route value (strict routing, RFC 3261 §16.4). */
int sip_edit_remove_last_route(struct sip_edit *edit);
/* One whole header line (e.g. the Proxy-Authorization sipd consumed). */
int sip_edit_remove_header(struct sip_edit *edit, const struct sip_hdr *hdr);
int sip_edit_insert_record_route(struct sip_edit *edit, struct view rr_value);
int sip_edit_set_request_uri(struct sip_edit *edit, struct view uri);
/* A new header line before the empty line ending the headers. */
int sip_edit_add_header(struct sip_edit *edit, struct view name, struct view value);

/* Render into iov (capacity iov_max, SIP_EDIT_MAX_IOV is always enough).
 * Returns 0 with *iov_count and *total bytes, or EMSGSIZE. */
int sip_edit_render(const struct sip_edit *edit, struct iovec *iov, size_t iov_max,
		    size_t *iov_count, size_t *total);
/* Render and append to out, grown once; on failure out is as it was. */
int sip_edit_render_buf(const struct sip_edit *edit, struct buf *out);

#endif

/*
 * print.c - canonical printer for a decoded message. See print.h.
 */
#include "sip/print.h"

#include <errno.h>
#include <string.h>

int sip_value_print_unfolded(struct view v, struct buf *out)
{
	size_t i = 0;

	/* Every fold has an LF (the decoder refuses a CR without one): most
	 * values have none and go out in one copy. */
	if (v.len == 0 || !memchr(v.p, '\n', v.len))
		return buf_append(out, v.p, v.len);

	while (i < v.len) {
		size_t start = i;
		while (i < v.len && v.p[i] != '\r' && v.p[i] != '\n')
			i++;
		int rc = buf_append(out, v.p + start, i - start);
		if (rc != 0)
			return rc;
		if (i >= v.len)
			break;
		/* a fold: CRLF (or LF) then SP/HT; drop the white space around it */
		size_t kept = out->len;
		while (kept > 0 && (out->data[kept - 1] == ' ' || out->data[kept - 1] == '\t'))
			kept--;
		buf_truncate(out, kept);
		while (i < v.len && (v.p[i] == '\r' || v.p[i] == '\n' || v.p[i] == ' ' || v.p[i] == '\t'))
			i++;
		rc = buf_append(out, " ", 1);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int sip_header_print(struct buf *out, const char *name_colon, struct view value)
{
	int rc = buf_append_cstr(out, name_colon);
	if (rc == 0)
		rc = sip_value_print_unfolded(value, out);
	if (rc == 0)
		rc = buf_append(out, "\r\n", 2);
	return rc;
}

static int start_line_print(const struct sip_msg *msg, struct buf *out)
{
	if (msg->is_request)
		return buf_printf(out, "%.*s %.*s SIP/2.0\r\n", (int)msg->method.len, msg->method.p,
				  (int)msg->ruri_raw.len, msg->ruri_raw.p);
	return buf_printf(out, "SIP/2.0 %03u %.*s\r\n", msg->status, (int)msg->reason.len,
			  msg->reason.p ? msg->reason.p : "");
}

int sip_msg_print(const struct sip_msg *msg, struct buf *out)
{
	int rc = start_line_print(msg, out);

	for (unsigned i = 0; rc == 0 && i < msg->hdr_count; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];
		if (h->id != SIP_HDR_OTHER)
			rc = buf_append_cstr(out, sip_hdr_names[h->id].name);
		else
			rc = buf_append_view(out, h->name);
		if (rc == 0)
			rc = buf_append(out, ": ", 2);
		if (rc == 0)
			rc = sip_value_print_unfolded(h->value, out);
		if (rc == 0)
			rc = buf_append(out, "\r\n", 2);
	}
	if (rc == 0)
		rc = buf_append(out, "\r\n", 2);
	if (rc == 0 && msg->body.len > 0)
		rc = buf_append_view(out, msg->body);
	return rc;
}

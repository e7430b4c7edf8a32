/*
 * response.c - responses built from the request they answer. See
 * response.h. Header values are copied as received (folds unfolded), so
 * the client matches the response to its transaction byte for byte on the
 * values that matter (branch, tags, Call-ID, CSeq).
 */
#include "sip/response.h"

#include <errno.h>
#include <string.h>

#include "sip/print.h"

const char *sip_reason_phrase(unsigned status)
{
	static const struct {
		unsigned short code;
		const char *phrase;
	} table[] = {
		{ 100, "Trying" }, { 180, "Ringing" }, { 181, "Call Is Being Forwarded" },
		{ 182, "Queued" }, { 183, "Session Progress" }, { 200, "OK" }, { 202, "Accepted" },
		{ 300, "Multiple Choices" }, { 301, "Moved Permanently" },
		{ 302, "Moved Temporarily" }, { 305, "Use Proxy" }, { 380, "Alternative Service" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 402, "Payment Required" },
		{ 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" }, { 407, "Proxy Authentication Required" },
		{ 408, "Request Timeout" }, { 410, "Gone" }, { 413, "Request Entity Too Large" },
		{ 414, "Request-URI Too Long" }, { 415, "Unsupported Media Type" },
		{ 416, "Unsupported URI Scheme" }, { 420, "Bad Extension" },
		{ 421, "Extension Required" }, { 423, "Interval Too Brief" },
		{ 480, "Temporarily Unavailable" }, { 481, "Call/Transaction Does Not Exist" },
		{ 482, "Loop Detected" }, { 483, "Too Many Hops" }, { 484, "Address Incomplete" },
		{ 485, "Ambiguous" }, { 486, "Busy Here" }, { 487, "Request Terminated" },
		{ 488, "Not Acceptable Here" }, { 491, "Request Pending" }, { 493, "Undecipherable" },
		{ 500, "Server Internal Error" }, { 501, "Not Implemented" }, { 502, "Bad Gateway" },
		{ 503, "Service Unavailable" }, { 504, "Server Time-out" },
		{ 505, "Version Not Supported" }, { 513, "Message Too Large" },
		{ 600, "Busy Everywhere" }, { 603, "Decline" }, { 604, "Does Not Exist Anywhere" },
		{ 606, "Not Acceptable" },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].code == status)
			return table[i].phrase;
	}
	return "Unknown";
}

static bool has_rport_value(struct view params)
{
	struct view v;
	return sip_param_find(params, "rport", &v) && v.p != NULL;
}

/* Whether the loop of top_via_print would write the via-parm as it is:
 * no fold anywhere, no white space in or just before the parameters. A
 * CR counts as white space too: the decoder lets a bare one (no LF) stay
 * in a value and the parameter lexer skips it as LWS, so with one after a
 * ';' the byte before a parameter's name would not be that ';'. */
static bool via_is_plain(const struct sip_via *via)
{
	struct view pr = via->params;

	if (via->raw.len == 0 || memchr(via->raw.p, '\n', via->raw.len) ||
	    memchr(via->raw.p, '\r', via->raw.len))
		return false;
	if (pr.len == 0)
		return via->raw.p[via->raw.len - 1] != ' ' && via->raw.p[via->raw.len - 1] != '\t';
	return pr.p[-1] != ' ' && pr.p[-1] != '\t' && !memchr(pr.p, ' ', pr.len) &&
	       !memchr(pr.p, '\t', pr.len);
}

/* The top via-parm with its bare rport dropped when one with a value is
 * being added, then the added parameters. */
static int top_via_print(struct buf *out, const struct sip_via *via, struct view add)
{
	bool drop_rport = has_rport_value(add);
	struct view rest = via->params;
	struct sip_param p;
	int rc;

	/* Without white space the via-parm is already in the form the loop
	 * below writes: copy it, cutting out its one bare rport if it goes. */
	if (via->rport_count <= 1 && via_is_plain(via)) {
		if (drop_rport && via->rport_count == 1 && !via->rport_has_value) {
			const char *semi = via->rport_name.p - 1; /* no LWS: ';' is next to it */
			const char *after = via->rport_name.p + via->rport_name.len;
			rc = buf_append(out, via->raw.p, (size_t)(semi - via->raw.p));
			if (rc == 0)
				rc = buf_append(out, after, (size_t)(via->raw.p + via->raw.len - after));
		} else {
			rc = buf_append_view(out, via->raw);
		}
		return rc == 0 ? buf_append_view(out, add) : rc;
	}

	if (via->params.len == 0)
		rc = sip_value_print_unfolded(via->raw, out);
	else
		rc = sip_value_print_unfolded(view_make(via->raw.p, (size_t)(via->params.p - via->raw.p)),
					      out);
	/* drop white space before the parameters (folds may leave some) */
	if (rc == 0) {
		size_t n = out->len;
		while (n > 0 && out->data[n - 1] == ' ')
			n--;
		buf_truncate(out, n);
	}
	while (rc == 0 && sip_param_next(&rest, &p) == 0) {
		if (drop_rport && p.value.p == NULL && view_eq_lit_nocase(p.name, "rport"))
			continue;
		rc = buf_append(out, ";", 1);
		if (rc == 0)
			rc = buf_append_view(out, p.name);
		if (rc == 0 && p.value.p != NULL) {
			rc = buf_append(out, "=", 1);
			if (rc == 0)
				rc = buf_append_view(out, p.value);
		}
	}
	if (rc == 0)
		rc = buf_append_view(out, add);
	return rc;
}

static int vias_print(struct buf *out, const struct sip_msg *req, struct view add)
{
	bool first = true;
	int rc = 0;

	for (const struct sip_hdr *h = sip_msg_hdr_find(req, SIP_HDR_VIA); rc == 0 && h;
	     h = sip_msg_hdr_next(req, h)) {
		rc = buf_append_cstr(out, "Via: ");
		if (rc == 0 && first) {
			/* the top value, then whatever else the first line holds */
			const struct sip_via *via = &req->via;
			size_t skip = (size_t)(via->raw.p + via->raw.len - h->value.p);
			rc = top_via_print(out, via, add);
			if (rc == 0 && skip < h->value.len)
				rc = sip_value_print_unfolded(
					view_make(h->value.p + skip, h->value.len - skip), out);
			first = false;
		} else if (rc == 0) {
			rc = sip_value_print_unfolded(h->value, out);
		}
		if (rc == 0)
			rc = buf_append(out, "\r\n", 2);
	}
	return rc;
}

/* About the bytes of the response to req: the copied headers, the
 * caller's lines and body, and room for the fixed text and Via additions,
 * so that the response is written into one allocation. */
static size_t response_size_hint(const struct sip_msg *req, const struct sip_hdr *from,
				 const struct sip_hdr *to, const struct sip_response_spec *spec)
{
	size_t n = 192 + from->value.len + to->value.len + req->call_id.len + spec->via_params.len +
		   spec->to_tag.len + spec->extra.len + spec->body.len;

	for (const struct sip_hdr *h = sip_msg_hdr_find(req, SIP_HDR_VIA); h;
	     h = sip_msg_hdr_next(req, h))
		n += h->value.len + 8;
	return n;
}

int sip_response_print(struct buf *out, const struct sip_msg *req,
		       const struct sip_response_spec *spec)
{
	const struct sip_hdr *from = sip_msg_hdr_find(req, SIP_HDR_FROM);
	const struct sip_hdr *to = sip_msg_hdr_find(req, SIP_HDR_TO);
	const char *reason = spec->reason ? spec->reason : sip_reason_phrase(spec->status);
	size_t start = out->len;
	int rc;

	if (!req->is_request || spec->status < 100 || spec->status > 699 || !from || !to)
		return EINVAL;
	rc = buf_reserve(out, response_size_hint(req, from, to, spec));
	if (rc == 0)
		rc = buf_append(out, "SIP/2.0 ", 8);
	if (rc == 0)
		rc = buf_append_uint(out, spec->status);
	if (rc == 0)
		rc = buf_append(out, " ", 1);
	if (rc == 0)
		rc = buf_append_cstr(out, reason);
	if (rc == 0)
		rc = buf_append(out, "\r\n", 2);
	if (rc == 0)
		rc = vias_print(out, req, spec->via_params);
	if (rc == 0)
		rc = sip_header_print(out, "From: ", from->value);
	if (rc == 0) {
		rc = buf_append_cstr(out, "To: ");
		if (rc == 0)
			rc = sip_value_print_unfolded(to->value, out);
		if (rc == 0 && req->to.tag.p == NULL && spec->to_tag.len > 0) {
			rc = buf_append_cstr(out, ";tag=");
			if (rc == 0)
				rc = buf_append_view(out, spec->to_tag);
		}
		if (rc == 0)
			rc = buf_append(out, "\r\n", 2);
	}
	if (rc == 0)
		rc = sip_header_print(out, "Call-ID: ", req->call_id);
	if (rc == 0)
		rc = buf_append(out, "CSeq: ", 6);
	if (rc == 0)
		rc = buf_append_uint(out, req->cseq.number);
	if (rc == 0)
		rc = buf_append(out, " ", 1);
	if (rc == 0)
		rc = buf_append_view(out, req->cseq.method);
	if (rc == 0)
		rc = buf_append(out, "\r\n", 2);
	if (rc == 0 && spec->extra.len > 0)
		rc = buf_append_view(out, spec->extra);
	if (rc == 0)
		rc = buf_append_cstr(out, "Content-Length: ");
	if (rc == 0)
		rc = buf_append_uint(out, spec->body.len);
	if (rc == 0)
		rc = buf_append(out, "\r\n\r\n", 4);
	if (rc == 0 && spec->body.len > 0)
		rc = buf_append_view(out, spec->body);
	if (rc != 0)
		buf_truncate(out, start);
	return rc;
}

static bool start_is_answerable(struct view line)
{
	if (line.p == NULL || line.len == 0)
		return false;
	if (line.len >= 4 && view_eq_lit_nocase(view_make(line.p, 4), "SIP/"))
		return false; /* a response */
	if (line.len >= 4 && memcmp(line.p, "ACK ", 4) == 0)
		return false;
	return true;
}

/* Does a raw To value already carry a tag? (It did not decode, so look for
 * the parameter as text.) */
static bool raw_has_tag(struct view v)
{
	for (size_t i = 0; i + 4 <= v.len; i++) {
		if (v.p[i] == ';') {
			size_t j = i + 1;
			while (j < v.len && (v.p[j] == ' ' || v.p[j] == '\t'))
				j++;
			if (j + 3 <= v.len && view_eq_lit_nocase(view_make(v.p + j, 3), "tag"))
				return true;
		}
	}
	return false;
}

int sip_response_print_malformed(struct buf *out, const struct sip_msg *partial,
				 const struct sip_response_spec *spec)
{
	static const enum sip_hdr_id copied[] = { SIP_HDR_FROM, SIP_HDR_TO, SIP_HDR_CALL_ID,
						  SIP_HDR_CSEQ };
	const struct sip_hdr *via = sip_msg_hdr_find(partial, SIP_HDR_VIA);
	size_t start = out->len;
	int rc;

	if (!start_is_answerable(partial->start_line) || !via)
		return ENOENT;
	if (spec->status < 100 || spec->status > 699)
		return EINVAL;
	rc = buf_printf(out, "SIP/2.0 %u %s\r\n", spec->status,
			spec->reason ? spec->reason : sip_reason_phrase(spec->status));
	if (rc == 0 && partial->via.raw.p != NULL) {
		rc = vias_print(out, partial, spec->via_params); /* the top Via decoded */
	} else {
		for (const struct sip_hdr *h = via; rc == 0 && h; h = sip_msg_hdr_next(partial, h))
			rc = sip_header_print(out, "Via: ", h->value);
	}
	for (size_t i = 0; rc == 0 && i < sizeof(copied) / sizeof(copied[0]); i++) {
		const struct sip_hdr *h = sip_msg_hdr_find(partial, copied[i]);
		if (!h)
			continue;
		rc = buf_printf(out, "%s: ", sip_hdr_names[copied[i]].name);
		if (rc == 0)
			rc = sip_value_print_unfolded(h->value, out);
		if (rc == 0 && copied[i] == SIP_HDR_TO && spec->to_tag.len > 0 && !raw_has_tag(h->value)) {
			rc = buf_append_cstr(out, ";tag=");
			if (rc == 0)
				rc = buf_append_view(out, spec->to_tag);
		}
		if (rc == 0)
			rc = buf_append(out, "\r\n", 2);
	}
	if (rc == 0 && spec->extra.len > 0)
		rc = buf_append_view(out, spec->extra);
	if (rc == 0)
		rc = buf_append_cstr(out, "Content-Length: 0\r\n\r\n");
	if (rc != 0)
		buf_truncate(out, start);
	return rc;
}

/*
 * lex.h - small lexical helpers shared by the sip/ decoders (internal).
 *
 * All of them work on a view and an index into it and never read outside
 * the view. Inside a header value CR and LF only occur as part of a fold
 * (CRLF followed by SP/HT), so LWS here is any run of SP, HT, CR and LF.
 */
#ifndef SIPD_SIP_LEX_H
#define SIPD_SIP_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "base/view.h"
#include "sip/chartab.h"
#include "sip/uri.h"

static inline size_t lex_skip_lws(struct view v, size_t i)
{
	while (i < v.len && ct_is((unsigned char)v.p[i], CT_LWS))
		i++;
	return i;
}

/* Index just past the run of class cls starting at i. */
static inline size_t lex_span(struct view v, size_t i, unsigned cls)
{
	while (i < v.len && ct_is((unsigned char)v.p[i], cls))
		i++;
	return i;
}

/* v.p[*i] is '"': move *i past the closing quote. False when unclosed or
 * when a quoted-pair escapes CR or LF (RFC 3261 §25.1). */
bool lex_quoted(struct view v, size_t *i);

/*
 * Take the next comma-separated element of a list value (commas inside
 * quotes and angle brackets do not split). *rest advances past the comma.
 * Returns 0 with elem LWS-trimmed, ENOENT when nothing is left, EBADMSG for
 * an empty element or an unbalanced quote or bracket.
 */
int lex_list_next(struct view *rest, struct view *elem);


#endif

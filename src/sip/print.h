/*
 * print.h - write a decoded message back out in canonical form: the start
 * line as "Method SP URI SP SIP/2.0" or "SIP/2.0 SP code SP reason", every
 * header line in order with the full name of known headers ("v" becomes
 * "Via"), folded values unfolded (each fold becomes one SP), then the body
 * unchanged. The output decodes to the same message (round trip).
 */
#ifndef SIPD_SIP_PRINT_H
#define SIPD_SIP_PRINT_H

#include "base/buf.h"
#include "sip/msg.h"

/* Append the message to out. Returns 0 or ENOMEM. */
int sip_msg_print(const struct sip_msg *msg, struct buf *out);

/* Append "name" (with its ": ") then the value unfolded, then CRLF. */
int sip_header_print(struct buf *out, const char *name_colon, struct view value);

/* Append a header value with every fold turned into a single SP. */
int sip_value_print_unfolded(struct view value, struct buf *out);

#endif

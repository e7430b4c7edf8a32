/*
 * sip_int.h - declarations shared by the sip/ files only.
 */
#ifndef SIPD_SIP_INT_H
#define SIPD_SIP_INT_H

#include "sip/msg.h"

/* delta-seconds; above 2^32-1 saturates (RFC 3261 §20.19). */
bool sip_delta_seconds(struct view v, uint32_t *out);

int sip_contact_decode(struct sip_contact *contact, struct view in, const char **reason);

/*
 * Decode every credential or challenge of one header value into items
 * (capacity max), appending at *count. Returns 0, EBADMSG or EMSGSIZE.
 */
int sip_auth_decode_value(struct view value, struct sip_auth *items, size_t max, size_t *count);

#endif

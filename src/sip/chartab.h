/*
 * chartab.h - character classes of the SIP grammar (RFC 3261 §25.1).
 *
 * One 256-entry table, never <ctype.h> on wire bytes (locale-free, no sign
 * surprises, one load per test). Shared by the sip/ files only.
 */
#ifndef SIPD_SIP_CHARTAB_H
#define SIPD_SIP_CHARTAB_H

#include <stdbool.h>
#include <stdint.h>

enum {
	CT_ALPHA = 1 << 0,
	CT_DIGIT = 1 << 1,
	CT_HEX = 1 << 2,
	CT_TOKEN = 1 << 3,      /* alphanum - . ! % * _ + ` ' ~ */
	CT_LWS = 1 << 4,        /* SP HTAB CR LF: inside a header value CR/LF only occur in folds */
	CT_UNRESERVED = 1 << 5, /* alphanum - _ . ! ~ * ' ( ) */
	CT_USER = 1 << 6,       /* unreserved + user-unreserved & = + $ , ; ? / */
	CT_PASSWORD = 1 << 7,   /* unreserved + & = + $ , */
	CT_PARAM = 1 << 8,      /* unreserved + param-unreserved [ ] / : & + $ */
	CT_HNV = 1 << 9,        /* unreserved + hnv-unreserved [ ] / ? : + $ */
	CT_WORD = 1 << 10,      /* token + ( ) < > : \ " / [ ] ? { } */
	CT_HOST = 1 << 11,      /* alphanum - . (hostname) */
	CT_UTF8 = 1 << 12,      /* 0x80-0xFF */
	CT_TEXT = 1 << 13,      /* printable ASCII 0x21-0x7E */
	CT_LISTSEP = 1 << 14,   /* , " < > : what splits or nests list elements */
	CT_PVALUE = 1 << 15,    /* token + : [ ] (gen-value without quotes) */
};

extern const uint16_t sip_ctab[256];

static inline bool ct_is(unsigned char c, unsigned cls)
{
	return (sip_ctab[c] & cls) != 0;
}

static inline unsigned char ct_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static inline int ct_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ct_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#endif

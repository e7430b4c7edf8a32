/*
 * chartab.c - the character class table, computed at compile time from the
 * RFC 3261 §25.1 definitions below.
 */
#include "sip/chartab.h"

#define IN2(c, a, b) ((c) == (a) || (c) == (b))
#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALNUM(c) (IS_ALPHA(c) || IS_DIGIT(c))
#define IS_HEX(c) (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define IS_MARK(c) (IN2(c, '-', '_') || IN2(c, '.', '!') || IN2(c, '~', '*') || \
		    IN2(c, '\'', '(') || (c) == ')')
#define IS_UNRES(c) (IS_ALNUM(c) || IS_MARK(c))
#define IS_TOKEN(c) (IS_ALNUM(c) || IN2(c, '-', '.') || IN2(c, '!', '%') || IN2(c, '*', '_') || \
		     IN2(c, '+', '`') || IN2(c, '\'', '~'))
#define IS_LWS(c) (IN2(c, ' ', '\t') || IN2(c, '\r', '\n'))
#define IS_USER(c) (IS_UNRES(c) || IN2(c, '&', '=') || IN2(c, '+', '$') || IN2(c, ',', ';') || \
		    IN2(c, '?', '/'))
#define IS_PASSWORD(c) (IS_UNRES(c) || IN2(c, '&', '=') || IN2(c, '+', '$') || (c) == ',')
#define IS_PARAM(c) (IS_UNRES(c) || IN2(c, '[', ']') || IN2(c, '/', ':') || IN2(c, '&', '+') || \
		     (c) == '$')
#define IS_HNV(c) (IS_UNRES(c) || IN2(c, '[', ']') || IN2(c, '/', '?') || IN2(c, ':', '+') || \
		   (c) == '$')
#define IS_WORD(c) (IS_TOKEN(c) || IN2(c, '(', ')') || IN2(c, '<', '>') || IN2(c, ':', '\\') || \
		    IN2(c, '"', '/') || IN2(c, '[', ']') || IN2(c, '?', '{') || (c) == '}')
#define IS_HOST(c) (IS_ALNUM(c) || IN2(c, '-', '.'))
#define IS_LISTSEP(c) (IN2(c, ',', '"') || IN2(c, '<', '>'))
#define IS_PVALUE(c) (IS_TOKEN(c) || IN2(c, ':', '[') || (c) == ']')

#define CLS(c)                                                                        \
	(uint16_t)((IS_ALPHA(c) ? CT_ALPHA : 0) | (IS_DIGIT(c) ? CT_DIGIT : 0) |          \
		   (IS_HEX(c) ? CT_HEX : 0) | (IS_TOKEN(c) ? CT_TOKEN : 0) |                  \
		   (IS_LWS(c) ? CT_LWS : 0) | (IS_UNRES(c) ? CT_UNRESERVED : 0) |             \
		   (IS_USER(c) ? CT_USER : 0) | (IS_PASSWORD(c) ? CT_PASSWORD : 0) |          \
		   (IS_PARAM(c) ? CT_PARAM : 0) | (IS_HNV(c) ? CT_HNV : 0) |                  \
		   (IS_WORD(c) ? CT_WORD : 0) | (IS_HOST(c) ? CT_HOST : 0) |                  \
		   ((c) >= 0x80 ? CT_UTF8 : 0) | ((c) >= 0x21 && (c) <= 0x7e ? CT_TEXT : 0) |      \
		   (IS_LISTSEP(c) ? CT_LISTSEP : 0) | (IS_PVALUE(c) ? CT_PVALUE : 0))

#define R4(b) CLS((b)), CLS((b) + 1), CLS((b) + 2), CLS((b) + 3)
#define R16(b) R4(b), R4((b) + 4), R4((b) + 8), R4((b) + 12)
#define R64(b) R16(b), R16((b) + 16), R16((b) + 32), R16((b) + 48)

const uint16_t sip_ctab[256] = { R64(0), R64(64), R64(128), R64(192) };

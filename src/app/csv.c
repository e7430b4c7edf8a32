/*
 * csv.c - import rows, user names and passwords as `sipd user` reads them
 * (csv.h).
 *
 * A row is split at its first comma into a name and a password; the name
 * is checked and lowered (its domain) by csv_name_parse, the password by
 * csv_password_problem, which `user add` use too. Nothing here allocates,
 * hashes or touches the store; the password is only ever a view into the
 * caller's line, never copied, so the caller's wipe of the line is enough.
 */
#include "app/csv.h"

#include <stdio.h>
#include <string.h>

#include "sip/uri.h"

const char *csv_quoted(struct view v, char buf[CSV_QUOTED_MAX])
{
	size_t used = 0, shown = v.len > CSV_SHOWN_MAX ? CSV_SHOWN_MAX : v.len;

	for (size_t i = 0; i < shown; i++) {
		unsigned char ch = (unsigned char)v.p[i];
		if (ch >= 0x20 && ch < 0x7f)
			buf[used++] = (char)ch;
		else
			used += (size_t)snprintf(buf + used, CSV_QUOTED_MAX - used, "\\x%02x", ch);
	}
	if (shown < v.len) {
		memcpy(buf + used, "...", 3);
		used += 3;
	}
	buf[used] = '\0';
	return buf;
}

/* RFC 3261 §25.1 user = 1*( unreserved / escaped / user-unreserved ),
 * without escapes: a name that needs one is refused, not stored escaped. */
static bool user_char(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	switch (ch) {
	case '-': case '_': case '.': case '!': case '~': case '*': case '\'': case '(': case ')':
	case '&': case '=': case '+': case '$': case ',': case ';': case '?': case '/':
		return true;
	default:
		return false;
	}
}

static char ascii_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Whether user (the part of text before any '@') is a good user part;
 * why set when not. */
static bool user_valid(struct view text, struct view user, char *why, size_t why_len)
{
	char shown[CSV_QUOTED_MAX];

	if (user.len == 0) {
		snprintf(why, why_len, "empty user name in '%s'", csv_quoted(text, shown));
		return false;
	}
	if (user.len > CSV_USER_MAX) {
		snprintf(why, why_len, "user name '%s' is longer than %d bytes",
			 csv_quoted(user, shown), CSV_USER_MAX);
		return false;
	}
	for (size_t i = 0; i < user.len; i++) {
		if (!user_char((unsigned char)user.p[i])) {
			snprintf(why, why_len,
				 "bad user name '%s' (letters, digits and -_.!~*'()&=+$,;?/ only)",
				 csv_quoted(user, shown));
			return false;
		}
	}
	return true;
}

bool csv_name_parse(struct view text, const char *default_domain, struct store_user *u,
		    char *why, size_t why_len)
{
	const char *at = memchr(text.p, '@', text.len);
	struct view user = view_make(text.p, at ? (size_t)(at - text.p) : text.len);
	struct view domain = at ? view_make(at + 1, text.len - user.len - 1)
				: view_from_cstr(default_domain);
	enum sip_host_type type;
	char shown[CSV_QUOTED_MAX];

	if (!user_valid(text, user, why, why_len))
		return false;
	if (domain.len == 0) {
		snprintf(why, why_len, "empty domain in '%s'", csv_quoted(text, shown));
		return false;
	}
	if (domain.len >= sizeof(u->domain) || !sip_host_classify(domain, &type)) {
		snprintf(why, why_len, "bad domain '%s' (a host name or an IP literal)",
			 csv_quoted(domain, shown));
		return false;
	}
	memcpy(u->user, user.p, user.len);
	u->user[user.len] = '\0';
	for (size_t i = 0; i < domain.len; i++)
		u->domain[i] = ascii_lower(domain.p[i]);
	u->domain[domain.len] = '\0';
	return true;
}

const char *csv_password_problem(struct view password)
{
	if (password.len == 0)
		return "the password is empty";
	if (password.len > CSV_PASSWORD_MAX)
		return "the password is longer than 128 bytes";
	for (size_t i = 0; i < password.len; i++) {
		unsigned char ch = (unsigned char)password.p[i];
		if (ch < 0x20 || ch >= 0x7f)
			return "the password may hold printable ASCII characters only";
	}
	if (password.p[0] == ' ' || password.p[password.len - 1] == ' ')
		return "the password must not start or end with a space";
	return NULL;
}

/* The line split into name and password: CSV_ROW_OK, CSV_ROW_SKIP, or
 * CSV_ROW_BAD with *why set. */
static enum csv_row row_split(const char *line, size_t n, unsigned long line_number,
			      struct view *name, struct view *password, const char **why)
{
	const char *comma;
	size_t blank = 0;

	if (memchr(line, '\0', n)) {
		*why = "NUL byte in the line";
		return CSV_ROW_BAD;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (line_number == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		n -= 3;
	}
	while (blank < n && (line[blank] == ' ' || line[blank] == '\t'))
		blank++;
	if (blank == n || line[0] == '#')
		return CSV_ROW_SKIP;
	comma = memchr(line, ',', n);
	if (!comma) {
		*why = "expected user[@domain],password";
		return CSV_ROW_BAD;
	}
	*name = view_make(line, (size_t)(comma - line));
	*password = view_make(comma + 1, n - name->len - 1);
	return CSV_ROW_OK;
}

enum csv_row csv_row_decode(const char *line, size_t n, unsigned long line_number,
			    const char *default_domain, struct store_user *u,
			    struct view *password, char *why, size_t why_len)
{
	struct view name, pw;
	const char *problem = NULL;
	enum csv_row kind = row_split(line, n, line_number, &name, &pw, &problem);

	if (kind == CSV_ROW_BAD)
		snprintf(why, why_len, "%s", problem);
	if (kind != CSV_ROW_OK)
		return kind;
	if (!csv_name_parse(name, default_domain, u, why, why_len))
		return CSV_ROW_BAD;
	problem = csv_password_problem(pw);
	if (problem) {
		snprintf(why, why_len, "%s", problem);
		return CSV_ROW_BAD;
	}
	*password = pw;
	return CSV_ROW_OK;
}

/*
 * csv.h - the text `sipd user` reads (cli.c): the rows of an import file,
 * and the user names and passwords that `user add` and `user del` take in
 * the same grammar.
 *
 * A row is one line, "user[@domain],password": the first comma ends the
 * name, the rest of the line without its CR/LF is the password (commas
 * included). Blank lines and lines starting with '#' are skipped; a UTF-8
 * byte order mark before the first line is dropped.
 *
 * Pure: no I/O, no store, no hashing (cli.c hashes and stores). Messages
 * are one line of printable ASCII (csv_quoted) and never quote a password.
 */
#ifndef SIPD_APP_CSV_H
#define SIPD_APP_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "base/view.h"
#include "store/store.h"

#define CSV_USER_MAX 64       /* bytes of a user name */
#define CSV_PASSWORD_MAX 128  /* bytes of a password */
#define CSV_SHOWN_MAX 80      /* bytes of a bad value quoted in a message */
#define CSV_QUOTED_MAX (CSV_SHOWN_MAX * 4 + 4) /* each byte as \xNN, and "..." */

enum csv_row {
	CSV_ROW_SKIP, /* blank or a comment */
	CSV_ROW_OK,
	CSV_ROW_BAD,
};

/* v for a one-line message: control bytes and non-ASCII as \xNN, cut
 * after CSV_SHOWN_MAX bytes with "...". Returns buf. */
const char *csv_quoted(struct view v, char buf[CSV_QUOTED_MAX]);

/*
 * "USER[@DOMAIN]" into u->user and u->domain (lower case; default_domain
 * when absent). USER is RFC 3261 §25.1 user without escapes, at most
 * CSV_USER_MAX bytes; DOMAIN a host name or an IP literal. false with why
 * set for a bad name; u's other fields are left alone.
 */
bool csv_name_parse(struct view text, const char *default_domain, struct store_user *u,
		    char *why, size_t why_len);

/* NULL when password is acceptable (1 to CSV_PASSWORD_MAX printable ASCII
 * characters, no space at either end), else why (which never quotes it). */
const char *csv_password_problem(struct view password);

/*
 * One line of an import file as getline returned it (n bytes, its '\n'
 * included when it has one); line_number counts from 1 (1 drops a byte
 * order mark). CSV_ROW_OK: u->user and u->domain set and *password a view
 * into line. CSV_ROW_BAD: why set (without the "FILE:LINE: " prefix), u
 * possibly written.
 */
enum csv_row csv_row_decode(const char *line, size_t n, unsigned long line_number,
			    const char *default_domain, struct store_user *u,
			    struct view *password, char *why, size_t why_len);

#endif

/*
 * cli.h - the subscriber and registration subcommands (DESIGN.md §5):
 *
 *	sipd user add USER[@DOMAIN] [--password PW]
 *	sipd user del USER[@DOMAIN]
 *	sipd user list
 *	sipd user import FILE
 *	sipd reg list
 *
 * Each takes --db, -c/--config and -d/--domain like the server, opens the
 * database only for the time it needs it (the server may run on the same
 * file) and exits: 0 success, 2 usage or bad input (one line "sipd: ..."),
 * 1 runtime failure (one line "sipd: ...").
 */
#ifndef SIPD_APP_CLI_H
#define SIPD_APP_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Whether word (argv[1]) names a command group of cli_main: "user", "reg". */
bool cli_is_command(const char *word);

/*
 * Runs `sipd GROUP ...` (argv[1] is the group) and returns the exit status.
 * Results go to out, the one error line to err. Reorders argv (getopt_long
 * permutation).
 */
int cli_main(int argc, char **argv, FILE *out, FILE *err);

#endif

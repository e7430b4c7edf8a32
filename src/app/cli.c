/*
 * cli.c - `sipd user ...` and `sipd reg ...` (cli.h, DESIGN.md §5).
 *
 * One table, commands[], names every subcommand: its group, word,
 * operands, help text and handler. The options are the same for all of
 * them (--db, -c/--config, -d/--domain, -h/--help; --password for `user
 * add` only) and build a struct config the way the server's command line
 * does: defaults, then the -c file, then the flags, the first -d replacing
 * the file's domains. A USER without @DOMAIN belongs to the default domain
 * (config_default_domain), which is also the digest realm, so the HA1s
 * stored here are the ones the server checks.
 *
 * Exit status (cli.h): 0 success; 2 usage error or bad input: unknown
 * command or option, missing or extra argument, bad user name, domain,
 * password or CSV row, a duplicate user in an import file, an import file
 * that cannot be opened, a bad or unsupported --db URL; 1 runtime failure:
 * the database cannot be opened or written, `user add` of a user that
 * exists, `user del` of a user that does not, a read error in the middle
 * of an import file, output that cannot be written. Either way exactly one
 * line, "sipd: ...", goes to err: the store's own log lines are captured
 * (log_set_sink) and the last one is quoted in that line instead of being
 * printed on their own.
 *
 * User names, passwords and import rows are parsed by csv.c; this file
 * hashes, stores and reports.
 *
 * Passwords are never stored or logged: they are hashed into the three
 * HA1s (MD5, SHA-256, SHA-512-256; realm = the user's domain) and every
 * buffer that held one is wiped. A generated password is printed once, by
 * `user add`.
 *
 * The database is opened after the arguments are checked and closed as
 * soon as the command is done; the server may run on the same file (SQLite
 * locking, the store's busy timeout). `user import` stages its rows with
 * the store's streamed import, so a million rows need neither memory nor a
 * long write lock, and a bad row leaves the database as it was.
 */
#include "app/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/config.h"
#include "app/csv.h"
#include "base/log.h"
#include "base/view.h"
#include "core/digest.h"
#include "sip/uri.h"
#include "store/store.h"

enum {
	CLI_OK = 0,
	CLI_FAIL = 1,  /* runtime failure */
	CLI_USAGE = 2, /* usage error or bad input */
};

#define CLI_PASSWORD_GENERATED 16 /* characters of a generated password */
#define CLI_ERR_MAX 1024          /* bytes of the error line, before "sipd: " */
#define CLI_Q_ONE 1000            /* struct store_binding's q for q=1 */

struct command;

struct cli {
	FILE *out, *err;
	struct config cfg;
	const struct command *command;
	char **operands; /* argv's, after the command word */
	size_t operand_count;
	const char *password; /* --password, or NULL */
	char default_domain[CONFIG_DOMAIN_MAX];
	char store_log[LOG_LINE_MAX + 1]; /* the store's last log line, "" */
};

typedef int (command_h)(struct cli *cli);

struct command {
	const char *group;    /* "user" */
	const char *name;     /* "add" */
	const char *operands; /* "USER[@DOMAIN]"; NULL = none */
	bool takes_password;
	const char *summary;  /* group help: one line */
	const char *help;     /* command help: a paragraph */
	command_h *run;
};

static int user_add(struct cli *cli);
static int user_del(struct cli *cli);
static int user_list(struct cli *cli);
static int user_import(struct cli *cli);
static int reg_list(struct cli *cli);

static const char *const groups[] = { "user", "reg" };

static const struct command commands[] = {
	{ "user", "add", "USER[@DOMAIN]", true, "add a user",
	  "Adds a user. Without --password a random password of 16 letters and digits\n"
	  "is generated and printed (\"added USER@DOMAIN password PW\"); it is not\n"
	  "shown again. Only the HA1 hashes are stored. A user that exists already\n"
	  "is an error (exit 1): delete it first, or replace it with import.\n",
	  user_add },
	{ "user", "del", "USER[@DOMAIN]", false, "delete a user",
	  "Deletes a user. A user that does not exist is an error (exit 1).\n", user_del },
	{ "user", "list", NULL, false, "print every user, USER@DOMAIN, one per line",
	  "Prints every user, USER@DOMAIN, one per line, sorted by domain and user.\n",
	  user_list },
	{ "user", "import", "FILE", false, "add or replace the users of a CSV file, all or none",
	  "Adds the users of FILE, one \"user[@domain],password\" per line: the first\n"
	  "comma ends the name, the rest of the line (without CR/LF) is the password.\n"
	  "Blank lines and lines starting with '#' are skipped. A user that exists\n"
	  "already is replaced. A bad line or a user given twice imports nothing\n"
	  "(exit 2, \"sipd: FILE:LINE: why\"); on success prints \"imported N users\".\n",
	  user_import },
	{ "reg", "list", NULL, false, "print the current bindings, one per line",
	  "Prints each current binding on one line:\n"
	  "  sip:USER@DOMAIN CONTACT expires=SECONDS_LEFT q=Q source=PROTO:ADDR:PORT\n"
	  "followed by path=PATH, instance=INSTANCE, reg-id=N and ua=\"USER-AGENT\" when\n"
	  "the binding has them. Nothing when there are none. Expired bindings are\n"
	  "deleted, not listed.\n",
	  reg_list },
};

#define COMMAND_TOTAL (sizeof(commands) / sizeof(commands[0]))

bool cli_is_command(const char *word)
{
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (word && strcmp(word, groups[i]) == 0)
			return true;
	return false;
}

/* ---- messages --------------------------------------------------------- */

/* One line "sipd: ..." on err; returns status. */
__attribute__((format(printf, 3, 4))) static int fail(struct cli *cli, int status,
						      const char *fmt, ...)
{
	char line[CLI_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(cli->err, "sipd: %s\n", line);
	return status;
}

/* What went wrong in the store: its last log line, else strerror(err). */
static const char *store_why(const struct cli *cli, int err)
{
	return cli->store_log[0] ? cli->store_log : strerror(err);
}

static void store_log_sink(enum log_level level, const char *line, void *arg)
{
	struct cli *cli = arg;

	if (level <= LOG_WARN)
		snprintf(cli->store_log, sizeof(cli->store_log), "%s", line);
}

/* ---- names and passwords ---------------------------------------------- */

/* The three HA1s of u (realm = its domain). false if hashing failed. */
static bool user_hash(struct store_user *u, struct view password)
{
	struct view user = view_from_cstr(u->user), realm = view_from_cstr(u->domain);

	digest_ha1(DIGEST_MD5, user, realm, password, u->ha1_md5);
	digest_ha1(DIGEST_SHA256, user, realm, password, u->ha1_sha256);
	digest_ha1(DIGEST_SHA512_256, user, realm, password, u->ha1_sha512_256);
	return u->ha1_md5[0] && u->ha1_sha256[0] && u->ha1_sha512_256[0];
}

static int db_open(struct cli *cli, struct store **store)
{
	char why[CLI_ERR_MAX] = "";
	int err = store_open(store, cli->cfg.db, why, sizeof(why));

	if (err == 0)
		return CLI_OK;
	/* EINVAL: a URL config accepts but the store does not (postgresql://). */
	return fail(cli, err == EINVAL ? CLI_USAGE : CLI_FAIL, "%s",
		    why[0] ? why : strerror(err));
}

/* ---- user add, del, list ---------------------------------------------- */

static int user_add(struct cli *cli)
{
	struct store_user u;
	struct store *store = NULL;
	char why[CLI_ERR_MAX], generated[CLI_PASSWORD_GENERATED + 1];
	const char *problem;
	struct view password;
	int err, rc;

	memset(&u, 0, sizeof(u));
	if (!csv_name_parse(view_from_cstr(cli->operands[0]), cli->default_domain, &u, why,
			    sizeof(why)))
		return fail(cli, CLI_USAGE, "%s", why);
	if (cli->password) {
		password = view_from_cstr(cli->password);
		problem = csv_password_problem(password);
		if (problem)
			return fail(cli, CLI_USAGE, "bad --password: %s", problem);
	} else {
		err = digest_random_text(generated, CLI_PASSWORD_GENERATED);
		if (err)
			return fail(cli, CLI_FAIL, "cannot generate a password: %s", strerror(err));
		password = view_make(generated, CLI_PASSWORD_GENERATED);
	}
	if (!user_hash(&u, password)) {
		rc = fail(cli, CLI_FAIL, "cannot hash the password (libcrypto)");
		goto out;
	}
	rc = db_open(cli, &store);
	if (rc != CLI_OK)
		goto out;
	err = store_user_put(store, &u, false);
	store_close(store);
	if (err == EEXIST) {
		rc = fail(cli, CLI_FAIL, "user %s@%s exists already", u.user, u.domain);
	} else if (err) {
		rc = fail(cli, CLI_FAIL, "cannot add %s@%s: %s", u.user, u.domain,
			  store_why(cli, err));
	} else if (cli->password) {
		fprintf(cli->out, "added %s@%s\n", u.user, u.domain);
	} else {
		fprintf(cli->out, "added %s@%s password %s\n", u.user, u.domain, generated);
	}
out:
	explicit_bzero(&u, sizeof(u));
	explicit_bzero(generated, sizeof(generated));
	return rc;
}

static int user_del(struct cli *cli)
{
	struct store_user u;
	struct store *store;
	char why[CLI_ERR_MAX];
	int err, rc;

	memset(&u, 0, sizeof(u));
	if (!csv_name_parse(view_from_cstr(cli->operands[0]), cli->default_domain, &u, why,
			    sizeof(why)))
		return fail(cli, CLI_USAGE, "%s", why);
	rc = db_open(cli, &store);
	if (rc != CLI_OK)
		return rc;
	err = store_user_del(store, u.user, u.domain);
	store_close(store);
	if (err == ENOENT)
		return fail(cli, CLI_FAIL, "no user %s@%s", u.user, u.domain);
	if (err)
		return fail(cli, CLI_FAIL, "cannot delete %s@%s: %s", u.user, u.domain,
			    store_why(cli, err));
	fprintf(cli->out, "deleted %s@%s\n", u.user, u.domain);
	return CLI_OK;
}

static void user_print(const struct store_user *u, void *arg)
{
	fprintf(arg, "%s@%s\n", u->user, u->domain);
}

static int user_list(struct cli *cli)
{
	struct store *store;
	int err, rc;

	rc = db_open(cli, &store);
	if (rc != CLI_OK)
		return rc;
	err = store_user_each(store, user_print, cli->out);
	store_close(store);
	if (err)
		return fail(cli, CLI_FAIL, "cannot list users: %s", store_why(cli, err));
	return CLI_OK;
}

/* ---- user import ------------------------------------------------------ */

/*
 * The line before before_line that names the same user as u, or 0 (none
 * found, or f cannot be read again: a pipe). Only runs when the store found
 * a duplicate, so the common path keeps nothing per row in memory.
 */
static unsigned long first_line_of(FILE *f, const struct store_user *u,
				   unsigned long before_line, const char *default_domain)
{
	struct store_user other;
	struct view password;
	char *line = NULL, msg[CLI_ERR_MAX];
	size_t cap = 0;
	ssize_t n;
	unsigned long line_number = 0, found = 0;

	if (fseek(f, 0, SEEK_SET) != 0)
		return 0;
	while (!found && (n = getline(&line, &cap, f)) != -1 && ++line_number < before_line) {
		if (csv_row_decode(line, (size_t)n, line_number, default_domain, &other, &password,
				   msg, sizeof(msg)) == CSV_ROW_OK &&
		    strcmp(other.user, u->user) == 0 && strcmp(other.domain, u->domain) == 0)
			found = line_number;
	}
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	return found;
}

static int user_import(struct cli *cli)
{
	const char *path = cli->operands[0];
	struct store *store = NULL;
	struct store_user u;
	struct view password;
	char *line = NULL, why[CLI_ERR_MAX];
	size_t cap = 0, count = 0;
	ssize_t n;
	unsigned long line_number = 0;
	bool importing = false;
	FILE *f;
	int err, rc = CLI_OK;

	f = fopen(path, "r");
	if (!f)
		return fail(cli, CLI_USAGE, "cannot read '%s': %s", path, strerror(errno));
	rc = db_open(cli, &store);
	if (rc != CLI_OK)
		goto out;
	err = store_user_import_begin(store);
	if (err) {
		rc = fail(cli, CLI_FAIL, "cannot start the import: %s", store_why(cli, err));
		goto out;
	}
	importing = true;
	memset(&u, 0, sizeof(u));
	errno = 0;
	while ((n = getline(&line, &cap, f)) != -1) {
		line_number++;
		switch (csv_row_decode(line, (size_t)n, line_number, cli->default_domain, &u,
				       &password, why, sizeof(why))) {
		case CSV_ROW_SKIP:
			continue;
		case CSV_ROW_BAD:
			rc = fail(cli, CLI_USAGE, "%s:%lu: %s", path, line_number, why);
			goto out;
		case CSV_ROW_OK:
			break;
		}
		if (!user_hash(&u, password)) {
			rc = fail(cli, CLI_FAIL, "%s:%lu: cannot hash the password (libcrypto)", path,
				  line_number);
			goto out;
		}
		err = store_user_import_add(store, &u);
		if (err == EEXIST) {
			unsigned long first = first_line_of(f, &u, line_number, cli->default_domain);
			if (first)
				rc = fail(cli, CLI_USAGE, "%s:%lu: %s@%s given twice (first on line %lu)",
					  path, line_number, u.user, u.domain, first);
			else
				rc = fail(cli, CLI_USAGE, "%s:%lu: %s@%s given twice", path,
					  line_number, u.user, u.domain);
			goto out;
		}
		if (err) {
			rc = fail(cli, CLI_FAIL, "%s:%lu: cannot stage the row: %s", path, line_number,
				  store_why(cli, err));
			goto out;
		}
		count++;
	}
	if (ferror(f)) {
		rc = fail(cli, CLI_FAIL, "cannot read '%s': %s", path, strerror(errno ? errno : EIO));
		goto out;
	}
	importing = false;
	err = store_user_import_end(store, true);
	if (err) {
		rc = fail(cli, CLI_FAIL, "cannot import: %s", store_why(cli, err));
		goto out;
	}
	fprintf(cli->out, "imported %zu user%s\n", count, count == 1 ? "" : "s");
out:
	if (importing)
		store_user_import_end(store, false);
	store_close(store);
	explicit_bzero(&u, sizeof(u));
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(f);
	return rc;
}

/* ---- reg list --------------------------------------------------------- */

struct reg_list {
	FILE *out;
	int64_t now_s;
};

/* s with control bytes as \xNN; in quotes, '"' and '\' escaped too. */
static void put_safe(FILE *out, const char *s, bool in_quotes)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\x%02x", ch);
		else if (in_quotes && (ch == '"' || ch == '\\'))
			fprintf(out, "\\%c", ch);
		else
			fputc(ch, out);
	}
}

/* q as SIP writes it: 1000 → "1", 500 → "0.5", 125 → "0.125", 0 → "0". */
static void q_format(uint16_t q, char out[8])
{
	unsigned milli = q >= CLI_Q_ONE ? CLI_Q_ONE : q;
	size_t len;

	if (milli == CLI_Q_ONE || milli == 0) {
		snprintf(out, 8, "%u", milli / CLI_Q_ONE);
		return;
	}
	snprintf(out, 8, "0.%03u", milli);
	len = strlen(out);
	while (out[len - 1] == '0')
		out[--len] = '\0';
}

static void binding_print(const struct store_binding *b, void *arg)
{
	const struct reg_list *list = arg;
	char q[8];

	q_format(b->q, q);
	fputs("sip:", list->out);
	put_safe(list->out, b->aor, false);
	fputc(' ', list->out);
	put_safe(list->out, b->contact, false);
	fprintf(list->out, " expires=%" PRId64 " q=%s source=", b->expires_at - list->now_s, q);
	put_safe(list->out, b->source, false);
	if (b->path[0]) {
		fputs(" path=", list->out);
		put_safe(list->out, b->path, false);
	}
	if (b->instance[0]) {
		fputs(" instance=", list->out);
		put_safe(list->out, b->instance, false);
	}
	if (b->reg_id)
		fprintf(list->out, " reg-id=%" PRIu32, b->reg_id);
	if (b->user_agent[0]) {
		fputs(" ua=\"", list->out);
		put_safe(list->out, b->user_agent, true);
		fputc('"', list->out);
	}
	fputc('\n', list->out);
}

static int reg_list(struct cli *cli)
{
	struct reg_list list = { cli->out, (int64_t)time(NULL) };
	struct store *store;
	int err, rc;

	rc = db_open(cli, &store);
	if (rc != CLI_OK)
		return rc;
	err = store_binding_each(store, list.now_s, binding_print, &list);
	store_close(store);
	if (err)
		return fail(cli, CLI_FAIL, "cannot list bindings: %s", store_why(cli, err));
	return CLI_OK;
}

/* ---- help ------------------------------------------------------------- */

static void print_options(FILE *out, bool password)
{
	if (password)
		fputs("      --password PW      the password: 1 to 128 printable ASCII characters,\n"
		      "                         no leading or trailing space\n",
		      out);
	fputs("      --db URL           sqlite:PATH (default: server.db of the config,\n"
	      "                         sqlite:sipd.db); created when absent\n"
	      "  -c, --config FILE      the server's INI file; flags win over it\n"
	      "  -d, --domain NAME      served domain; repeatable; the first is the domain\n"
	      "                         of a USER without @DOMAIN (default: the config's,\n"
	      "                         else this host's name)\n"
	      "  -h, --help             print this help and exit\n"
	      "\n"
	      "Exit status: 0 success; 2 usage error or bad input; 1 runtime failure\n"
	      "(database, user exists on add, no such user on del).\n",
	      out);
}

static void usage_line(FILE *out, const struct command *command)
{
	fprintf(out, "sipd %s %s%s%s%s [options]\n", command->group, command->name,
		command->operands ? " " : "", command->operands ? command->operands : "",
		command->takes_password ? " [--password PW]" : "");
}

static void print_group_help(FILE *out, const char *group)
{
	bool password = false;

	fprintf(out, "usage: sipd %s COMMAND [options]\n\ncommands:\n", group);
	for (size_t i = 0; i < COMMAND_TOTAL; i++) {
		if (strcmp(commands[i].group, group) != 0)
			continue;
		fputs("  ", out);
		usage_line(out, &commands[i]);
		fprintf(out, "      %s\n", commands[i].summary);
		password = password || commands[i].takes_password;
	}
	fprintf(out, "\n'sipd %s COMMAND --help' tells more.\n\noptions:\n", group);
	print_options(out, password);
}

static void print_command_help(FILE *out, const struct command *command)
{
	fputs("usage: ", out);
	usage_line(out, command);
	fprintf(out, "\n%s\noptions:\n", command->help);
	print_options(out, command->takes_password);
}

/* "add, del, list or import" for group. */
static void command_names(const char *group, char *out, size_t size)
{
	size_t total = 0, seen = 0, used = 0;

	for (size_t i = 0; i < COMMAND_TOTAL; i++)
		total += strcmp(commands[i].group, group) == 0;
	out[0] = '\0';
	for (size_t i = 0; i < COMMAND_TOTAL && used < size; i++) {
		if (strcmp(commands[i].group, group) != 0)
			continue;
		seen++;
		int w = snprintf(out + used, size - used, "%s%s",
				 seen == 1 ? "" : seen == total ? " or " : ", ", commands[i].name);
		if (w < 0 || (size_t)w >= size - used)
			break; /* cut: used stays below size */
		used += (size_t)w;
	}
}

static const struct command *command_find(const char *group, const char *name)
{
	for (size_t i = 0; i < COMMAND_TOTAL; i++)
		if (strcmp(commands[i].group, group) == 0 && strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* ---- the command line ------------------------------------------------- */

enum {
	OPT_DB = 256,
	OPT_PASSWORD,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "domain", required_argument, NULL, 'd' },
	{ "db", required_argument, NULL, OPT_DB },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The leading ':' makes a missing value return ':' rather than '?'. */
static const char short_options[] = ":c:d:h";

struct flag {
	int opt; /* 'd' or OPT_DB, in command-line order */
	const char *arg;
};

/* The option getopt_long just refused (as config.c's refused_option). */
static void refused_option(char **argv, int argc, char *out, size_t size)
{
	if (optopt > 0 && optopt < 256 && !strchr(&short_options[1], optopt))
		snprintf(out, size, "-%c", optopt);
	else if (optind >= 1 && optind <= argc)
		snprintf(out, size, "%s", argv[optind - 1]);
	else
		snprintf(out, size, "?");
}

/* Defaults, the -c file, then the flags: as the server builds its config. */
static int config_build(struct cli *cli, const char *config_path, const struct flag *flags,
			size_t flag_count)
{
	char why[CLI_ERR_MAX];
	bool domain_given = false;

	config_defaults(&cli->cfg);
	if (config_path && config_load_file(&cli->cfg, config_path, why, sizeof(why)) != 0)
		return fail(cli, CLI_USAGE, "%s", why);
	for (size_t i = 0; i < flag_count; i++) {
		const char *key = flags[i].opt == 'd' ? "domain" : "db";
		if (flags[i].opt == 'd' && !domain_given) {
			cli->cfg.domain_count = 0; /* the first -d replaces the file's list */
			domain_given = true;
		}
		if (config_set(&cli->cfg, "server", key, flags[i].arg, why, sizeof(why)) != 0)
			return fail(cli, CLI_USAGE, "%s", why);
	}
	if (config_validate(&cli->cfg, why, sizeof(why)) != 0)
		return fail(cli, CLI_USAGE, "%s", why);
	config_default_domain(&cli->cfg, cli->default_domain, sizeof(cli->default_domain));
	return CLI_OK;
}

static int cli_run(struct cli *cli, int argc, char **argv)
{
	const char *group = argv[1], *config_path = NULL;
	struct flag *flags;
	size_t flag_count = 0;
	char **words, option[64], names[64];
	int opt, word_count, rc = CLI_OK;
	bool help = false;

	/* argv[1] (the group) plays argv[0] for getopt. */
	argc--;
	argv++;
	flags = calloc((size_t)argc, sizeof(*flags));
	if (!flags)
		return fail(cli, CLI_FAIL, "out of memory");
	optind = 0; /* glibc: start over, as if never called */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			help = true;
			break;
		case 'c':
			if (config_path) {
				rc = fail(cli, CLI_USAGE, "--config given twice");
				goto out;
			}
			config_path = optarg;
			break;
		case 'd':
		case OPT_DB:
			flags[flag_count++] = (struct flag){ opt, optarg };
			break;
		case OPT_PASSWORD:
			if (cli->password) {
				rc = fail(cli, CLI_USAGE, "--password given twice");
				goto out;
			}
			cli->password = optarg;
			break;
		case ':':
			refused_option(argv, argc, option, sizeof(option));
			rc = fail(cli, CLI_USAGE, "missing value for '%s' (try 'sipd %s --help')",
				  option, group);
			goto out;
		default:
			refused_option(argv, argc, option, sizeof(option));
			rc = fail(cli, CLI_USAGE, "unknown option '%s' (try 'sipd %s --help')", option,
				  group);
			goto out;
		}
	}
	words = argv + optind;
	word_count = argc - optind;
	command_names(group, names, sizeof(names));
	if (word_count > 0)
		cli->command = command_find(group, words[0]);
	if (help) {
		if (cli->command)
			print_command_help(cli->out, cli->command);
		else
			print_group_help(cli->out, group);
		goto out;
	}
	if (word_count == 0) {
		rc = fail(cli, CLI_USAGE, "missing command after 'sipd %s' (%s)", group, names);
		goto out;
	}
	if (!cli->command) {
		char shown[CSV_QUOTED_MAX];
		rc = fail(cli, CLI_USAGE, "unknown command 'sipd %s %s' (%s)", group,
			  csv_quoted(view_from_cstr(words[0]), shown), names);
		goto out;
	}
	cli->operands = words + 1;
	cli->operand_count = (size_t)word_count - 1;
	if (cli->command->operands && cli->operand_count == 0) {
		rc = fail(cli, CLI_USAGE, "missing %s for 'sipd %s %s'", cli->command->operands, group,
			  cli->command->name);
		goto out;
	}
	if (cli->operand_count > (cli->command->operands ? 1u : 0u)) {
		char shown[CSV_QUOTED_MAX];
		rc = fail(cli, CLI_USAGE, "unexpected argument '%s' for 'sipd %s %s'",
			  csv_quoted(view_from_cstr(cli->operands[cli->command->operands ? 1 : 0]),
				 shown),
			  group, cli->command->name);
		goto out;
	}
	if (cli->password && !cli->command->takes_password) {
		rc = fail(cli, CLI_USAGE, "--password is only for 'sipd user add'");
		goto out;
	}
	rc = config_build(cli, config_path, flags, flag_count);
	if (rc == CLI_OK)
		rc = cli->command->run(cli);
out:
	free(flags);
	return rc;
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct cli *cli;
	int rc;

	if (argc < 2 || !cli_is_command(argv[1])) {
		fprintf(err, "sipd: expected 'user' or 'reg'\n");
		return CLI_USAGE;
	}
	cli = calloc(1, sizeof(*cli));
	if (!cli) {
		fprintf(err, "sipd: out of memory\n");
		return CLI_FAIL;
	}
	cli->out = out;
	cli->err = err;
	log_set_sink(store_log_sink, cli);
	rc = cli_run(cli, argc, argv);
	log_set_sink(NULL, NULL);
	if ((fflush(out) != 0 || ferror(out)) && rc == CLI_OK) {
		fprintf(err, "sipd: cannot write the output: %s\n", strerror(errno ? errno : EIO));
		rc = CLI_FAIL;
	}
	free(cli);
	return rc;
}

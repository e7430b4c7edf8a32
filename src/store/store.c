/*
 * store.c - the SQLite backend of store.h ("sqlite:PATH").
 *
 * Two connections per store:
 *
 *  - the reading connection (db), opened by store_open and used by the
 *    thread that owns the store: subscriber functions, store_binding_each,
 *    store_data_version. Its statements are cached, so these functions must
 *    not run on two threads at once (the owner serialises them).
 *  - the writer connection (wdb), opened by store_attach and used only by
 *    the writer thread. Binding changes queue an op (a copy of the caller's
 *    struct); the writer takes everything queued, runs it in ONE
 *    transaction (BEGIN IMMEDIATE ... COMMIT: group commit, one fsync for
 *    the whole batch under synchronous=FULL), then moves each op to the
 *    completion list of the loop that queued it (one sink per attached
 *    loop: the worker loops share one writer) and writes that loop's
 *    eventfd; the loop-side handler calls each done(err, arg) in queue
 *    order on the loop's thread.
 *
 * Every connection: WAL journal, synchronous=FULL, busy_timeout 5 s (the
 * server and the CLI share one file), foreign_keys on.
 *
 * Schema: schema_version holds the number of the last migration applied;
 * store_open applies the missing ones in order inside one transaction. To
 * change the schema, append to migrations[], never edit an old entry.
 *
 * store_close drains the queue (every queued write is committed) and joins
 * the writer; completions not yet delivered to the loop at that point are
 * dropped without calling done: the loop is shutting down and the objects
 * behind the args may be gone already.
 *
 * Subscriber import stages rows in a TEMP table (the main database is not
 * locked while rows are parsed and hashed), then copies them over in one
 * short write transaction: all rows or none. A user that already exists is
 * replaced; the same user twice in one import is an error (EEXIST).
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/sys.h"
#include "store/store.h"

#define STORE_BUSY_TIMEOUT_MS 5000

enum store_op_kind { STORE_OP_PUT, STORE_OP_DEL, STORE_OP_DEL_AOR };

struct store_sink;

struct store_op {
	struct store_op *next;
	struct store_sink *sink; /* where done() runs */
	enum store_op_kind kind;
	struct store_binding binding; /* PUT: all; DEL: aor, contact; DEL_AOR: aor */
	store_done_h *done;
	void *arg;
	int err;
};

/* One per attached loop: its completions and the eventfd that wakes it. */
struct store_sink {
	struct store *store;
	struct loop *loop;
	struct loop_io io;
	int event_fd;
	struct store_op *done_head, *done_tail; /* guarded by store->lock */
	bool woken; /* the writer wrote event_fd for this batch */
	bool kick_queued; /* loop thread: a kick is deferred to the end of the turn */
};

/* An op (a binding row is about 5 KB) is a block of mem.h's per-thread
 * lists: a burst of registrations reuses the ops its loop was handed back
 * instead of a malloc and free of 5 KB each. */
static_assert(sizeof(struct store_op) > MEM_BLOCK_MIN && sizeof(struct store_op) <= MEM_BLOCK_MAX,
	      "a store op is one of mem.h's blocks");

static struct store_op *op_alloc(void)
{
	return mem_block_get(sizeof(struct store_op));
}

static void op_free(struct store_op *op)
{
	mem_block_put(op, mem_block_size(sizeof(*op)));
}

struct store {
	sqlite3 *db; /* reading connection; owner thread only */
	sqlite3_stmt *user_insert, *user_replace, *user_del, *user_get, *user_count, *users_rev;
	sqlite3_stmt *import_add;
	char path[1024];

	/* writer; set by the first store_attach */
	bool attached;
	struct store_sink sinks[STORE_MAX_LOOPS];
	unsigned sink_count;
	pthread_t thread;
	sqlite3 *wdb; /* writer thread only */
	sqlite3_stmt *w_put, *w_del, *w_del_aor, *w_begin, *w_commit;

	pthread_mutex_t lock; /* guards queue, stop, done list */
	pthread_cond_t cond;
	struct store_op *queue_head, *queue_tail;
	bool stop;
};

static void kick(void *arg);

static int db_err(sqlite3 *db, const char *what)
{
	log_msg(LOG_ERROR, "store: %s: %s", what, sqlite3_errmsg(db));
	return EIO;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_msg(LOG_ERROR, "store: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return EIO;
	}
	return 0;
}

static int conn_open(const char *path, sqlite3 **out, char *err, size_t err_len)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot open database '%s': %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return EIO;
	}
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	if (exec_sql(db, "PRAGMA journal_mode=WAL") || exec_sql(db, "PRAGMA synchronous=FULL") ||
	    exec_sql(db, "PRAGMA foreign_keys=ON")) {
		snprintf(err, err_len, "cannot set up database '%s': %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return EIO;
	}
	*out = db;
	return 0;
}

/* Append only; never edit an applied migration. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE subscribers (user TEXT NOT NULL, domain TEXT NOT NULL,"
	" ha1_md5 TEXT NOT NULL, ha1_sha256 TEXT NOT NULL, ha1_sha512_256 TEXT NOT NULL,"
	" PRIMARY KEY (user, domain));"
	"CREATE TABLE bindings (aor TEXT NOT NULL, contact TEXT NOT NULL,"
	" path TEXT NOT NULL DEFAULT '', instance TEXT NOT NULL DEFAULT '',"
	" reg_id INTEGER NOT NULL DEFAULT 0, q INTEGER NOT NULL DEFAULT 1000,"
	" expires_at INTEGER NOT NULL, call_id TEXT NOT NULL DEFAULT '',"
	" cseq INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL DEFAULT '',"
	" user_agent TEXT NOT NULL DEFAULT '', PRIMARY KEY (aor, contact));"
	"CREATE INDEX bindings_expires_at ON bindings (expires_at);",
	/* 2: a revision of the subscriber table, bumped by every change from
	 * any process, so the server notices the CLI's changes cheaply. */
	"CREATE TABLE store_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"INSERT INTO store_meta VALUES ('users_rev', 0);"
	"CREATE TRIGGER subscribers_ins AFTER INSERT ON subscribers BEGIN"
	" UPDATE store_meta SET value = value + 1 WHERE key = 'users_rev'; END;"
	"CREATE TRIGGER subscribers_upd AFTER UPDATE ON subscribers BEGIN"
	" UPDATE store_meta SET value = value + 1 WHERE key = 'users_rev'; END;"
	"CREATE TRIGGER subscribers_del AFTER DELETE ON subscribers BEGIN"
	" UPDATE store_meta SET value = value + 1 WHERE key = 'users_rev'; END;",
	/* 3: bindings as one b-tree keyed by (aor, contact): a registration
	 * writes one tree instead of three (rowid table, key index, expiry
	 * index). The start-up sweep of expired rows scans instead. */
	"CREATE TABLE bindings3 (aor TEXT NOT NULL, contact TEXT NOT NULL,"
	" path TEXT NOT NULL DEFAULT '', instance TEXT NOT NULL DEFAULT '',"
	" reg_id INTEGER NOT NULL DEFAULT 0, q INTEGER NOT NULL DEFAULT 1000,"
	" expires_at INTEGER NOT NULL, call_id TEXT NOT NULL DEFAULT '',"
	" cseq INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL DEFAULT '',"
	" user_agent TEXT NOT NULL DEFAULT '', PRIMARY KEY (aor, contact)) WITHOUT ROWID;"
	"INSERT INTO bindings3 SELECT * FROM bindings;"
	"DROP TABLE bindings;"
	"ALTER TABLE bindings3 RENAME TO bindings;",
};
#define MIGRATION_COUNT (sizeof(migrations) / sizeof(migrations[0]))

static int schema_migrate(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int64_t version = 0;
	int err = exec_sql(db, "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = exec_sql(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
	if (err)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
	    SQLITE_OK) {
		err = db_err(db, "schema");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (version > (int64_t)MIGRATION_COUNT) {
		log_msg(LOG_ERROR, "store: schema version %lld is newer than this sipd (%zu)",
			(long long)version, MIGRATION_COUNT);
		err = EIO;
		goto out;
	}
	for (size_t i = (size_t)version; i < MIGRATION_COUNT; i++) {
		char sql[128];
		err = exec_sql(db, migrations[i]);
		if (err)
			goto out;
		snprintf(sql, sizeof(sql), "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%zu)",
			 i + 1);
		err = exec_sql(db, sql);
		if (err)
			goto out;
	}
	err = exec_sql(db, "COMMIT");
out:
	if (err)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return db_err(db, sql);
	return 0;
}

int store_open(struct store **out, const char *url, char *err, size_t err_len)
{
	static const char prefix[] = "sqlite:";
	struct store *s;
	int rc;

	if (!out || !url)
		return EINVAL;
	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0 || url[sizeof(prefix) - 1] == '\0') {
		snprintf(err, err_len, "unsupported database URL '%s'", url);
		return EINVAL;
	}
	if (strlen(url + sizeof(prefix) - 1) >= sizeof(s->path)) {
		snprintf(err, err_len, "database path too long");
		return EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	strcpy(s->path, url + sizeof(prefix) - 1);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	rc = conn_open(s->path, &s->db, err, err_len);
	if (rc)
		goto fail;
	rc = schema_migrate(s->db);
	if (rc) {
		snprintf(err, err_len, "cannot create the schema in '%s': %s", s->path,
			 sqlite3_errmsg(s->db));
		goto fail;
	}
	if ((rc = prep(s->db, "INSERT INTO subscribers VALUES (?1, ?2, ?3, ?4, ?5)", &s->user_insert)) ||
	    (rc = prep(s->db, "INSERT OR REPLACE INTO subscribers VALUES (?1, ?2, ?3, ?4, ?5)",
		       &s->user_replace)) ||
	    (rc = prep(s->db, "DELETE FROM subscribers WHERE user = ?1 AND domain = ?2", &s->user_del)) ||
	    (rc = prep(s->db, "SELECT user, domain, ha1_md5, ha1_sha256, ha1_sha512_256 FROM subscribers"
			      " WHERE user = ?1 AND domain = ?2", &s->user_get)) ||
	    (rc = prep(s->db, "SELECT count(*) FROM subscribers", &s->user_count)) ||
	    (rc = prep(s->db, "SELECT value FROM store_meta WHERE key = 'users_rev'", &s->users_rev))) {
		snprintf(err, err_len, "cannot prepare statements: %s", sqlite3_errmsg(s->db));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

int store_open_again(struct store *s, struct store **out)
{
	char url[sizeof(s->path) + 8], err[256];
	snprintf(url, sizeof(url), "sqlite:%s", s->path);
	return store_open(out, url, err, sizeof(err));
}

static void finalize_all(sqlite3_stmt **sts[], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_finalize(*sts[i]);
		*sts[i] = NULL;
	}
}

static void op_list_free(struct store_op *op)
{
	while (op) {
		struct store_op *next = op->next;
		op_free(op);
		op = next;
	}
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->attached) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		/* Committed, not delivered: dropped (see the file comment). */
		for (unsigned i = 0; i < s->sink_count; i++) {
			struct store_sink *k = &s->sinks[i];
			loop_defer_cancel(k->loop, kick, k);
			loop_io_remove(k->loop, &k->io);
			op_list_free(k->done_head);
			k->done_head = k->done_tail = NULL;
			close(k->event_fd);
		}
		sqlite3_stmt **wsts[] = { &s->w_put, &s->w_del, &s->w_del_aor, &s->w_begin,
					  &s->w_commit };
		finalize_all(wsts, sizeof(wsts) / sizeof(wsts[0]));
		sqlite3_close(s->wdb);
	}
	sqlite3_stmt **sts[] = { &s->user_insert, &s->user_replace, &s->user_del,
				 &s->user_get, &s->user_count, &s->users_rev, &s->import_add };
	finalize_all(sts, sizeof(sts) / sizeof(sts[0]));
	if (s->db) {
		sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
		sqlite3_close(s->db);
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- subscribers ---- */

static bool fits(const char *text, size_t size)
{
	return text && strnlen(text, size) < size;
}

static bool user_valid(const struct store_user *u)
{
	return fits(u->user, sizeof(u->user)) && u->user[0] && fits(u->domain, sizeof(u->domain)) &&
	       u->domain[0] && fits(u->ha1_md5, sizeof(u->ha1_md5)) &&
	       fits(u->ha1_sha256, sizeof(u->ha1_sha256)) &&
	       fits(u->ha1_sha512_256, sizeof(u->ha1_sha512_256));
}

static void bind_user(sqlite3_stmt *st, const struct store_user *u)
{
	sqlite3_bind_text(st, 1, u->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, u->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, u->ha1_md5, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, u->ha1_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, u->ha1_sha512_256, -1, SQLITE_STATIC);
}

/* Steps a write statement once and resets it: 0, EEXIST or EIO. */
static int step_write(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int err = 0;
	if (rc == SQLITE_CONSTRAINT || (rc & 0xff) == SQLITE_CONSTRAINT)
		err = EEXIST;
	else if (rc != SQLITE_DONE)
		err = db_err(db, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

int store_user_put(struct store *s, const struct store_user *u, bool replace)
{
	if (!s || !u || !user_valid(u))
		return EINVAL;
	sqlite3_stmt *st = replace ? s->user_replace : s->user_insert;
	bind_user(st, u);
	return step_write(s->db, st, "user put");
}

int store_user_del(struct store *s, const char *user, const char *domain)
{
	if (!s || !user || !domain)
		return EINVAL;
	sqlite3_bind_text(s->user_del, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->user_del, 2, domain, -1, SQLITE_STATIC);
	int err = step_write(s->db, s->user_del, "user del");
	if (!err && sqlite3_changes(s->db) == 0)
		err = ENOENT;
	return err;
}

static void col_copy(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
	if (n >= size)
		n = size - 1; /* longer than any write accepts: cut */
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

static void row_user(sqlite3_stmt *st, struct store_user *u)
{
	col_copy(st, 0, u->user, sizeof(u->user));
	col_copy(st, 1, u->domain, sizeof(u->domain));
	col_copy(st, 2, u->ha1_md5, sizeof(u->ha1_md5));
	col_copy(st, 3, u->ha1_sha256, sizeof(u->ha1_sha256));
	col_copy(st, 4, u->ha1_sha512_256, sizeof(u->ha1_sha512_256));
}

int store_user_get(struct store *s, const char *user, const char *domain, struct store_user *out)
{
	int err;
	if (!s || !user || !domain || !out)
		return EINVAL;
	sqlite3_bind_text(s->user_get, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->user_get, 2, domain, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s->user_get);
	if (rc == SQLITE_ROW) {
		row_user(s->user_get, out);
		err = 0;
	} else if (rc == SQLITE_DONE) {
		err = ENOENT;
	} else {
		err = db_err(s->db, "user get");
	}
	sqlite3_reset(s->user_get);
	sqlite3_clear_bindings(s->user_get);
	return err;
}

/* Not cached: the callback may call store functions, even each() again. */
static int user_each(struct store *s, const char *sql, store_user_h *cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	struct store_user u;
	int rc, err = 0;
	if (!s || !cb)
		return EINVAL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s->db, "user each");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_user(st, &u);
		cb(&u, arg);
	}
	if (rc != SQLITE_DONE)
		err = db_err(s->db, "user each");
	sqlite3_finalize(st);
	return err;
}

int store_user_each(struct store *s, store_user_h *cb, void *arg)
{
	return user_each(s,
			 "SELECT user, domain, ha1_md5, ha1_sha256, ha1_sha512_256"
			 " FROM subscribers ORDER BY domain, user",
			 cb, arg);
}

int store_user_each_unordered(struct store *s, store_user_h *cb, void *arg)
{
	return user_each(s, "SELECT user, domain, ha1_md5, ha1_sha256, ha1_sha512_256 FROM subscribers",
			 cb, arg);
}

size_t store_user_count(struct store *s)
{
	size_t n = 0;
	if (!s)
		return 0;
	if (sqlite3_step(s->user_count) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(s->user_count, 0);
	sqlite3_reset(s->user_count);
	return n;
}

int store_user_import_begin(struct store *s)
{
	int err;
	if (!s)
		return EINVAL;
	err = exec_sql(s->db, "CREATE TEMP TABLE IF NOT EXISTS import_users (user TEXT NOT NULL,"
			      " domain TEXT NOT NULL, ha1_md5 TEXT NOT NULL, ha1_sha256 TEXT NOT NULL,"
			      " ha1_sha512_256 TEXT NOT NULL, PRIMARY KEY (user, domain))");
	if (!err)
		err = exec_sql(s->db, "DELETE FROM temp.import_users");
	if (!err && !s->import_add)
		err = prep(s->db, "INSERT INTO temp.import_users VALUES (?1, ?2, ?3, ?4, ?5)",
			   &s->import_add);
	/* Only the temp database is written: the main file stays unlocked. */
	if (!err)
		err = exec_sql(s->db, "BEGIN");
	return err;
}

int store_user_import_add(struct store *s, const struct store_user *u)
{
	if (!s || !u || !user_valid(u) || !s->import_add)
		return EINVAL;
	bind_user(s->import_add, u);
	return step_write(s->db, s->import_add, "import");
}

int store_user_import_end(struct store *s, bool commit)
{
	int err = 0;
	if (!s)
		return EINVAL;
	if (!commit) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_exec(s->db, "DELETE FROM temp.import_users", NULL, NULL, NULL);
		return 0;
	}
	err = exec_sql(s->db, "COMMIT");
	if (!err)
		err = exec_sql(s->db, "BEGIN IMMEDIATE");
	if (!err) {
		err = exec_sql(s->db, "INSERT OR REPLACE INTO main.subscribers"
				      " SELECT * FROM temp.import_users");
		if (!err)
			err = exec_sql(s->db, "COMMIT");
		if (err)
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_exec(s->db, "DELETE FROM temp.import_users", NULL, NULL, NULL);
	return err;
}

int store_user_import(struct store *s, const struct store_user *users, size_t count)
{
	int err = store_user_import_begin(s);
	if (err)
		return err;
	for (size_t i = 0; i < count && !err; i++)
		err = store_user_import_add(s, &users[i]);
	if (err) {
		store_user_import_end(s, false);
		return err;
	}
	return store_user_import_end(s, true);
}

uint64_t store_data_version(struct store *s)
{
	sqlite3_stmt *st = NULL;
	uint64_t v = 0;
	if (!s)
		return 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

uint64_t store_users_rev(struct store *s)
{
	uint64_t v = 0;
	if (!s)
		return 0;
	if (sqlite3_step(s->users_rev) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(s->users_rev, 0);
	sqlite3_reset(s->users_rev);
	return v;
}

/* ---- bindings ---- */

static int binding_write(struct store *s, struct store_op *op)
{
	const struct store_binding *b = &op->binding;
	sqlite3_stmt *st;
	switch (op->kind) {
	case STORE_OP_PUT:
		st = s->w_put;
		sqlite3_bind_text(st, 1, b->aor, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, b->contact, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, b->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, b->instance, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, b->reg_id);
		sqlite3_bind_int64(st, 6, b->q);
		sqlite3_bind_int64(st, 7, b->expires_at);
		sqlite3_bind_text(st, 8, b->call_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 9, b->cseq);
		sqlite3_bind_text(st, 10, b->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, b->user_agent, -1, SQLITE_STATIC);
		break;
	case STORE_OP_DEL:
		st = s->w_del;
		sqlite3_bind_text(st, 1, b->aor, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, b->contact, -1, SQLITE_STATIC);
		break;
	default:
		st = s->w_del_aor;
		sqlite3_bind_text(st, 1, b->aor, -1, SQLITE_STATIC);
		break;
	}
	return step_write(s->wdb, st, "binding write");
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	for (;;) {
		struct store_op *batch, *op;
		int err;

		pthread_mutex_lock(&s->lock);
		while (!s->queue_head && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		batch = s->queue_head;
		s->queue_head = s->queue_tail = NULL;
		pthread_mutex_unlock(&s->lock);
		if (!batch)
			break; /* stop, queue drained */

		err = step_write(s->wdb, s->w_begin, "BEGIN");
		for (op = batch; op; op = op->next)
			op->err = err ? err : binding_write(s, op);
		if (!err) {
			err = step_write(s->wdb, s->w_commit, "COMMIT");
			if (err) {
				sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
				for (op = batch; op; op = op->next)
					op->err = err;
			}
		}

		/* each op to the loop that queued it, in queue order */
		pthread_mutex_lock(&s->lock);
		for (op = batch; op;) {
			struct store_op *next = op->next;
			struct store_sink *k = op->sink;
			op->next = NULL;
			if (k->done_tail)
				k->done_tail->next = op;
			else
				k->done_head = op;
			k->done_tail = op;
			k->woken = true;
			op = next;
		}
		pthread_mutex_unlock(&s->lock);
		for (unsigned i = 0; i < s->sink_count; i++) {
			struct store_sink *k = &s->sinks[i];
			uint64_t one = 1;
			if (!k->woken)
				continue;
			k->woken = false;
			if (sys_write(k->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				log_msg(LOG_ERROR, "store: eventfd write: %s", strerror(errno));
		}
	}
	return NULL;
}

/* Loop thread: deliver completions in queue order. */
static void on_completions(struct loop_io *io, uint32_t events, void *arg)
{
	struct store_sink *k = arg;
	struct store_op *list;
	uint64_t n;
	(void)io;
	(void)events;
	if (sys_read(k->event_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_msg(LOG_ERROR, "store: eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&k->store->lock);
	list = k->done_head;
	k->done_head = k->done_tail = NULL;
	pthread_mutex_unlock(&k->store->lock);
	while (list) {
		struct store_op *next = list->next;
		if (list->done)
			list->done(list->err, list->arg);
		op_free(list);
		list = next;
	}
}

/* A sink for loop: its eventfd, watched on loop. 0 or errno. */
static int sink_add(struct store *s, struct loop *loop)
{
	struct store_sink *k = &s->sinks[s->sink_count];
	int err;

	if (s->sink_count >= STORE_MAX_LOOPS)
		return ENOSPC;
	memset(k, 0, sizeof(*k));
	k->store = s;
	k->loop = loop;
	k->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (k->event_fd < 0)
		return errno;
	err = loop_io_add(loop, &k->io, k->event_fd, LOOP_READ, on_completions, k);
	if (err) {
		close(k->event_fd);
		return err;
	}
	s->sink_count++;
	return 0;
}

int store_attach(struct store *s, struct loop *loop)
{
	char err_text[256];
	sigset_t all, old;
	int err;

	if (!s || !loop)
		return EINVAL;
	for (unsigned i = 0; i < s->sink_count; i++)
		if (s->sinks[i].loop == loop)
			return EINVAL;
	if (s->attached)
		return sink_add(s, loop); /* before the loops run: the writer reads sink_count */
	err = conn_open(s->path, &s->wdb, err_text, sizeof(err_text));
	if (err) {
		log_msg(LOG_ERROR, "store: %s", err_text);
		goto fail;
	}
	if ((err = prep(s->wdb, "INSERT OR REPLACE INTO bindings (aor, contact, path, instance,"
				" reg_id, q, expires_at, call_id, cseq, source, user_agent)"
				" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", &s->w_put)) ||
	    (err = prep(s->wdb, "DELETE FROM bindings WHERE aor = ?1 AND contact = ?2", &s->w_del)) ||
	    (err = prep(s->wdb, "DELETE FROM bindings WHERE aor = ?1", &s->w_del_aor)) ||
	    (err = prep(s->wdb, "BEGIN IMMEDIATE", &s->w_begin)) ||
	    (err = prep(s->wdb, "COMMIT", &s->w_commit)))
		goto fail;
	err = sink_add(s, loop);
	if (err)
		goto fail;
	/* The writer takes no signals: they belong to the loops' signalfds. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&s->thread, NULL, writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err)
		(void)pthread_setname_np(s->thread, "sipd-store");
	if (err) {
		s->sink_count = 0;
		loop_io_remove(loop, &s->sinks[0].io);
		close(s->sinks[0].event_fd);
		goto fail;
	}
	s->attached = true;
	return 0;
fail: {
	sqlite3_stmt **wsts[] = { &s->w_put, &s->w_del, &s->w_del_aor, &s->w_begin, &s->w_commit };
	finalize_all(wsts, sizeof(wsts) / sizeof(wsts[0]));
	sqlite3_close(s->wdb);
	s->wdb = NULL;
	return err;
}
}

/* The sink of the calling thread's loop; the first loop's for a thread
 * that runs none (start-up, tests). */
static struct store_sink *sink_of_caller(struct store *s)
{
	struct loop *loop = loop_current();

	for (unsigned i = 1; loop && i < s->sink_count; i++)
		if (s->sinks[i].loop == loop)
			return &s->sinks[i];
	return &s->sinks[0];
}

/* End of a loop turn: wake the writer for everything the turn queued. */
static void kick(void *arg)
{
	struct store_sink *k = arg;

	k->kick_queued = false;
	pthread_mutex_lock(&k->store->lock);
	pthread_cond_signal(&k->store->cond);
	pthread_mutex_unlock(&k->store->lock);
}

/* Writes queued by a loop wake the writer once, at the end of the loop's
 * turn: a burst of datagrams read in one turn is one transaction and one
 * fsync, not one for the first write and one for the rest. A caller that
 * runs no loop wakes it at once. */
static int enqueue(struct store *s, struct store_op *op)
{
	struct store_sink *k = sink_of_caller(s);
	bool now = loop_current() != k->loop;

	op->sink = k;
	pthread_mutex_lock(&s->lock);
	if (s->queue_tail)
		s->queue_tail->next = op;
	else
		s->queue_head = op;
	s->queue_tail = op;
	if (now)
		pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (!now && !k->kick_queued) {
		if (loop_defer(k->loop, kick, k) == 0)
			k->kick_queued = true;
		else
			kick(k);
	}
	return 0;
}

static bool binding_valid(const struct store_binding *b)
{
	return fits(b->aor, sizeof(b->aor)) && b->aor[0] && fits(b->contact, sizeof(b->contact)) &&
	       b->contact[0] && fits(b->path, sizeof(b->path)) &&
	       fits(b->instance, sizeof(b->instance)) && fits(b->call_id, sizeof(b->call_id)) &&
	       fits(b->source, sizeof(b->source)) && fits(b->user_agent, sizeof(b->user_agent));
}

int store_binding_put(struct store *s, const struct store_binding *b, store_done_h *done, void *arg)
{
	struct store_binding *own;
	if (!s || !b || !s->attached || !binding_valid(b))
		return EINVAL;
	own = store_binding_new();
	if (!own)
		return ENOMEM;
	*own = *b;
	return store_binding_queue(s, own, done, arg);
}

/* The binding of a put lives in its op: filled in place, queued without a
 * copy (a row is about 5 KB). */
struct store_binding *store_binding_new(void)
{
	struct store_op *op = op_alloc();

	if (!op)
		return NULL;
	op->kind = STORE_OP_PUT;
	return &op->binding;
}

int store_binding_queue(struct store *s, struct store_binding *b, store_done_h *done, void *arg)
{
	struct store_op *op = (struct store_op *)(void *)((char *)b - offsetof(struct store_op, binding));

	if (!s || !s->attached || !binding_valid(b)) {
		op_free(op);
		return EINVAL;
	}
	op->next = NULL;
	op->done = done;
	op->arg = arg;
	op->err = 0;
	return enqueue(s, op);
}

static int enqueue_del(struct store *s, enum store_op_kind kind, const char *aor,
		       const char *contact, store_done_h *done, void *arg)
{
	struct store_op *op;
	if (!s || !aor || !s->attached || !fits(aor, STORE_AOR_MAX) ||
	    (contact && !fits(contact, STORE_URI_MAX)))
		return EINVAL;
	op = op_alloc();
	if (!op)
		return ENOMEM;
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	strcpy(op->binding.aor, aor);
	if (contact)
		strcpy(op->binding.contact, contact);
	op->done = done;
	op->arg = arg;
	return enqueue(s, op);
}

/* Deleting a binding that is not there is not an error (err 0). */
int store_binding_del(struct store *s, const char *aor, const char *contact, store_done_h *done,
		      void *arg)
{
	if (!contact)
		return EINVAL;
	return enqueue_del(s, STORE_OP_DEL, aor, contact, done, arg);
}

int store_binding_del_aor(struct store *s, const char *aor, store_done_h *done, void *arg)
{
	return enqueue_del(s, STORE_OP_DEL_AOR, aor, NULL, done, arg);
}

size_t store_binding_count(struct store *s)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	if (!s || sqlite3_prepare_v2(s->db, "SELECT count(*) FROM bindings", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int store_binding_each(struct store *s, int64_t now_s, store_binding_h *cb, void *arg)
{
	sqlite3_stmt *st = NULL;
	struct store_binding *b;
	int rc, err = 0;

	if (!s || !cb)
		return EINVAL;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM bindings WHERE expires_at <= ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_err(s->db, "binding expire");
	sqlite3_bind_int64(st, 1, now_s);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(s->db, "binding expire");
	if (sqlite3_prepare_v2(s->db, "SELECT aor, contact, path, instance, reg_id, q, expires_at,"
				      " call_id, cseq, source, user_agent FROM bindings"
				      " ORDER BY aor, contact", -1, &st, NULL) != SQLITE_OK)
		return db_err(s->db, "binding each");
	b = malloc(sizeof(*b));
	if (!b) {
		sqlite3_finalize(st);
		return ENOMEM;
	}
	memset(b, 0, sizeof(*b));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* every field is written (texts NUL-terminated): no clearing of
		 * 5 KB per row */
		col_copy(st, 0, b->aor, sizeof(b->aor));
		col_copy(st, 1, b->contact, sizeof(b->contact));
		col_copy(st, 2, b->path, sizeof(b->path));
		col_copy(st, 3, b->instance, sizeof(b->instance));
		b->reg_id = (uint32_t)sqlite3_column_int64(st, 4);
		b->q = (uint16_t)sqlite3_column_int64(st, 5);
		b->expires_at = sqlite3_column_int64(st, 6);
		col_copy(st, 7, b->call_id, sizeof(b->call_id));
		b->cseq = (uint32_t)sqlite3_column_int64(st, 8);
		col_copy(st, 9, b->source, sizeof(b->source));
		col_copy(st, 10, b->user_agent, sizeof(b->user_agent));
		cb(b, arg);
	}
	if (rc != SQLITE_DONE)
		err = db_err(s->db, "binding each");
	free(b);
	sqlite3_finalize(st);
	return err;
}

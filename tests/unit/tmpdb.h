/*
 * tmpdb.h - a temporary SQLite database file for the store and location
 * unit tests: db_setup names a fresh path (and its sqlite: URL), db_teardown
 * removes the file and its WAL and shared-memory companions. cmocka
 * setup/teardown functions; header-only, one test program each.
 */
#ifndef SIPD_TESTS_TMPDB_H
#define SIPD_TESTS_TMPDB_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char db_path[64];
static char db_url[80];

static int db_setup(void **state)
{
	(void)state;
	snprintf(db_path, sizeof(db_path), "/tmp/sipd-test-db-XXXXXX");
	int fd = mkstemp(db_path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(db_path);
	snprintf(db_url, sizeof(db_url), "sqlite:%s", db_path);
	return 0;
}

static int db_teardown(void **state)
{
	char p[96];
	(void)state;
	unlink(db_path);
	snprintf(p, sizeof(p), "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db_path);
	unlink(p);
	return 0;
}

#endif

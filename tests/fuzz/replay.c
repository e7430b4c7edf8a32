/*
 * replay.c - a main() for a fuzz harness built without libFuzzer.
 *
 *   replay_msg PATH...
 *
 * Calls LLVMFuzzerTestOneInput() once per file: each PATH is a file or a
 * directory walked recursively (entries in name order, dot files skipped).
 * Prints "replay: N inputs" and returns 0; returns 1 when a path cannot be
 * read or none is given. A broken property aborts inside the harness, so
 * under ASan+UBSan this turns the corpus into a regression test.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read the whole file into a malloc'd buffer of exactly its size (at least
 * one byte, so an empty input still has a valid pointer). */
static int file_read(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	size_t len = 0;
	struct stat st;
	int rc = 0;

	if (f == NULL)
		return errno;
	if (fstat(fileno(f), &st) != 0) {
		rc = errno;
		goto out;
	}
	len = (size_t)st.st_size;
	p = malloc(len ? len : 1);
	if (p == NULL) {
		rc = ENOMEM;
		goto out;
	}
	if (len > 0 && fread(p, 1, len, f) != len) {
		rc = EIO;
		goto out;
	}
	*data = p;
	*size = len;
	p = NULL;
out:
	free(p);
	fclose(f);
	return rc;
}

/* Print why path failed; returns rc. */
static int report(const char *path, int rc)
{
	fprintf(stderr, "replay: %s: %s\n", path, strerror(rc));
	return rc;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_path(const char *path, unsigned long *count);

static int replay_dir(const char *path, unsigned long *count)
{
	DIR *dir = opendir(path);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int rc = 0;

	if (dir == NULL)
		return report(path, errno);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t new_cap = cap ? 2 * cap : 64;
			char **grown = realloc(names, new_cap * sizeof(*names));
			if (grown == NULL) {
				rc = report(path, ENOMEM);
				goto out;
			}
			names = grown;
			cap = new_cap;
		}
		size_t len = strlen(path) + 1 + strlen(de->d_name) + 1;
		names[n] = malloc(len);
		if (names[n] == NULL) {
			rc = report(path, ENOMEM);
			goto out;
		}
		snprintf(names[n], len, "%s/%s", path, de->d_name);
		n++;
	}
	qsort(names, n, sizeof(*names), entry_cmp);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = replay_path(names[i], count);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return rc;
}

static int replay_path(const char *path, unsigned long *count)
{
	struct stat st;
	uint8_t *data = NULL;
	size_t size = 0;
	int rc;

	if (stat(path, &st) != 0) {
		rc = errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode))
		return replay_dir(path, count); /* reports its own errors */
	rc = file_read(path, &data, &size);
	if (rc != 0)
		goto out;
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	(*count)++;
out:
	return rc != 0 ? report(path, rc) : 0;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (replay_path(argv[i], &count) != 0)
			return 1;
	}
	printf("replay: %lu inputs\n", count);
	return 0;
}

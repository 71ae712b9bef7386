/* The API-key store's file: reading it (refusing one that group or others
 * may read, since its hashes are keyed by the hash key beside them), and
 * replacing it atomically (see keystore.h). Blocking I/O: the master only,
 * and gatewayd -t. */
#include "auth/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* The whole of <fd> (a regular file of at most KEYSTORE_MAX_FILE bytes). */
static int read_all(int fd, char **out, size_t *len)
{
	struct stat st;
	size_t n = 0;
	char *buf;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	if (st.st_mode & 077)
		return -EPERM;
	if (st.st_size > (off_t)KEYSTORE_MAX_FILE)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int err = r < 0 ? -errno : -EIO;

			free(buf);
			return err;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int keystore_load(const char *path, keystore_report_fn *report, void *arg,
		  struct keystore **out, bool *created)
{
	char *text = NULL;
	size_t len = 0;
	int fd, ret;

	*created = false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		*created = true;
		return keystore_new(out);
	}
	if (fd < 0)
		return -errno;
	ret = read_all(fd, &text, &len);
	close(fd);
	if (ret)
		return ret;
	ret = keystore_parse(text, len, report, arg, out);
	free(text);
	return ret;
}

int keystore_format(const struct keystore *ks, char **text, size_t *len)
{
	char hex[APIKEYS_HASH_BYTES * 2 + 1];
	FILE *f;

	*text = NULL;
	f = open_memstream(text, len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# gatewayd API keys: consumers and keyed hashes of their keys, never the keys.\n"
		   "# Managed by gatewayctl keys add/list/revoke; keep it mode 0600.\n"
		   "# key ID CONSUMER STATE CREATED HASH [SCOPE ...]\n"
		   "gatewayd-apikeys 1\n");
	sodium_bin2hex(hex, sizeof(hex), ks->hkey, APIKEYS_HKEY_BYTES);
	fprintf(f, "hash-key %s\nnext-id %" PRIu32 "\n", hex, ks->next_id);
	sodium_memzero(hex, sizeof(hex));
	for (size_t i = 0; i < ks->n; i++) {
		const struct keystore_entry *e = &ks->entries[i];

		sodium_bin2hex(hex, sizeof(hex), e->hash, sizeof(e->hash));
		fprintf(f, "key %" PRIu32 " %s %s %" PRIu64 " %s%s%s\n", e->id, e->consumer,
			e->revoked ? "revoked" : "live", e->created_s, hex, e->scopes[0] ? " " : "",
			e->scopes);
	}
	if (ferror(f) || fclose(f) != 0) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding <path>, so the rename itself is durable. */
static int sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, ret = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

int keystore_save(const struct keystore *ks, const char *path)
{
	char *text = NULL, *tmp = NULL;
	size_t len = 0;
	int fd, ret;

	ret = keystore_format(ks, &text, &len);
	if (ret)
		return ret;
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		ret = -ENOMEM;
		tmp = NULL;
		goto err_text;
	}
	fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0) {
		ret = -errno;
		goto err_tmp;
	}
	ret = write_all(fd, text, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		goto err_tmp;
	}
	ret = sync_dir(path);
err_tmp:
	free(tmp);
err_text:
	sodium_memzero(text, len);
	free(text);
	return ret;
}

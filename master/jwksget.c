/* The HTTPS GET of a key set, with libcurl's easy interface. Runs only in
 * the fetcher child (master/jwksfetch.c), where blocking is fine: the
 * child has nothing else to do and an alarm bounds it. */
#include "master/jwksfetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct sink {
	char *buf;
	size_t len, cap;
	bool over;
};

static size_t sink_write(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n;

	if (add > s->cap - s->len) {
		s->over = true;
		return 0;	/* makes curl fail with CURLE_WRITE_ERROR */
	}
	memcpy(s->buf + s->len, data, add);
	s->len += add;
	return add;
}

static void get_setopts(CURL *c, const char *url, const char *ca, uint64_t timeout_ms,
			size_t cap, struct sink *s, char *cerr)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* https only, also after a redirect; verification stays on. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "gatewayd-jwks");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
}

int mjwks_get(const char *url, const char *ca, uint64_t timeout_ms, size_t cap, char **out,
	      size_t *len, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	struct sink s = { .cap = cap };
	CURLcode rc;
	CURL *c;
	int ret = -EIO;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init() failed");
		return -EIO;
	}
	s.buf = malloc(cap ? cap : 1);
	c = curl_easy_init();
	if (!s.buf || !c) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	get_setopts(c, url, ca, timeout_ms, cap, &s, cerr);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		*out = s.buf;
		*len = s.len;
		s.buf = NULL;
		ret = 0;
	} else if (s.over || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen, "larger than %zu bytes", cap);
		ret = -EFBIG;
	} else {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
out:
	curl_easy_cleanup(c);
	free(s.buf);
	curl_global_cleanup();
	return ret;
}

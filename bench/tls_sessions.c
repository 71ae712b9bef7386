/* wrk-tls-sessions.so: an LD_PRELOAD shim that lets bench/compare choose
 * whether wrk resumes TLS sessions, and proves which it did.
 *
 *   GW_TLS_RESUME=0        every new connection does a full handshake
 *   GW_TLS_RESUME=1        (or unset) wrk's own behaviour: it resumes
 *   GW_TLS_COUNT=FILE      at exit, write "full N resumed M v1.2 A v1.3 B"
 *                          to FILE: the handshakes, and their versions
 *   GW_TLS_MAX=1.2         offer TLS 1.2 at most (default: 1.3)
 *
 * Why a shim: gwbench has no TLS, and neither wrk nor h2load has an option
 * to turn resumption off. wrk keeps one SSL object per connection slot;
 * when a connection closes (a "Connection: close" request) it calls
 * SSL_shutdown() and SSL_clear(), and SSL_clear() keeps the session, so
 * the next connect offers it (a ticket, or a TLS 1.2 session id) and the
 * server resumes. Wrapping SSL_clear() is the one place per connection
 * where the session can be dropped (SSL_set_session(ssl, NULL)) before the
 * next handshake and where the finished one can be counted
 * (SSL_session_reused()). Connections still open when wrk exits (all of
 * them with keep-alive) are not counted. SSL_new() is wrapped for the
 * version cap: wrk makes one SSL per connection slot at start.
 *
 * wrk runs with -t 1 here, but its threads would share the counters, so
 * they are atomics. */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

static atomic_ulong n_full, n_resumed, n_tls12, n_tls13;

/* The next libssl's definition of a function we wrap. */
static void *real_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn)
		abort();	/* no libssl below us: nothing sensible to do */
	return fn;
}

SSL *SSL_new(SSL_CTX *ctx)
{
	static SSL *(*real_new)(SSL_CTX *);
	const char *max = getenv("GW_TLS_MAX");
	SSL *ssl;

	if (!real_new)
		real_new = (SSL *(*)(SSL_CTX *))real_fn("SSL_new");
	ssl = real_new(ctx);
	if (ssl && max && strcmp(max, "1.2") == 0 &&
	    !SSL_set_max_proto_version(ssl, TLS1_2_VERSION)) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

int SSL_clear(SSL *ssl)
{
	static int (*real_clear)(SSL *);
	const char *resume = getenv("GW_TLS_RESUME");

	if (!real_clear)
		real_clear = (int (*)(SSL *))real_fn("SSL_clear");
	if (SSL_is_init_finished(ssl)) {
		/* Relaxed: independent event counts, read once at exit after
		 * wrk's threads were joined. */
		if (SSL_session_reused(ssl))
			atomic_fetch_add_explicit(&n_resumed, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&n_full, 1, memory_order_relaxed);
		if (SSL_version(ssl) == TLS1_3_VERSION)
			atomic_fetch_add_explicit(&n_tls13, 1, memory_order_relaxed);
		else if (SSL_version(ssl) == TLS1_2_VERSION)
			atomic_fetch_add_explicit(&n_tls12, 1, memory_order_relaxed);
	}
	if (resume && strcmp(resume, "0") == 0)
		SSL_set_session(ssl, NULL);
	return real_clear(ssl);
}

__attribute__((destructor)) static void write_counts(void)
{
	const char *path = getenv("GW_TLS_COUNT");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "full %lu resumed %lu v1.2 %lu v1.3 %lu\n",
		atomic_load_explicit(&n_full, memory_order_relaxed),
		atomic_load_explicit(&n_resumed, memory_order_relaxed),
		atomic_load_explicit(&n_tls12, memory_order_relaxed),
		atomic_load_explicit(&n_tls13, memory_order_relaxed));
	fclose(f);
}

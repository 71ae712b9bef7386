/* Private to tls/: what the context builders share. */
#ifndef GW_TLS_INTERNAL_H
#define GW_TLS_INTERNAL_H

#include <openssl/err.h>

/* The reason of OpenSSL's last queued error, or <fallback>; the queue is
 * cleared, so one failure never colours the next message. */
static inline const char *tls__reason(const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : fallback;
}

#endif

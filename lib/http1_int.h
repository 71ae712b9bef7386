/* Internal to the HTTP/1.1 parser (lib/http1*.c); nothing else includes it.
 *
 * The scanner (http1.c) classifies every byte through one table and records
 * offsets; once a request-target or a whole head is complete, http1_head.c
 * checks the grammar that spans several bytes or fields. The body framer
 * (http1_body.c) reuses the table for trailer fields.
 */
#ifndef GW_LIB_HTTP1_INT_H
#define GW_LIB_HTTP1_INT_H

#include "lib/http1.h"

/* Character classes: one bit each in http__ctab[]. */
#define HTTP__C_TCHAR	0x01	/* token char (RFC 9110 §5.6.2) */
#define HTTP__C_TARGET	0x02	/* pchar or "/", minus "%" (RFC 3986 §3.3) */
#define HTTP__C_VALUE	0x04	/* VCHAR or obs-text: field-vchar (RFC 9110 §5.5) */
#define HTTP__C_WS	0x08	/* SP or HTAB */
#define HTTP__C_HEX	0x10	/* HEXDIG */
#define HTTP__C_DIGIT	0x20	/* DIGIT */
#define HTTP__C_REGNAME	0x40	/* unreserved or sub-delims (RFC 3986 reg-name minus "%") */

extern const uint8_t http__ctab[256];

static inline bool http__is(uint8_t c, uint8_t classes)
{
	return (http__ctab[c] & classes) != 0;
}

/* Value of a HEXDIG <c>; only meaningful when http__is(c, HTTP__C_HEX). */
static inline unsigned http__hexval(uint8_t c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Check the request-target req->target (complete in <buf>) against the
 * method, and fill req->path, req->query and, for the absolute-form and
 * authority-form, req->host. <query> is the offset just after the first
 * "?", or 0 when there is none. Returns 0, or the status to answer with
 * and sets *error. */
int http__target_check(const char *buf, struct http_request *req, uint32_t query,
		       const char **error);

/* Interpret the fields of a complete request head: framing, Host, Expect,
 * Connection and keep-alive. Returns 0, or the status (400, 501) to answer
 * with and sets *error. */
int http__request_fields(const char *buf, struct http_request *req, const char **error);

/* Same for a response head: framing, Connection and keep-alive. Returns 0,
 * or a non-zero status and sets *error (the caller answers 502). */
int http__response_fields(const char *buf, struct http_response *resp, const char **error);

#endif

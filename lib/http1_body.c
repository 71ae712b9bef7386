/* Body framing: which bytes after a head belong to its body (RFC 9112 §6),
 * and the chunked coding (RFC 9112 §7.1).
 *
 * Unlike the head parser, the framer is handed only new bytes and sees each
 * one once, so everything spanning bytes (CR LF, the hex digits of a size)
 * lives in b->state, b->remaining and b->line_len. Chunk data is skipped in
 * bulk; only framing lines and trailers are walked byte by byte.
 *
 * The framer never decodes: the caller forwards the bytes it was told
 * belong to the body, chunked framing included.
 */
#include <string.h>

#include "lib/http1_int.h"

/* A chunk-size line (size and extensions, without CRLF) longer than this is
 * an attack, not a body. */
#define CHUNK_LINE_MAX 4096
#define CHUNK_SIZE_DIGITS 16
#define CHUNK_SIZE_MAX (UINT64_C(1) << 62)

enum body_state {
	B_SIZE = 0,	/* chunk-size HEXDIGs; line_len counts the line so far */
	B_SIZE_BWS,	/* whitespace after the size: only ";" may follow */
	B_EXT,		/* chunk extensions, up to the CR */
	B_SIZE_LF,	/* CR seen at the end of the size line */
	B_DATA,		/* remaining: bytes of chunk data still to come */
	B_DATA_CR,	/* the CRLF after chunk data */
	B_DATA_LF,
	B_TRAILER,	/* start of a trailer field line, or of the final CRLF */
	B_TR_NAME,
	B_TR_VALUE,
	B_TR_LF,
	B_FINAL_LF,
	B_DONE,
	B_ERROR,
};

/* Per-byte verdicts of the framing-line steps. */
#define BYTE_MORE 0
#define BYTE_DONE 1
#define BYTE_ERROR -1

static int body_fail(struct http_body *b, const char *error)
{
	b->state = B_ERROR;
	b->error = error;
	return BYTE_ERROR;
}

void http_body_init(struct http_body *b, enum http_body_mode mode, uint64_t content_length,
		    uint32_t max_trailer)
{
	memset(b, 0, sizeof(*b));
	b->mode = mode;
	b->state = B_SIZE;
	b->remaining = mode == HTTP_BODY_LENGTH ? content_length : 0;
	b->max_trailer = max_trailer;
}

/* A byte of the chunk-size, or the one ending it. b->line_len already
 * counts <c>, and every byte before it in this state was a HEXDIG. */
static int size_byte(struct http_body *b, uint8_t c)
{
	if (http__is(c, HTTP__C_HEX)) {
		if (b->line_len > CHUNK_SIZE_DIGITS)
			return body_fail(b, "chunk size too long");
		if (b->remaining > CHUNK_SIZE_MAX >> 4)
			return body_fail(b, "chunk size too large");
		b->remaining = b->remaining << 4 | http__hexval(c);
		if (b->remaining > CHUNK_SIZE_MAX)
			return body_fail(b, "chunk size too large");
		return BYTE_MORE;
	}
	if (b->line_len == 1)
		return body_fail(b, "invalid chunk size");
	if (c == '\r')
		b->state = B_SIZE_LF;
	else if (c == ';')
		b->state = B_EXT;
	else if (http__is(c, HTTP__C_WS))
		b->state = B_SIZE_BWS;	/* BWS before ";" (RFC 9112 §7.1.1) */
	else
		return body_fail(b, c == '\n' ? "bare LF" : "invalid chunk size");
	return BYTE_MORE;
}

/* chunk = chunk-size [ chunk-ext ] CRLF: extensions are only checked for
 * stray CTLs; we neither use nor rewrite them. */
static int size_line_byte(struct http_body *b, uint8_t c)
{
	if (b->state == B_SIZE_LF) {
		if (c != '\n')
			return body_fail(b, "bare CR");
		b->line_len = 0;
		b->state = b->remaining ? B_DATA : B_TRAILER;
		return BYTE_MORE;
	}
	/* The CR ending a line of exactly CHUNK_LINE_MAX bytes still fits. */
	if (b->line_len == CHUNK_LINE_MAX && c != '\r')
		return body_fail(b, "chunk line too long");
	b->line_len++;
	if (b->state == B_SIZE)
		return size_byte(b, c);
	if (b->state == B_SIZE_BWS && http__is(c, HTTP__C_WS))
		return BYTE_MORE;
	if (b->state == B_SIZE_BWS && c == ';') {
		b->state = B_EXT;
		return BYTE_MORE;
	}
	if (b->state == B_EXT && http__is(c, HTTP__C_VALUE | HTTP__C_WS))
		return BYTE_MORE;
	if (b->state == B_EXT && c == '\r') {
		b->state = B_SIZE_LF;
		return BYTE_MORE;
	}
	return body_fail(b, c == '\n' ? "bare LF" : "invalid chunk extension");
}

/* The CRLF that must follow chunk data: anything else means the sender
 * and we disagree about the chunk size. */
static int data_end_byte(struct http_body *b, uint8_t c)
{
	if (b->state == B_DATA_CR && c == '\r') {
		b->state = B_DATA_LF;
		return BYTE_MORE;
	}
	if (b->state == B_DATA_LF && c == '\n') {
		b->state = B_SIZE;
		return BYTE_MORE;
	}
	return body_fail(b, "bad chunk terminator");
}

static int trailer_start_fail(struct http_body *b, uint8_t c)
{
	if (http__is(c, HTTP__C_WS))
		return body_fail(b, "obs-fold");
	if (c == ':')
		return body_fail(b, "empty field name");
	return body_fail(b, c == '\n' ? "bare LF" : "invalid field name");
}

/* trailer-section = *( field-line CRLF ), then CRLF; field lines follow the
 * same rules as in the head. Only field-line bytes count against
 * max_trailer, so the final CRLF always fits. */
static int trailer_byte(struct http_body *b, uint8_t c)
{
	if ((b->state != B_TRAILER || c != '\r') && b->state != B_FINAL_LF &&
	    ++b->trailer_bytes > b->max_trailer)
		return body_fail(b, "trailer section too large");
	switch (b->state) {
	case B_TRAILER:
		if (c == '\r')
			b->state = B_FINAL_LF;
		else if (http__is(c, HTTP__C_TCHAR))
			b->state = B_TR_NAME;
		else
			return trailer_start_fail(b, c);
		return BYTE_MORE;
	case B_TR_NAME:
		if (c == ':')
			b->state = B_TR_VALUE;
		else if (!http__is(c, HTTP__C_TCHAR))
			return body_fail(b, http__is(c, HTTP__C_WS) ? "whitespace before colon" :
					 "invalid field name");
		return BYTE_MORE;
	case B_TR_VALUE:
		if (c == '\r')
			b->state = B_TR_LF;
		else if (!http__is(c, HTTP__C_VALUE | HTTP__C_WS))
			return body_fail(b, c == '\n' ? "bare LF" : "invalid character in field value");
		return BYTE_MORE;
	case B_TR_LF:
		if (c != '\n')
			return body_fail(b, "bare CR");
		b->state = B_TRAILER;
		return BYTE_MORE;
	default: /* B_FINAL_LF */
		if (c != '\n')
			return body_fail(b, "bare CR");
		b->state = B_DONE;
		return BYTE_DONE;
	}
}

static int chunk_byte(struct http_body *b, uint8_t c)
{
	if (b->state <= B_SIZE_LF)
		return size_line_byte(b, c);
	if (b->state <= B_DATA_LF)
		return data_end_byte(b, c);
	return trailer_byte(b, c);
}

static enum http_result chunked_feed(struct http_body *b, const uint8_t *s, size_t len,
				     size_t *consumed)
{
	size_t i = 0, n;
	int rc = BYTE_MORE;

	while (i < len && rc == BYTE_MORE) {
		if (b->state != B_DATA) {
			rc = chunk_byte(b, s[i++]);
			continue;
		}
		n = len - i < b->remaining ? len - i : b->remaining;
		i += n;
		b->remaining -= n;
		b->total += n;
		if (!b->remaining)
			b->state = B_DATA_CR;
	}
	if (rc == BYTE_ERROR) {
		*consumed = i - 1;
		return HTTP_ERROR;
	}
	*consumed = i;
	return rc == BYTE_DONE ? HTTP_DONE : HTTP_AGAIN;
}

static enum http_result length_feed(struct http_body *b, size_t len, size_t *consumed)
{
	uint64_t n = len < b->remaining ? len : b->remaining;

	b->remaining -= n;
	b->total += n;
	*consumed = n;
	if (b->remaining)
		return HTTP_AGAIN;
	b->state = B_DONE;
	return HTTP_DONE;
}

enum http_result http_body_feed(struct http_body *b, const char *buf, size_t len,
				size_t *consumed)
{
	*consumed = 0;
	if (b->state == B_DONE)
		return HTTP_DONE;
	if (b->state == B_ERROR)
		return HTTP_ERROR;
	switch (b->mode) {
	case HTTP_BODY_NONE:
		b->state = B_DONE;
		return HTTP_DONE;
	case HTTP_BODY_LENGTH:
		return length_feed(b, len, consumed);
	case HTTP_BODY_CHUNKED:
		return chunked_feed(b, (const uint8_t *)buf, len, consumed);
	case HTTP_BODY_UNTIL_CLOSE:
		b->total += len;
		*consumed = len;
		return HTTP_AGAIN;
	}
	b->error = "invalid body mode";
	b->state = B_ERROR;
	return HTTP_ERROR;
}

uint64_t http_body_chunk_left(const struct http_body *b)
{
	return b->mode == HTTP_BODY_CHUNKED && b->state == B_DATA ? b->remaining : 0;
}

enum http_body_mode http_request_body_mode(const struct http_request *req)
{
	if (req->h.chunked)
		return HTTP_BODY_CHUNKED;
	return req->h.content_length > 0 ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
}

/* RFC 9112 §6.3, in its order: HEAD, 1xx, 204 and 304 have no body, nor
 * does a successful CONNECT (the connection becomes a tunnel); then
 * chunked, Content-Length, and otherwise the body runs until close. */
enum http_body_mode http_response_body_mode(const struct http_response *resp,
					    enum http_method request_method)
{
	unsigned st = resp->status;

	if (request_method == HTTP_M_HEAD || st < 200 || st == 204 || st == 304)
		return HTTP_BODY_NONE;
	if (request_method == HTTP_M_CONNECT && st < 300)
		return HTTP_BODY_NONE;
	if (resp->h.chunked)
		return HTTP_BODY_CHUNKED;
	if (resp->h.content_length >= 0)
		return HTTP_BODY_LENGTH;
	return HTTP_BODY_UNTIL_CLOSE;
}

/* Lookups on parsed messages: field names, methods, reason phrases and the
 * hop-by-hop list. Names are compared by length first, so a miss costs one
 * switch and no byte comparison most of the time.
 */
#include <string.h>

#include "lib/http1_int.h"

static inline uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

bool http_span_ieq(const char *buf, struct http_span s, const char *lower)
{
	const uint8_t *p = (const uint8_t *)buf + s.off;
	uint32_t i;

	for (i = 0; i < s.len; i++)
		if (!lower[i] || ascii_lower(p[i]) != (uint8_t)lower[i])
			return false;
	return lower[i] == '\0';
}

int http_field_find(const char *buf, const struct http_head_common *h, const char *lower_name)
{
	uint32_t len = strlen(lower_name);
	int i;

	for (i = 0; i < h->n_fields; i++)
		if (h->fields[i].name.len == len && http_span_ieq(buf, h->fields[i].name, lower_name))
			return i;
	return -1;
}

enum http_method http_method_lookup(const char *name, size_t len)
{
	switch (len) {
	case 3:
		if (!memcmp(name, "GET", 3))
			return HTTP_M_GET;
		return !memcmp(name, "PUT", 3) ? HTTP_M_PUT : HTTP_M_OTHER;
	case 4:
		if (!memcmp(name, "POST", 4))
			return HTTP_M_POST;
		return !memcmp(name, "HEAD", 4) ? HTTP_M_HEAD : HTTP_M_OTHER;
	case 5:
		if (!memcmp(name, "PATCH", 5))
			return HTTP_M_PATCH;
		return !memcmp(name, "TRACE", 5) ? HTTP_M_TRACE : HTTP_M_OTHER;
	case 6:
		return !memcmp(name, "DELETE", 6) ? HTTP_M_DELETE : HTTP_M_OTHER;
	case 7:
		if (!memcmp(name, "OPTIONS", 7))
			return HTTP_M_OPTIONS;
		return !memcmp(name, "CONNECT", 7) ? HTTP_M_CONNECT : HTTP_M_OTHER;
	default:
		return HTTP_M_OTHER;
	}
}

bool http_is_hop_by_hop(const char *buf, struct http_span name)
{
	switch (name.len) {
	case 2:
		return http_span_ieq(buf, name, "te");
	case 7:
		return http_span_ieq(buf, name, "upgrade") || http_span_ieq(buf, name, "trailer");
	case 10:
		return http_span_ieq(buf, name, "connection") ||
		       http_span_ieq(buf, name, "keep-alive");
	case 16:
		return http_span_ieq(buf, name, "proxy-connection");
	case 17:
		return http_span_ieq(buf, name, "transfer-encoding");
	case 18:
		return http_span_ieq(buf, name, "proxy-authenticate");
	case 19:
		return http_span_ieq(buf, name, "proxy-authorization");
	default:
		return false;
	}
}

static const char *reason_1xx_2xx(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	default: return "Unknown";
	}
}

static const char *reason_3xx(unsigned status)
{
	switch (status) {
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	default: return "Unknown";
	}
}

static const char *reason_4xx(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	default: return "Unknown";
	}
}

static const char *reason_5xx(unsigned status)
{
	switch (status) {
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 510: return "Not Extended";
	case 511: return "Network Authentication Required";
	default: return "Unknown";
	}
}

const char *http_status_reason(unsigned status)
{
	switch (status / 100) {
	case 1:
	case 2:
		return reason_1xx_2xx(status);
	case 3:
		return reason_3xx(status);
	case 4:
		return reason_4xx(status);
	case 5:
		return reason_5xx(status);
	default:
		return "Unknown";
	}
}

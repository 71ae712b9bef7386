/* gwbench's option parser (see args.h for the contract).
 *
 * A table of options and one loop, rather than getopt_long(): getopt keeps
 * its state in globals and prints its own messages, and the unit test wants
 * to call this many times and read every message. Accepted spellings:
 * "-c 10", "-c10", "--connections 10", "--connections=10"; "--" ends the
 * options. Numbers are checked for range here so that every usage error is
 * reported before anything starts. */
#include "bench/gwbench/args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGS_DEFAULT_CONNS	10
#define ARGS_DEFAULT_DURATION	(10 * UINT64_C(1000000000))
#define ARGS_DEFAULT_TIMEOUT	(2 * UINT64_C(1000000000))	/* as wrk */
#define ARGS_MAX_NS		(366 * 86400 * UINT64_C(1000000000))

const char args_usage[] =
	"usage: gwbench [options] URL [URL...]\n"
	"  -c, --connections N   connections, split across threads (default 10)\n"
	"  -d, --duration D      run time, e.g. 10s, 500ms, 2m (default 10s)\n"
	"  -n, --requests N      stop after N requests instead of a duration\n"
	"  -t, --threads N       threads, each pinned to a CPU, own io_uring (default 1)\n"
	"  -R, --rate R          open loop: R requests/s in total, latency measured\n"
	"                        from each request's scheduled time\n"
	"  -H, --header 'K: V'   add a request header (repeatable)\n"
	"  -m, --method M        request method (default GET)\n"
	"      --body STRING     request body\n"
	"      --body-file FILE  request body read from FILE\n"
	"      --pipeline N      requests outstanding per connection (default 1)\n"
	"      --timeout D       per request and per connect (default 2s)\n"
	"      --no-keepalive    a new connection per request\n"
	"      --warmup D        run D first without counting anything\n"
	"      --urls FILE       more URLs, one per line, used in rotation\n"
	"      --json            print one JSON object on stdout\n"
	"      --max-errors N    exit 1 when more than N errors\n"
	"  -h, --help            this text\n"
	"URLs are http:// with the same host:port; IPv4, [IPv6] or a host name.\n";

enum opt_id {
	O_CONNS, O_DURATION, O_REQUESTS, O_THREADS, O_RATE, O_HEADER, O_METHOD,
	O_BODY, O_BODY_FILE, O_PIPELINE, O_TIMEOUT, O_NO_KEEPALIVE, O_WARMUP,
	O_URLS, O_JSON, O_MAX_ERRORS, O_HELP,
};

struct opt {
	char short_name;	/* 0: long form only */
	const char *long_name;
	bool has_arg;
	enum opt_id id;
};

static const struct opt opts[] = {
	{ 'c', "connections", true, O_CONNS },
	{ 'd', "duration", true, O_DURATION },
	{ 'n', "requests", true, O_REQUESTS },
	{ 't', "threads", true, O_THREADS },
	{ 'R', "rate", true, O_RATE },
	{ 'H', "header", true, O_HEADER },
	{ 'm', "method", true, O_METHOD },
	{ 0, "body", true, O_BODY },
	{ 0, "body-file", true, O_BODY_FILE },
	{ 0, "pipeline", true, O_PIPELINE },
	{ 0, "timeout", true, O_TIMEOUT },
	{ 0, "no-keepalive", false, O_NO_KEEPALIVE },
	{ 0, "warmup", true, O_WARMUP },
	{ 0, "urls", true, O_URLS },
	{ 0, "json", false, O_JSON },
	{ 0, "max-errors", true, O_MAX_ERRORS },
	{ 'h', "help", false, O_HELP },
};

/* Parse state shared by the helpers below. */
struct args_ctx {
	struct gwb_args *a;
	char *err;
	size_t err_len;
	bool has_duration;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct args_ctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->err, x->err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* [digits][.digits] at *s into *v; advances *s. False when no digit. */
static bool parse_decimal(const char **s, double *v)
{
	const char *p = *s;
	double x = 0, scale = 1;
	bool any = false;

	for (; *p >= '0' && *p <= '9'; p++, any = true)
		x = x * 10 + (*p - '0');
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, any = true) {
			scale /= 10;
			x += (*p - '0') * scale;
		}
	}
	if (!any)
		return false;
	*s = p;
	*v = x;
	return true;
}

int args_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "", 1e9 }, { "s", 1e9 }, { "ms", 1e6 }, { "us", 1e3 },
		{ "m", 60e9 }, { "h", 3600e9 },
	};
	double v;

	if (!parse_decimal(&s, &v))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s, units[i].unit) != 0)
			continue;
		v *= units[i].ns;
		if (v > (double)ARGS_MAX_NS)
			return -EINVAL;
		*ns = (uint64_t)(v + 0.5);
		return 0;
	}
	return -EINVAL;
}

int args_rate(const char *s, double *rate)
{
	double v;

	if (!parse_decimal(&s, &v))
		return -EINVAL;
	if (*s == 'k')
		v *= 1e3, s++;
	else if (*s == 'M')
		v *= 1e6, s++;
	if (strcmp(s, "") != 0 && strcmp(s, "/s") != 0)
		return -EINVAL;
	if (!(v > 0) || v > 1e9)
		return -EINVAL;
	*rate = v;
	return 0;
}

int args_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -EINVAL;
	if (*p == 'k')
		mult = 1000, p++;
	else if (*p == 'M')
		mult = 1000000, p++;
	if (*p || v > UINT64_MAX / mult)
		return -EINVAL;
	v *= mult;
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* RFC 9110 tchar, for methods and header names. */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar(s[i]))
			return false;
	return true;
}

/* "Name: value" with a token name and a value free of CR, LF and NUL. */
static int check_header(struct args_ctx *x, const char *h)
{
	const char *colon = strchr(h, ':');

	if (!colon || !is_token(h, (size_t)(colon - h)))
		return fail(x, "-H '%s': want 'Name: value' with a token name", h);
	if (strpbrk(colon, "\r\n"))
		return fail(x, "-H '%s': CR or LF in a header value", h);
	return 0;
}

static int set_count(struct args_ctx *x, const char *name, const char *v,
		     uint64_t min, uint64_t max, uint64_t *out)
{
	if (args_count(v, min, max, out))
		return fail(x, "%s '%s': want a whole number in %llu..%llu (k and M suffixes allowed)",
			    name, v, (unsigned long long)min, (unsigned long long)max);
	return 0;
}

static int set_duration(struct args_ctx *x, const char *name, const char *v, uint64_t *out)
{
	if (args_duration(v, out))
		return fail(x, "%s '%s': want a duration such as 10s, 500ms, 250us, 2m or 1h",
			    name, v);
	return 0;
}

/* Apply one option with its value <v> (NULL for flags). */
static int apply(struct args_ctx *x, const struct opt *o, const char *v)
{
	struct gwb_args *a = x->a;
	uint64_t n;
	int err;

	switch (o->id) {
	case O_CONNS:
		err = set_count(x, "-c", v, 1, ARGS_MAX_CONNS, &n);
		a->connections = (uint32_t)n;
		return err;
	case O_THREADS:
		err = set_count(x, "-t", v, 1, ARGS_MAX_THREADS, &n);
		a->threads = (uint32_t)n;
		return err;
	case O_PIPELINE:
		err = set_count(x, "--pipeline", v, 1, ARGS_MAX_PIPELINE, &n);
		a->pipeline = (uint32_t)n;
		return err;
	case O_REQUESTS:
		return set_count(x, "-n", v, 1, UINT64_C(1) << 48, &a->requests);
	case O_MAX_ERRORS:
		a->has_max_errors = true;
		return set_count(x, "--max-errors", v, 0, UINT64_MAX, &a->max_errors);
	case O_DURATION:
		x->has_duration = true;
		err = set_duration(x, "-d", v, &a->duration_ns);
		if (!err && !a->duration_ns)
			return fail(x, "-d '%s': the duration must be more than 0", v);
		return err;
	case O_TIMEOUT:
		err = set_duration(x, "--timeout", v, &a->timeout_ns);
		if (!err && a->timeout_ns < 1000000)
			return fail(x, "--timeout '%s': want at least 1ms", v);
		return err;
	case O_WARMUP:
		return set_duration(x, "--warmup", v, &a->warmup_ns);
	case O_RATE:
		if (args_rate(v, &a->rate))
			return fail(x, "-R '%s': want requests per second above 0, e.g. 2000, 1.5k, 2M",
				    v);
		return 0;
	case O_HEADER:
		err = check_header(x, v);
		if (!err)
			a->headers[a->n_headers++] = v;
		return err;
	case O_METHOD:
		if (!is_token(v, strlen(v)))
			return fail(x, "-m '%s': a method is a token such as GET or POST", v);
		a->method = v;
		return 0;
	case O_BODY:
		a->body = v;
		return 0;
	case O_BODY_FILE:
		a->body_file = v;
		return 0;
	case O_URLS:
		a->urls_file = v;
		return 0;
	case O_NO_KEEPALIVE:
		a->keepalive = false;
		return 0;
	case O_JSON:
		a->json = true;
		return 0;
	case O_HELP:
		return ARGS_HELP;
	}
	return fail(x, "internal: option %d has no handler", (int)o->id);
}

static const struct opt *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strlen(opts[i].long_name) == len && memcmp(opts[i].long_name, name, len) == 0)
			return &opts[i];
	return NULL;
}

static const struct opt *find_short(char c)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i].short_name && opts[i].short_name == c)
			return &opts[i];
	return NULL;
}

/* One "--name[=value]" at argv[*i]; may take argv[*i + 1] as the value. */
static int parse_long(struct args_ctx *x, int argc, char *const argv[], int *i)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct opt *o = find_long(name, len);

	if (!o)
		return fail(x, "unknown option '--%.*s'", (int)len, name);
	if (!o->has_arg) {
		if (eq)
			return fail(x, "option '--%s' takes no value", o->long_name);
		return apply(x, o, NULL);
	}
	if (eq)
		return apply(x, o, eq + 1);
	if (*i + 1 >= argc)
		return fail(x, "option '--%s' needs a value", o->long_name);
	return apply(x, o, argv[++*i]);
}

/* One "-x", "-xVALUE" or "-x VALUE" at argv[*i]. */
static int parse_short(struct args_ctx *x, int argc, char *const argv[], int *i)
{
	const char *arg = argv[*i];
	const struct opt *o = find_short(arg[1]);

	if (!o)
		return fail(x, "unknown option '%s'", arg);
	if (!o->has_arg) {
		if (arg[2])
			return fail(x, "option '-%c' takes no value (in '%s')", arg[1], arg);
		return apply(x, o, NULL);
	}
	if (arg[2])
		return apply(x, o, arg + 2);
	if (*i + 1 >= argc)
		return fail(x, "option '-%c' needs a value", arg[1]);
	return apply(x, o, argv[++*i]);
}

/* Rules that involve several options. */
static int check_combination(struct args_ctx *x)
{
	struct gwb_args *a = x->a;

	if (!a->n_urls && !a->urls_file)
		return fail(x, "no URL given");
	if (x->has_duration && a->requests)
		return fail(x, "-d and -n exclude each other: run for a time or for a count");
	if (a->threads > a->connections)
		return fail(x, "-t %u is more than -c %u: every thread needs a connection",
			    a->threads, a->connections);
	if (a->body && a->body_file)
		return fail(x, "--body and --body-file exclude each other");
	if (!a->keepalive && a->pipeline > 1)
		return fail(x, "--pipeline needs keep-alive connections (drop --no-keepalive)");
	if (a->requests)
		a->duration_ns = 0;
	return 0;
}

static void set_defaults(struct gwb_args *a)
{
	memset(a, 0, sizeof(*a));
	a->connections = ARGS_DEFAULT_CONNS;
	a->threads = 1;
	a->pipeline = 1;
	a->duration_ns = ARGS_DEFAULT_DURATION;
	a->timeout_ns = ARGS_DEFAULT_TIMEOUT;
	a->method = "GET";
	a->keepalive = true;
}

int args_parse(struct gwb_args *a, int argc, char *const argv[], char *err, size_t err_len)
{
	struct args_ctx x = { .a = a, .err = err, .err_len = err_len };
	bool only_urls = false;
	int ret = 0;

	set_defaults(a);
	if (err_len)
		err[0] = '\0';
	/* Every -H or URL takes one argv slot at least: argc bounds both. */
	a->headers = calloc((size_t)argc + 1, sizeof(*a->headers));
	a->urls = calloc((size_t)argc + 1, sizeof(*a->urls));
	if (!a->headers || !a->urls) {
		args_free(a);
		return -ENOMEM;
	}
	for (int i = 1; i < argc && !ret; i++) {
		const char *arg = argv[i];

		if (only_urls || arg[0] != '-' || arg[1] == '\0')
			a->urls[a->n_urls++] = arg;
		else if (strcmp(arg, "--") == 0)
			only_urls = true;
		else if (arg[1] == '-')
			ret = parse_long(&x, argc, argv, &i);
		else
			ret = parse_short(&x, argc, argv, &i);
	}
	if (!ret)
		ret = check_combination(&x);
	if (ret < 0)
		args_free(a);
	return ret;
}

void args_free(struct gwb_args *a)
{
	free(a->headers);
	free(a->urls);
	a->headers = NULL;
	a->urls = NULL;
	a->n_headers = 0;
	a->n_urls = 0;
}

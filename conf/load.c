/* The INI driver: reads the file, hands key lines to inih and dispatches
 * each key to its section's table, then validates and orders the result.
 *
 * Why a line reader of our own in front of inih: the system inih is built
 * without INI_HANDLER_LINENO, so its handler never learns the line, and it
 * returns only the first syntax error. Our reader sees every physical line
 * before inih does, so it
 *   - counts lines exactly (inih asks for one line per call; a line longer
 *     than inih's buffer is handed over in pieces and counted once),
 *   - parses section headers itself, so an empty section still has a line
 *     and "[service a]" splits into a type and a name,
 *   - gives inih only key lines, without their leading whitespace (which
 *     also turns off inih's multi-line continuation: indentation means
 *     nothing), and an empty line for everything else,
 *   - notices a key line inih refused (no '=' or ':'), because the handler
 *     was not called for it, and reports it as our own error.
 * inih still does what it is for: splitting "key = value", stripping
 * inline " ;" comments and whitespace around both. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/internal.h"

static const struct conf_section *const load_sections[] = {
	&conf__gateway_section,
	&conf__service_section,
	&conf__route_section,
	&conf__access_section,
	&conf__jwt_section,
	&conf__tls_section,
	&conf__apikeys_section,
};

#define LOAD_STR_(x) #x
#define LOAD_STR(x) LOAD_STR_(x)

static const char load_blank[] = "\n";

static void load_report(struct conf_parser *p, int line, const char *what,
			const char *fmt, va_list ap)
{
	if (!p->diag)
		return;
	fprintf(p->diag, "%s:%d: %s", p->name, line, what);
	vfprintf(p->diag, fmt, ap);
	fputc('\n', p->diag);
}

void conf__error(struct conf_parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	p->n_errors++;
	va_start(ap, fmt);
	load_report(p, line, "", fmt, ap);
	va_end(ap);
}

void conf__warn(struct conf_parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	load_report(p, line, "warning: ", fmt, ap);
	va_end(ap);
}

char *conf__strdup(struct conf_parser *p, const char *s)
{
	char *d = strdup(s);

	if (!d)
		p->oom = true;
	return d;
}

void *conf__grow(struct conf_parser *p, void **arr, size_t *n, size_t size)
{
	char *base = *arr;

	/* The capacity is the next power of two >= *n, so the array is full
	 * exactly when *n is 0 or a power of two. */
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? *n * 2 : 1;

		if (cap > SIZE_MAX / size || !(base = realloc(base, cap * size))) {
			p->oom = true;
			return NULL;
		}
		*arr = base;
	}
	memset(base + *n * size, 0, size);
	return base + (*n)++ * size;
}

/* Start a section for the header text between '[' and ']'. */
static void load_begin_section(struct conf_parser *p, char *inner)
{
	const struct conf_section *sect = NULL;
	char *name = inner;

	name += strcspn(name, " \t");
	if (*name)
		*name++ = '\0';
	name += strspn(name, " \t");
	for (size_t i = 0; i < CONF_ARRAY_SIZE(load_sections); i++) {
		if (strcmp(inner, load_sections[i]->word) == 0)
			sect = load_sections[i];
	}
	if (!sect) {
		conf__error(p, p->line, "unknown section [%s%s%s]", inner, *name ? " " : "", name);
		return;
	}
	if (sect->named && !*name) {
		conf__error(p, p->line, "section [%s] needs a name: [%s NAME]", inner, inner);
		return;
	}
	if (!sect->named && *name) {
		conf__error(p, p->line, "section [%s] takes no name", inner);
		return;
	}
	if (sect->named && !conf__is_name(name)) {
		conf__error(p, p->line, "bad %s name '%s' (use letters, digits, '.', '_', '-')",
			    inner, name);
		return;
	}
	if (*name && !(p->sect_name = conf__strdup(p, name)))
		return;
	p->sect = sect;
	p->skip = false;
	sect->begin(p, name);
}

/* Leave the current section; keys are skipped until a good header. */
static void load_end_section(struct conf_parser *p)
{
	free(p->sect_name);
	p->sect_name = NULL;
	p->sect = NULL;
	p->skip = true;
	memset(p->seen, 0, sizeof(p->seen));
}

/* A header line "[...]", already stripped of surrounding whitespace. */
static void load_header(struct conf_parser *p, char *s)
{
	char *end = strchr(s, ']');
	char *rest;

	load_end_section(p);
	if (!end) {
		conf__error(p, p->line, "missing ']' in section header");
		return;
	}
	rest = end + 1 + strspn(end + 1, " \t");
	if (*rest && *rest != ';' && *rest != '#') {
		conf__error(p, p->line, "unexpected text after section header: '%s'", rest);
		return;
	}
	*end = '\0';
	s++;
	s += strspn(s, " \t");
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	load_begin_section(p, s);
}

/* Decide what inih sees for the physical line p->raw[0..n). */
static void load_line(struct conf_parser *p, size_t n)
{
	char *s = p->raw, *end;

	bool nul = memchr(s, '\0', n) != NULL;
	const char *bad = NULL;

	p->text = load_blank;
	p->text_len = 1;
	/* inih strips a UTF-8 byte order mark from line 1; so do we, since
	 * inih never sees the raw line. */
	if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	if (nul)
		bad = "NUL byte in line";
	else if (!*s || *s == ';' || *s == '#')
		return;
	else if ((size_t)(end - s) > CONF_MAX_LINE)
		bad = "line too long (max " LOAD_STR(CONF_MAX_LINE) " bytes)";
	if (bad) {
		conf__error(p, p->line, "%s", bad);
		/* A broken header must not leave its keys in the previous section. */
		if (*s == '[')
			load_end_section(p);
		return;
	}
	if (*s == '[') {
		load_header(p, s);
		return;
	}
	/* inih's buffer growth needs the newline to see where a line ends;
	 * load_next_line() reserved the room. */
	*end++ = '\n';
	*end = '\0';
	p->text = s;
	p->text_len = (size_t)(end - s);
	p->key_line = true;
	p->handled = false;
}

/* A key line without '=' or ':' never reaches the handler. */
static void load_check_refused(struct conf_parser *p)
{
	if (p->key_line && !p->handled)
		conf__error(p, p->line, "expected 'key = value'");
	p->key_line = false;
}

/* Read the next physical line and prepare p->text. False at end of file or
 * on a read error (recorded in p->read_err). */
static bool load_next_line(struct conf_parser *p)
{
	ssize_t n;

	load_check_refused(p);
	errno = 0;
	n = getline(&p->raw, &p->raw_cap, p->in);
	if (n < 0) {
		if (ferror(p->in) || errno == ENOMEM)
			p->read_err = errno ? errno : EIO;
		return false;
	}
	/* Room for the '\n' load_line() may add to a last line without one. */
	if ((size_t)n + 2 > p->raw_cap) {
		char *raw = realloc(p->raw, (size_t)n + 2);

		if (!raw) {
			p->read_err = ENOMEM;
			return false;
		}
		p->raw = raw;
		p->raw_cap = (size_t)n + 2;
	}
	p->line++;
	p->text_pos = 0;
	load_line(p, (size_t)n);
	return true;
}

/* inih's fgets()-style reader: up to num - 1 bytes of the current line. */
static char *load_reader(char *dst, int num, void *arg)
{
	struct conf_parser *p = arg;
	size_t n;

	if (num < 2)
		return NULL;
	if (p->text_pos == p->text_len && !load_next_line(p))
		return NULL;
	n = p->text_len - p->text_pos;
#ifndef CONF_HAVE_INIH_GLOBALS
	/* This inih cannot grow its buffer: a longer line would come back
	 * as several lines. */
	if (p->text_pos == 0 && n > (size_t)num - 1) {
		conf__error(p, p->line, "line too long (max %d bytes)", num - 2);
		p->text = load_blank;
		p->text_len = n = 1;
		p->key_line = false;
	}
#endif
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	memcpy(dst, p->text + p->text_pos, n);
	dst[n] = '\0';
	p->text_pos += n;
	return dst;
}

static void load_key(struct conf_parser *p, const char *key, const char *value)
{
	const struct conf_section *sect = p->sect;

	for (size_t i = 0; i < sect->n_keys; i++) {
		const struct conf_key *k = &sect->keys[i];

		if (strcmp(k->name, key) != 0)
			continue;
		if (!k->repeatable && p->seen[i]) {
			conf__error(p, p->line, "duplicate key '%s' in [%s%s%s] (first at line %d)",
				    key, sect->word, p->sect_name ? " " : "",
				    p->sect_name ? p->sect_name : "", p->seen[i]);
			return;
		}
		p->seen[i] = p->line;
		k->parse(p, key, value);
		return;
	}
	conf__error(p, p->line, "unknown key '%s' in [%s%s%s]", key, sect->word,
		    p->sect_name ? " " : "", p->sect_name ? p->sect_name : "");
}

/* inih's handler. Always returns 1 ("go on"): errors are ours to count. */
static int load_handler(void *user, const char *section, const char *key, const char *value)
{
	struct conf_parser *p = user;

	(void)section;		/* ours is in p->sect; inih truncates long ones */
	p->handled = true;
	if (!*key)
		conf__error(p, p->line, "missing key before '='");
	else if (p->skip)
		;		/* the bad header was reported once */
	else if (!p->sect)
		conf__error(p, p->line, "key '%s' outside any section", key);
	else
		load_key(p, key, value);
	return 1;
}

/* Run inih over the whole input; 0 or -errno for a read or memory failure. */
static int load_parse(struct conf_parser *p)
{
	int rc;
#ifdef CONF_HAVE_INIH_GLOBALS
	/* Debian's inih has run-time limits: let it grow its line buffer so
	 * long regexes fit. They are process-wide, so put them back. */
	bool use_stack = ini_use_stack, allow_realloc = ini_allow_realloc;
	int max_line = ini_max_line;

	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONF_MAX_LINE + 3;
#endif
	rc = ini_parse_stream(load_reader, p, load_handler, p);
#ifdef CONF_HAVE_INIH_GLOBALS
	ini_use_stack = use_stack;
	ini_allow_realloc = allow_realloc;
	ini_max_line = max_line;
#endif
	load_check_refused(p);
	if (p->read_err) {
		if (p->diag)
			fprintf(p->diag, "%s: read error: %s\n", p->name, strerror(p->read_err));
		return -p->read_err;
	}
	/* rc > 0 is a line inih disliked, already reported by us. */
	return rc == -2 ? -ENOMEM : 0;
}

static struct gw_config *load_config_new(const char *name)
{
	struct gw_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->path = strdup(name);
	if (!cfg->path) {
		free(cfg);
		return NULL;
	}
	if (conf__gateway_defaults(cfg) < 0) {
		conf_free(cfg);
		return NULL;
	}
	return cfg;
}

/* After the parse: cross-checks, then the route order. 0, -EINVAL when
 * anything was reported, or -ENOMEM. */
static int load_finish(struct conf_parser *p)
{
	if (!p->oom)
		conf__validate(p);
	if (!p->oom && !p->n_errors && conf__routes_order(p) < 0)
		p->oom = true;
	if (p->oom) {
		if (p->diag)
			fprintf(p->diag, "%s: out of memory\n", p->name);
		return -ENOMEM;
	}
	return p->n_errors ? -EINVAL : 0;
}

int conf_load_stream(FILE *in, const char *name, unsigned flags, FILE *diag,
		     struct gw_config **out)
{
	struct conf_parser p = {
		.name = name,
		.diag = diag,
		.flags = flags,
		.in = in,
		.text = load_blank,
	};
	int rc;

	*out = NULL;
	p.cfg = load_config_new(name);
	if (!p.cfg)
		return -ENOMEM;
	rc = load_parse(&p);
	if (!rc)
		rc = load_finish(&p);
	free(p.sect_name);
	free(p.raw);
	if (rc) {
		conf_free(p.cfg);
		return rc;
	}
	*out = p.cfg;
	return 0;
}

int conf_load(const char *path, FILE *diag, struct gw_config **out)
{
	FILE *in = fopen(path, "r");
	int rc;

	*out = NULL;
	if (!in) {
		rc = -errno;
		if (diag)
			fprintf(diag, "%s: cannot open: %s\n", path, strerror(-rc));
		return rc;
	}
	rc = conf_load_stream(in, path, 0, diag, out);
	fclose(in);
	return rc;
}

void conf_free(struct gw_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_services; i++)
		conf__service_release(&cfg->services[i]);
	for (size_t i = 0; i < cfg->n_routes; i++)
		conf__route_release(&cfg->routes[i]);
	for (size_t i = 0; i < cfg->n_jwts; i++)
		conf__jwt_release(&cfg->jwts[i]);
	free(cfg->services);
	free(cfg->routes);
	free(cfg->jwts);
	free(cfg->route_order);
	conf__apikeys_release(cfg);
	conf__acl_release(&cfg->access);
	conf__acl_release(&cfg->trusted_proxies);
	conf__tls_release(&cfg->tls);
	free(cfg->listens);
	free(cfg->access_log);
	free(cfg->control_path);
	free(cfg->admin_token);
	free(cfg->user);
	free(cfg->group);
	free(cfg->user_groups);
	free(cfg->path);
	free(cfg);
}

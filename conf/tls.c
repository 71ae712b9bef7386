/* The [tls] section: TLS listeners and what they offer.
 *
 *   [tls]
 *   listen = 0.0.0.0:8443                     ; repeatable
 *   cert = tls/api.pem tls/api.key            ; repeatable; SNI picks by name
 *   min_version = TLSv1.2                     ; or TLSv1.3
 *   client_ca = tls/clients.pem               ; mTLS
 *   client_cert = require                     ; or optional; default require
 *                                             ; when client_ca is set
 *   client_cert_status = 400                  ; or 403, for a failed check
 *   client_subject_header = X-Client-Subject
 *   redirect_http = yes                       ; plain listeners answer 308
 *   hsts = max-age=31536000
 *
 * and, in a [service]:
 *
 *   tls = yes                                 ; upstream connections speak TLS
 *   tls_verify = yes                          ; the default
 *   tls_sni = api.internal                    ; default: the first instance's
 *                                             ; host name, if it has one
 *   tls_ca = tls/internal-ca.pem              ; default: the system store
 *
 * Paths are relative to the config file's directory. The contexts are
 * built here, in the master, at load: a certificate that does not parse, a
 * key that does not match it or that others can read fails the load (or
 * the reload, which then keeps the running certificates) at its line, and
 * workers inherit the built contexts across fork. */
#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "conf/config.h"
#include "conf/internal.h"
#include "tls/client.h"
#include "tls/ctx.h"

void conf__tls_release(struct gw_tls_conf *t)
{
	for (size_t i = 0; i < t->n_certs; i++) {
		free(t->certs[i].cert_path);
		free(t->certs[i].key_path);
	}
	free(t->certs);
	free(t->client_ca);
	free(t->client_subject_header);
	free(t->client_subject_lower);
	free(t->hsts);
	tls_server_free(t->server);
	memset(t, 0, sizeof(*t));
}

static void tls_begin(struct conf_parser *p, const char *name)
{
	struct gw_tls_conf *t = &p->cfg->tls;

	(void)name;
	if (t->line) {
		conf__error(p, p->line, "duplicate section [tls] (first at line %d)", t->line);
		return;		/* its keys still apply, and are still checked */
	}
	t->line = p->line;
}

static void tls_listen(struct conf_parser *p, const char *key, const char *value)
{
	conf__listen_add(p, key, value, true);
}

static void tls_cert(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_tls_conf *t = &p->cfg->tls;
	char cert[4096], keyfile[4096], extra;
	struct gw_tls_cert_conf *c;

	if (sscanf(value, "%4095s %4095s %c", cert, keyfile, &extra) != 2) {
		conf__error(p, p->line, "bad value for '%s' (want CERTIFICATE.pem KEY.pem, the "
			    "chain with the leaf first, then its private key)", key);
		return;
	}
	c = conf__grow(p, (void **)&t->certs, &t->n_certs, sizeof(*c));
	if (!c)
		return;
	c->cert_path = conf__path(p, cert);
	c->key_path = conf__path(p, keyfile);
	c->line = p->line;
}

static void tls_min_version(struct conf_parser *p, const char *key, const char *value)
{
	if (strcmp(value, "TLSv1.2") == 0)
		p->cfg->tls.tls13_only = false;
	else if (strcmp(value, "TLSv1.3") == 0)
		p->cfg->tls.tls13_only = true;
	else
		conf__error(p, p->line, "bad value '%s' for '%s' (want TLSv1.2 or TLSv1.3; "
			    "older versions are not offered)", value, key);
}

static void tls_client_ca(struct conf_parser *p, const char *key, const char *value)
{
	(void)key;
	p->cfg->tls.client_ca = conf__path(p, value);
	p->cfg->tls.client_ca_line = p->line;
}

static void tls_client_cert(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_tls_conf *t = &p->cfg->tls;

	if (strcmp(value, "optional") == 0)
		t->client_cert = GW_CLIENT_CERT_OPTIONAL;
	else if (strcmp(value, "require") == 0)
		t->client_cert = GW_CLIENT_CERT_REQUIRE;
	else
		conf__error(p, p->line, "bad value '%s' for '%s' (want optional or require)",
			    value, key);
}

static void tls_client_cert_status(struct conf_parser *p, const char *key, const char *value)
{
	if (strcmp(value, "400") == 0)
		p->cfg->tls.client_cert_status = 400;
	else if (strcmp(value, "403") == 0)
		p->cfg->tls.client_cert_status = 403;
	else
		conf__error(p, p->line, "bad value '%s' for '%s' (want 400 or 403)", value, key);
}

static void tls_subject_header(struct conf_parser *p, const char *key, const char *value)
{
	if (!conf__is_token(value, strlen(value))) {
		conf__error(p, p->line, "bad header name '%s' for '%s'", value, key);
		return;
	}
	free(p->cfg->tls.client_subject_header);
	p->cfg->tls.client_subject_header = conf__strdup(p, value);
}

static void tls_redirect_http(struct conf_parser *p, const char *key, const char *value)
{
	if (conf__parse_bool(value, &p->cfg->tls.redirect_http) < 0)
		conf__error(p, p->line, "bad value '%s' for '%s' (want yes or no)", value, key);
}

static void tls_hsts(struct conf_parser *p, const char *key, const char *value)
{
	if (strcmp(value, "off") == 0)
		return;
	/* It goes into response heads verbatim: no control characters. */
	for (const char *s = value; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			conf__error(p, p->line, "bad value for '%s': control character", key);
			return;
		}
	}
	if (strncmp(value, "max-age=", 8) != 0) {
		conf__error(p, p->line, "bad value '%s' for '%s' (want max-age=SECONDS, then "
			    "optionally ; includeSubDomains ; preload, or off)", value, key);
		return;
	}
	p->cfg->tls.hsts = conf__strdup(p, value);
}

static const struct conf_key tls_keys[] = {
	{ "min_version", tls_min_version, false },
	{ "client_ca", tls_client_ca, false },
	{ "client_cert", tls_client_cert, false },
	{ "client_cert_status", tls_client_cert_status, false },
	{ "client_subject_header", tls_subject_header, false },
	{ "redirect_http", tls_redirect_http, false },
	{ "hsts", tls_hsts, false },
	{ "listen", tls_listen, true },
	{ "cert", tls_cert, true },
};
_Static_assert(CONF_ARRAY_SIZE(tls_keys) <= CONF_MAX_KEYS, "conf_parser.seen too small");

const struct conf_section conf__tls_section = {
	.word = "tls",
	.named = false,
	.begin = tls_begin,
	.keys = tls_keys,
	.n_keys = CONF_ARRAY_SIZE(tls_keys),
};

/* The first TLS listener, or NULL. */
static const struct gw_listen_conf *first_tls_listen(const struct gw_config *cfg)
{
	for (size_t i = 0; i < cfg->n_listens; i++) {
		if (cfg->listens[i].tls)
			return &cfg->listens[i];
	}
	return NULL;
}

/* Build the contexts; a failure is reported at the line of the file that
 * caused it. */
static void tls_build(struct conf_parser *p, struct gw_tls_conf *t)
{
	struct tls_cert_conf *certs = calloc(t->n_certs, sizeof(*certs));
	struct tls_server_conf sc = {
		.certs = certs,
		.n_certs = t->n_certs,
		.min_version = t->tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION,
		.client_ca = t->client_ca,
		.client_cert = t->client_cert == GW_CLIENT_CERT_OFF ? TLS_CLIENT_CERT_OFF
								   : TLS_CLIENT_CERT_ASK,
	};
	size_t failed = 0;
	char err[512];
	int rc;

	if (!certs) {
		p->oom = true;
		return;
	}
	for (size_t i = 0; i < t->n_certs; i++) {
		certs[i].cert_path = t->certs[i].cert_path;
		certs[i].key_path = t->certs[i].key_path;
	}
	rc = tls_server_new(&sc, &t->server, &failed, err, sizeof(err));
	if (rc == -ENOMEM)
		p->oom = true;
	else if (rc)
		conf__error(p, failed < t->n_certs ? t->certs[failed].line : t->client_ca_line,
			    "%s", err);
	free(certs);
}

void conf__validate_tls(struct conf_parser *p)
{
	struct gw_config *cfg = p->cfg;
	struct gw_tls_conf *t = &cfg->tls;
	const struct gw_listen_conf *l = first_tls_listen(cfg);
	int line = t->line ? t->line : 1;

	if (!t->client_cert_status)
		t->client_cert_status = 400;
	if (!t->client_subject_header)
		t->client_subject_header = conf__strdup(p, "X-Client-Subject");
	t->client_subject_lower = conf__strdup(p, t->client_subject_header ?: "");
	for (char *c = t->client_subject_lower; c && *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (t->client_ca && t->client_cert == GW_CLIENT_CERT_OFF)
		t->client_cert = GW_CLIENT_CERT_REQUIRE;
	if (t->client_cert != GW_CLIENT_CERT_OFF && !t->client_ca)
		conf__error(p, line, "client_cert needs client_ca (the CA bundle client "
			    "certificates are checked against)");
	if (!l) {
		if (t->n_certs)
			conf__warn(p, t->certs[0].line, "certificates but no TLS listen in [tls]");
		if (t->redirect_http)
			conf__error(p, line, "redirect_http needs a TLS listen in [tls]");
		return;
	}
	if (!t->n_certs) {
		conf__error(p, line, "[tls] has a listen but no cert (want cert = CERTIFICATE.pem "
			    "KEY.pem)");
		return;
	}
	tls_build(p, t);
}

void conf__upstream_tls_release(struct gw_upstream_tls_conf *t)
{
	free(t->sni);
	free(t->ca);
	tls_client_free(t->client);
	memset(t, 0, sizeof(*t));
}

/* The first instance's host name as written ("api.internal:443"), or
 * NULL when it is an address: the name a certificate would carry. */
static char *instance_name(struct conf_parser *p, const struct gw_service_conf *svc)
{
	const char *host;
	size_t len;
	unsigned char probe[16];
	char name[256];

	if (!svc->n_instances || !svc->instances[0].host)
		return NULL;
	host = svc->instances[0].host;
	len = strcspn(host, ":");
	if (host[0] == '[' || len >= sizeof(name))
		return NULL;
	memcpy(name, host, len);
	name[len] = '\0';
	if (inet_pton(AF_INET, name, probe) == 1)
		return NULL;
	return conf__strdup(p, name);
}

void conf__validate_upstream_tls(struct conf_parser *p, struct gw_service_conf *svc)
{
	struct gw_upstream_tls_conf *t = &svc->tls;
	char err[512];
	int rc;

	if (!t->on) {
		if (t->option_line)
			conf__error(p, t->option_line, "service '%s': tls_* keys need tls = yes",
				    svc->name);
		return;
	}
	if (!t->sni)
		t->sni = instance_name(p, svc);
	rc = tls_client_new(t->ca, t->verify, &t->client, err, sizeof(err));
	if (rc == -ENOMEM)
		p->oom = true;
	else if (rc)
		conf__error(p, t->line, "service '%s': %s", svc->name, err);
	if (!t->verify)
		conf__warn(p, t->verify_line, "service '%s': tls_verify = no accepts any "
			   "certificate (anyone on the path can read and change the traffic)",
			   svc->name);
}

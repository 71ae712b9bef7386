/* gatewayctl's printers for keys add / list / revoke (see print.h). keys
 * add prints the new key alone on stdout, so a script can capture it, and
 * says on stderr that this is the only time it is shown. */
#include "cli/print.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cli/table.h"

static const char *str_or_dash(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

/* "a b" from ["a", "b"]; "-" for none. */
static void scopes_text(const json_t *list, char *buf, size_t cap)
{
	const json_t *v;
	size_t i, len = 0;

	buf[0] = '\0';
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);
		int n = s ? snprintf(buf + len, cap - len, "%s%s", len ? " " : "", s) : 0;

		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	if (!len)
		snprintf(buf, cap, "-");
}

int print_keys_add(const json_t *a, FILE *out, FILE *err)
{
	char scopes[512];

	scopes_text(json_object_get(a, "scopes"), scopes, sizeof(scopes));
	fprintf(out, "%s\n", str_or_dash(a, "key"));
	fprintf(err, "added key %" JSON_INTEGER_FORMAT " for consumer %s (scopes: %s); "
		"this is the only time the key is shown: store it now\n",
		json_integer_value(json_object_get(a, "id")), str_or_dash(a, "consumer"), scopes);
	return ferror(out) ? -EIO : 0;
}

int print_keys_list(const json_t *a, FILE *out, FILE *err)
{
	static const struct tbl_col cols[] = {
		{ "ID", TBL_RIGHT, false }, { "CONSUMER", TBL_LEFT, false },
		{ "STATE", TBL_LEFT, false }, { "CREATED", TBL_LEFT, false },
		{ "SCOPES", TBL_LEFT, true },
	};
	const json_t *k, *keys = json_object_get(a, "keys");
	char scopes[512], when[32];
	struct tbl *t;
	size_t i;
	int ret;

	(void)err;
	if (!json_array_size(keys)) {
		fprintf(out, "no keys\n");
		return ferror(out) ? -EIO : 0;
	}
	t = tbl_new(cols, 5);
	if (!t)
		return -ENOMEM;
	json_array_foreach(keys, i, k) {
		time_t created = (time_t)json_integer_value(json_object_get(k, "created"));
		struct tm tm;

		tbl_row(t);
		tbl_cellf(t, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(k, "id")));
		tbl_cell(t, str_or_dash(k, "consumer"));
		tbl_cell(t, str_or_dash(k, "state"));
		if (gmtime_r(&created, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm))
			tbl_cell(t, when);
		else
			tbl_cell(t, "-");
		scopes_text(json_object_get(k, "scopes"), scopes, sizeof(scopes));
		tbl_cell(t, scopes);
	}
	ret = tbl_print(t, out, "");
	tbl_free(t);
	return ret;
}

int print_keys_revoke(const json_t *a, FILE *out, FILE *err)
{
	(void)err;
	fprintf(out, "revoked key %" JSON_INTEGER_FORMAT " of consumer %s\n",
		json_integer_value(json_object_get(a, "id")), str_or_dash(a, "consumer"));
	return ferror(out) ? -EIO : 0;
}

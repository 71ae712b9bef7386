/* Text tables: cells are kept row-major in one growing array of strings;
 * widths are computed at print time, so rows may be added in any order
 * of width. Left-aligned last columns are not padded, so no line ends in
 * blanks. */
#include "cli/table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TBL_GAP "  "

struct tbl {
	const struct tbl_col *cols;
	unsigned n_cols;
	unsigned n_rows;
	unsigned cur;			/* cells added to the last row */
	char **cells;			/* n_rows * n_cols, NULL = empty */
	size_t cap;			/* rows allocated */
	bool oom;
};

struct tbl *tbl_new(const struct tbl_col *cols, unsigned n_cols)
{
	struct tbl *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cols = cols;
	t->n_cols = n_cols;
	return t;
}

void tbl_free(struct tbl *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < (size_t)t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

unsigned tbl_rows(const struct tbl *t)
{
	return t->n_rows;
}

void tbl_row(struct tbl *t)
{
	char **cells;
	size_t cap;

	if (t->n_rows == t->cap) {
		cap = t->cap ? t->cap * 2 : 8;
		cells = realloc(t->cells, cap * t->n_cols * sizeof(*cells));
		if (!cells) {
			t->oom = true;
			return;
		}
		t->cells = cells;
		t->cap = cap;
	}
	memset(&t->cells[(size_t)t->n_rows * t->n_cols], 0, t->n_cols * sizeof(*t->cells));
	t->n_rows++;
	t->cur = 0;
}

/* Store <text> (taken over) as the next cell of the last row. */
static void tbl_put(struct tbl *t, char *text)
{
	if (!text) {
		t->oom = true;
		return;
	}
	if (!t->n_rows || t->cur >= t->n_cols) {
		free(text);
		return;
	}
	for (unsigned char *p = (unsigned char *)text; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	t->cells[(size_t)(t->n_rows - 1) * t->n_cols + t->cur++] = text;
}

void tbl_cell(struct tbl *t, const char *text)
{
	tbl_put(t, strdup(text ? text : "-"));
}

void tbl_cellf(struct tbl *t, const char *fmt, ...)
{
	char *text;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	tbl_put(t, text);
}

unsigned tbl_width(const char *s)
{
	unsigned w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static const char *cell(const struct tbl *t, unsigned r, unsigned c)
{
	const char *s = t->cells[(size_t)r * t->n_cols + c];

	return s ? s : "";
}

/* Column widths; 0 for an optional column that is empty in every row. */
static void widths(const struct tbl *t, unsigned *w)
{
	for (unsigned c = 0; c < t->n_cols; c++) {
		unsigned cw = 0;

		for (unsigned r = 0; r < t->n_rows; r++) {
			unsigned x = tbl_width(cell(t, r, c));

			cw = x > cw ? x : cw;
		}
		if (cw || !t->cols[c].optional) {
			unsigned hw = tbl_width(t->cols[c].head);

			cw = hw > cw ? hw : cw;
		}
		w[c] = cw;
	}
}

static bool shown(const struct tbl *t, const unsigned *w, unsigned c)
{
	return w[c] || !t->cols[c].optional;
}

/* The text of row <r> (-1: the header) in column <c>. */
static const char *text(const struct tbl *t, int r, unsigned c)
{
	return r < 0 ? t->cols[c].head : cell(t, (unsigned)r, c);
}

/* The last column of row <r> with something to print: the line stops
 * there, so that no line ends in blanks. */
static unsigned last_col(const struct tbl *t, const unsigned *w, int r)
{
	unsigned last = 0;

	for (unsigned c = 0; c < t->n_cols; c++)
		if (shown(t, w, c) && *text(t, r, c))
			last = c;
	return last;
}

static void print_line(const struct tbl *t, const unsigned *w, FILE *out, const char *indent,
		       int r)
{
	unsigned last = last_col(t, w, r);
	bool first = true;

	fputs(indent, out);
	for (unsigned c = 0; c <= last; c++) {
		const char *s = text(t, r, c);
		unsigned pad = w[c] - tbl_width(s);

		if (!shown(t, w, c))
			continue;
		if (!first)
			fputs(TBL_GAP, out);
		first = false;
		if (t->cols[c].align == TBL_RIGHT)
			fprintf(out, "%*s", (int)pad, "");
		fputs(s, out);
		if (t->cols[c].align == TBL_LEFT && c < last)
			fprintf(out, "%*s", (int)pad, "");
	}
	fputc('\n', out);
}

int tbl_print(const struct tbl *t, FILE *out, const char *indent)
{
	unsigned *w;

	if (t->oom)
		return -ENOMEM;
	w = calloc(t->n_cols ? t->n_cols : 1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	widths(t, w);
	print_line(t, w, out, indent ? indent : "", -1);
	for (unsigned r = 0; r < t->n_rows; r++)
		print_line(t, w, out, indent ? indent : "", (int)r);
	free(w);
	return ferror(out) ? -EIO : 0;
}

/* Text tables for gatewayctl: a header row and aligned columns, widths
 * computed from the cells, two spaces between columns, no trailing blanks.
 *
 *	struct tbl *t = tbl_new(cols, 3);
 *	tbl_row(t); tbl_cell(t, "w0"); tbl_cellf(t, "%u", 12); ...
 *	ret = tbl_print(t, stdout, "  ");
 *	tbl_free(t);
 *
 * Adding cells never fails visibly: an allocation failure is remembered
 * and reported once by tbl_print(), so call sites stay one line each. */
#ifndef GW_CLI_TABLE_H
#define GW_CLI_TABLE_H

#include <stdbool.h>
#include <stdio.h>

enum tbl_align {
	TBL_LEFT = 0,
	TBL_RIGHT,			/* numbers */
};

struct tbl_col {
	const char *head;
	enum tbl_align align;
	bool optional;			/* left out when every row's cell is empty */
};

struct tbl;

/* A table of <n_cols> columns described by <cols> (borrowed: keep it alive
 * until tbl_free). NULL when out of memory. */
struct tbl *tbl_new(const struct tbl_col *cols, unsigned n_cols);

/* Start a new row; its cells are then added left to right. Cells not
 * added print empty; cells beyond the last column are dropped. */
void tbl_row(struct tbl *t);

/* Add a cell (copied). NULL prints as "-". Control characters become '?',
 * so a name from the master cannot move the terminal's cursor. */
void tbl_cell(struct tbl *t, const char *text);
void tbl_cellf(struct tbl *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

unsigned tbl_rows(const struct tbl *t);

/* Print the header and every row, each line starting with <indent>.
 * Returns 0, -ENOMEM when a cell could not be stored, or -EIO when <out>
 * reports a write error. */
int tbl_print(const struct tbl *t, FILE *out, const char *indent);

void tbl_free(struct tbl *t);			/* NULL is fine */

/* Width of <s> on a terminal: UTF-8 code points (every character taken
 * as one column wide). */
unsigned tbl_width(const char *s);

#endif

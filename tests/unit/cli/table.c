/* Unit test for cli/table.c: widths from the widest cell or header, left
 * and right alignment, optional columns, no trailing blanks, UTF-8 width,
 * control characters neutralised. Output compared as exact text. */
#include <stdlib.h>

#include "cli/table.h"
#include "tests/unit/check.h"

/* Print <t> into a string (caller frees). */
static char *render(struct tbl *t, const char *indent, int *ret)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	*ret = tbl_print(t, f, indent);
	fclose(f);
	return text;
}

static void test_basic(void)
{
	static const struct tbl_col cols[] = {
		{ "NAME", TBL_LEFT, false },
		{ "N", TBL_RIGHT, false },
		{ "STATE", TBL_LEFT, false },
	};
	struct tbl *t = tbl_new(cols, 3);
	char *text;
	int ret;

	tbl_row(t);
	tbl_cell(t, "a");
	tbl_cellf(t, "%d", 12345);
	tbl_cell(t, "up");
	tbl_row(t);
	tbl_cell(t, "longer-name");
	tbl_cellf(t, "%d", 7);
	tbl_cell(t, NULL);
	CHECK_INT(tbl_rows(t), 2);
	text = render(t, "", &ret);
	CHECK_INT(ret, 0);
	CHECK_STR(text,
		  "NAME             N  STATE\n"
		  "a            12345  up\n"
		  "longer-name      7  -\n");
	free(text);
	text = render(t, "  ", &ret);
	CHECK_STR(text,
		  "  NAME             N  STATE\n"
		  "  a            12345  up\n"
		  "  longer-name      7  -\n");
	free(text);
	tbl_free(t);
}

/* Empty trailing cells end the line early; an optional column that is
 * empty everywhere disappears, header included. */
static void test_optional_and_trailing(void)
{
	static const struct tbl_col cols[] = {
		{ "A", TBL_LEFT, false },
		{ "HIDDEN", TBL_LEFT, true },
		{ "B", TBL_RIGHT, false },
		{ "NOTE", TBL_LEFT, true },
	};
	struct tbl *t = tbl_new(cols, 4);
	char *text;
	int ret;

	tbl_row(t);
	tbl_cell(t, "x");
	tbl_cell(t, "");
	tbl_cell(t, "1");
	tbl_cell(t, "");
	tbl_row(t);
	tbl_cell(t, "yy");
	tbl_cell(t, "");
	tbl_cell(t, "22");
	tbl_cell(t, "note");
	text = render(t, "", &ret);
	CHECK_STR(text,
		  "A    B  NOTE\n"
		  "x    1\n"
		  "yy  22  note\n");
	free(text);
	tbl_free(t);

	/* Every NOTE empty: the column and its header go. */
	t = tbl_new(cols, 4);
	tbl_row(t);
	tbl_cell(t, "x");
	tbl_cell(t, "");
	tbl_cell(t, "1");
	text = render(t, "", &ret);
	CHECK_STR(text,
		  "A  B\n"
		  "x  1\n");
	free(text);
	tbl_free(t);
}

static void test_edge_cells(void)
{
	static const struct tbl_col cols[] = {
		{ "K", TBL_LEFT, false },
		{ "V", TBL_LEFT, false },
	};
	struct tbl *t = tbl_new(cols, 2);
	char *text;
	int ret;

	tbl_cell(t, "before any row: dropped");
	tbl_row(t);
	tbl_cell(t, "caf\xc3\xa9");		/* 4 columns wide, 5 bytes */
	tbl_cell(t, "x");
	tbl_cell(t, "beyond the last column: dropped");
	tbl_row(t);
	tbl_cell(t, "esc\033[2Jtab\t");
	tbl_row(t);				/* no cells at all */
	text = render(t, "", &ret);
	CHECK_STR(text,
		  "K            V\n"
		  "caf\xc3\xa9         x\n"
		  "esc?[2Jtab?\n"
		  "\n");
	free(text);
	tbl_free(t);

	CHECK_INT(tbl_width(""), 0);
	CHECK_INT(tbl_width("abc"), 3);
	CHECK_INT(tbl_width("\xe2\x82\xac" "1"), 2);
	tbl_free(NULL);
}

static void test_no_rows(void)
{
	static const struct tbl_col cols[] = {
		{ "ONE", TBL_RIGHT, false },
		{ "TWO", TBL_LEFT, false },
	};
	struct tbl *t = tbl_new(cols, 2);
	char *text;
	int ret;

	text = render(t, "", &ret);
	CHECK_INT(ret, 0);
	CHECK_STR(text, "ONE  TWO\n");
	free(text);
	tbl_free(t);
}

static void test_many_rows(void)
{
	static const struct tbl_col cols[] = { { "I", TBL_RIGHT, false } };
	struct tbl *t = tbl_new(cols, 1);
	char *text;
	int ret;

	for (int i = 0; i < 1000; i++) {
		tbl_row(t);
		tbl_cellf(t, "%d", i);
	}
	CHECK_INT(tbl_rows(t), 1000);
	text = render(t, "", &ret);
	CHECK_INT(ret, 0);
	CHECK(strncmp(text, "  I\n  0\n  1\n", 12) == 0);
	CHECK(strstr(text, "\n999\n") != NULL);
	free(text);
	tbl_free(t);
}

int main(void)
{
	test_basic();
	test_optional_and_trailing();
	test_edge_cells();
	test_no_rows();
	test_many_rows();
	return CHECK_EXIT();
}

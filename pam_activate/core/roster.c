/*
 * roster.c: the roster CSV. libcsv does the RFC 4180 splitting (quotes,
 * doubled quotes, CRLF, fields across lines); this file maps the header to
 * columns, checks every cell, and names FILE:LINE: FIELD in every error.
 * Cells are kept as text: a cell like =cmd|... is a name, never a formula.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <csv.h>
#include <sodium.h>

#include "roster.h"
#include "secret.h"
#include "text.h"

enum column {
	COL_ID, COL_STUDENT, COL_GIVEN, COL_FAMILY, COL_KIND, COL_PROGRAMME, COL_FEE,
	COL_USERNAME, COL_EMAIL, COL_PIN, COL_LANGUAGE, COL_COUNT
};
#define COL_REQUIRED COL_USERNAME	/* columns before this one are required */

static const char *const column_names[COL_COUNT] = {
	"id_number", "student_number", "given_name", "family_name", "kind", "programme",
	"fee_paid_on", "username", "email", "pin", "language",
};

#define MAX_COLUMNS 32

struct parse {
	const char *name;
	const struct config *cfg;
	struct roster *roster;
	int col_of[MAX_COLUMNS];	/* file column -> enum column, -1 unknown */
	size_t ncols;
	bool header_done;
	char *cell[MAX_COLUMNS];
	size_t ncells;
	unsigned line, row_line;
	char *err;
	size_t errlen;
	int error;
};

static void fail(struct parse *ps, unsigned line, const char *field, const char *reason)
{
	if (ps->error)
		return;
	ps->error = -EINVAL;
	if (field)
		snprintf(ps->err, ps->errlen, "%s:%u: %s: %s", ps->name, line, field, reason);
	else
		snprintf(ps->err, ps->errlen, "%s:%u: %s", ps->name, line, reason);
}

static void clear_cells(struct parse *ps)
{
	for (size_t i = 0; i < ps->ncells; i++) {
		if (ps->cell[i])
			sodium_memzero(ps->cell[i], strlen(ps->cell[i]));
		free(ps->cell[i]);
		ps->cell[i] = NULL;
	}
	ps->ncells = 0;
}

static unsigned count_newlines(const char *data, size_t len)
{
	unsigned n = 0;

	for (size_t i = 0; i < len; i++)
		n += data[i] == '\n';
	return n;
}

/* The column's name once the header is read, else its position. */
static const char *field_name(const struct parse *ps, char *buf, size_t size)
{
	if (ps->header_done && ps->ncells < ps->ncols && ps->col_of[ps->ncells] >= 0)
		return column_names[ps->col_of[ps->ncells]];
	snprintf(buf, size, "field %zu", ps->ncells + 1);
	return buf;
}

static void on_field(void *data, size_t len, void *ctx)
{
	struct parse *ps = ctx;
	char buf[32];

	if (ps->error)
		return;
	if (ps->row_line == 0)	/* a quoted first field may have spanned lines */
		ps->row_line = ps->line - count_newlines(data, len);
	if (ps->ncells >= MAX_COLUMNS) {
		fail(ps, ps->row_line, NULL, "too many fields");
		return;
	}
	if (len > ROSTER_FIELD_MAX) {
		fail(ps, ps->row_line, field_name(ps, buf, sizeof(buf)), "longer than 4096 bytes");
		return;
	}
	if (len && memchr(data, '\0', len)) {
		fail(ps, ps->row_line, field_name(ps, buf, sizeof(buf)), "NUL byte");
		return;
	}
	ps->cell[ps->ncells] = strndup(len ? data : "", len);
	if (!ps->cell[ps->ncells]) {
		ps->error = -ENOMEM;
		return;
	}
	ps->ncells++;
}

static int column_index(const char *name)
{
	for (int i = 0; i < COL_COUNT; i++)
		if (strcasecmp(name, column_names[i]) == 0)
			return i;
	return -1;
}

static void read_header(struct parse *ps)
{
	bool seen[COL_COUNT] = { false };

	for (size_t i = 0; i < ps->ncells && !ps->error; i++) {
		int c = column_index(text_trim(ps->cell[i]));

		if (c < 0)
			fail(ps, ps->row_line, ps->cell[i], "unknown column");
		else if (seen[c])
			fail(ps, ps->row_line, ps->cell[i], "column appears twice");
		else
			seen[c] = true;
		ps->col_of[i] = c;
	}
	for (int c = 0; c < COL_REQUIRED && !ps->error; c++)
		if (!seen[c])
			fail(ps, ps->row_line, column_names[c], "required column missing from the header");
	ps->ncols = ps->ncells;
	ps->roster->has_username = seen[COL_USERNAME];
	ps->roster->has_email = seen[COL_EMAIL];
	ps->roster->has_pin = seen[COL_PIN];
	ps->roster->has_language = seen[COL_LANGUAGE];
	ps->header_done = true;
}

static int grow(struct roster *r)
{
	size_t cap = r->cap ? r->cap * 2 : 256;
	struct roster_row *rows;
	char *pins = NULL;

	rows = realloc(r->rows, cap * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	r->rows = rows;
	if (r->has_pin) {
		pins = secret_alloc(cap * SECRET_PIN_MAX);
		if (!pins)
			return -ENOMEM;
		if (r->pins) {
			memcpy(pins, r->pins, r->cap * SECRET_PIN_MAX);
			secret_free(r->pins);
		}
		for (size_t i = 0; i < r->count; i++)
			if (rows[i].pin)
				rows[i].pin = pins + i * SECRET_PIN_MAX;
		r->pins = pins;
	}
	r->cap = cap;
	return 0;
}

/* Copy a trimmed cell into a bounded field, checking it is printable UTF-8. */
static int take_text(struct parse *ps, const char *field, const char *cell, char *dst, size_t size)
{
	size_t len = strlen(cell);

	if (len >= size) {
		char reason[64];

		snprintf(reason, sizeof(reason), "longer than %zu bytes", size - 1);
		fail(ps, ps->row_line, field, reason);
		return -EINVAL;
	}
	if (text_check_utf8_printable(cell, len) != 0) {
		fail(ps, ps->row_line, field, "control characters or invalid UTF-8");
		return -EINVAL;
	}
	memcpy(dst, cell, len + 1);
	return 0;
}

static void take_cell(struct parse *ps, struct roster_row *row, int col, char *cell)
{
	struct person *p = &row->person;
	const char *field = column_names[col];

	switch (col) {
	case COL_ID:
		take_text(ps, field, cell, p->id_number, sizeof(p->id_number));
		break;
	case COL_STUDENT:
		take_text(ps, field, cell, p->student_number, sizeof(p->student_number));
		break;
	case COL_GIVEN:
		take_text(ps, field, cell, p->given_name, sizeof(p->given_name));
		break;
	case COL_FAMILY:
		take_text(ps, field, cell, p->family_name, sizeof(p->family_name));
		break;
	case COL_KIND:
		if (person_kind_parse(cell, &p->kind) != 0)
			fail(ps, ps->row_line, field, "expected student, exchange or employee");
		break;
	case COL_PROGRAMME:
		take_text(ps, field, cell, p->programme, sizeof(p->programme));
		break;
	case COL_FEE:
		take_text(ps, field, cell, p->fee_paid_on, sizeof(p->fee_paid_on));
		break;
	case COL_USERNAME:
		take_text(ps, field, cell, p->username, sizeof(p->username));
		break;
	case COL_EMAIL:
		take_text(ps, field, cell, p->email, sizeof(p->email));
		break;
	case COL_PIN:
		if (*cell && row->pin && take_text(ps, field, cell, row->pin, SECRET_PIN_MAX) == 0)
			break;
		row->pin = NULL;
		break;
	case COL_LANGUAGE:
		take_text(ps, field, cell, p->language, sizeof(p->language));
		break;
	}
}

static void check_pin(struct parse *ps, const char *pin)
{
	size_t len = strlen(pin);

	if (!text_is_digits(pin))
		fail(ps, ps->row_line, "pin", "digits only");
	else if (len < 6 || len > SECRET_PIN_MAX - 1)
		fail(ps, ps->row_line, "pin", "must be 6 to 32 digits");
}

static void read_row(struct parse *ps)
{
	struct roster *r = ps->roster;
	struct roster_row *row;
	char msg[160];

	if (ps->ncells != ps->ncols) {
		snprintf(msg, sizeof(msg), "expected %zu fields, found %zu", ps->ncols, ps->ncells);
		fail(ps, ps->row_line, NULL, msg);
		return;
	}
	if (r->count == r->cap && grow(r) != 0) {
		ps->error = -ENOMEM;
		return;
	}
	row = &r->rows[r->count];
	memset(row, 0, sizeof(*row));
	row->line = ps->row_line;
	row->pin = r->has_pin ? r->pins + r->count * SECRET_PIN_MAX : NULL;
	for (size_t i = 0; i < ps->ncells && !ps->error; i++)
		take_cell(ps, row, ps->col_of[i], text_trim(ps->cell[i]));
	if (!ps->error && roster_check_person(&row->person, ps->cfg, msg, sizeof(msg)) != 0)
		fail(ps, ps->row_line, NULL, msg);
	if (!ps->error && row->pin)
		check_pin(ps, row->pin);
	if (!ps->error)
		r->count++;
}

static void on_row(int terminator, void *ctx)
{
	struct parse *ps = ctx;

	(void)terminator;
	if (!ps->error) {
		if (ps->header_done)
			read_row(ps);
		else
			read_header(ps);
	}
	clear_cells(ps);
	ps->row_line = 0;
}

static bool valid_username(const char *u)
{
	if (!*u || !((*u >= 'a' && *u <= 'z') || *u == '_'))
		return false;
	for (; *u; u++)
		if (!((*u >= 'a' && *u <= 'z') || (*u >= '0' && *u <= '9') || *u == '_' || *u == '-'))
			return false;
	return true;
}

/* nb, en, nb_NO: a catalogue's and a letter's name. */
static bool valid_language(const char *l)
{
	size_t n = strspn(l, "abcdefghijklmnopqrstuvwxyz");

	if (n < 2 || n > 3)
		return false;
	if (!l[n])
		return true;
	return l[n] == '_' && strspn(l + n + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 2 && !l[n + 3];
}

static bool valid_email(const char *e)
{
	const char *at = strchr(e, '@');

	return at && at != e && at[1] && !strchr(at + 1, '@') && !strpbrk(e, " ,;<>\"");
}

static int check_number(const char *field, const char *value, unsigned max, char *err, size_t errlen)
{
	if (!text_is_digits(value)) {
		snprintf(err, errlen, "%s: %s", field, *value ? "digits only" : "required");
		return -EINVAL;
	}
	if (strlen(value) > max) {
		snprintf(err, errlen, "%s: longer than %u digits", field, max);
		return -EINVAL;
	}
	return 0;
}

int roster_check_person(const struct person *p, const struct config *cfg, char *err, size_t errlen)
{
	int r;

	r = check_number("id_number", p->id_number, cfg->id_number_max_length, err, errlen);
	if (r == 0)
		r = check_number("student_number", p->student_number, cfg->student_number_max_length,
				 err, errlen);
	if (r)
		return r;
	if (!p->given_name[0] && !p->family_name[0])
		snprintf(err, errlen, "family_name: a name is required");
	else if (p->fee_paid_on[0] && !text_is_date(p->fee_paid_on))
		snprintf(err, errlen, "fee_paid_on: expected a date YYYY-MM-DD, or empty");
	else if (p->username[0] && !valid_username(p->username))
		snprintf(err, errlen, "username: lower-case letters, digits, '_' and '-', "
			 "starting with a letter or '_'");
	else if (p->email[0] && !valid_email(p->email))
		snprintf(err, errlen, "email: not an e-mail address");
	else if (p->language[0] && !valid_language(p->language))
		snprintf(err, errlen, "language: a language code such as en, nb or nb_NO");
	else
		return 0;
	return -EINVAL;
}

static int cmp_rows_by(const struct roster_row *a, const struct roster_row *b, size_t off)
{
	int c = strcmp((const char *)&a->person + off, (const char *)&b->person + off);

	if (c)
		return c;
	return a->line < b->line ? -1 : a->line > b->line;
}

static int cmp_rows(const void *a, const void *b, void *off)
{
	return cmp_rows_by(*(struct roster_row *const *)a, *(struct roster_row *const *)b,
			   *(const size_t *)off);
}

/* Find a value that appears on two rows; name the later line. */
static int check_unique(struct parse *ps, struct roster_row **idx, size_t off, const char *field)
{
	struct roster *r = ps->roster;
	char reason[64];

	for (size_t i = 0; i < r->count; i++)
		idx[i] = &r->rows[i];
	qsort_r(idx, r->count, sizeof(*idx), cmp_rows, &off);
	for (size_t i = 1; i < r->count; i++) {
		const char *a = (const char *)&idx[i - 1]->person + off;

		if (*a && strcmp(a, (const char *)&idx[i]->person + off) == 0) {
			snprintf(reason, sizeof(reason), "same as on line %u", idx[i - 1]->line);
			fail(ps, idx[i]->line, field, reason);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_duplicates(struct parse *ps)
{
	struct roster_row **idx;
	int r;

	if (ps->roster->count < 2)
		return 0;
	idx = malloc(ps->roster->count * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	r = check_unique(ps, idx, offsetof(struct person, id_number), "id_number");
	if (r == 0)
		r = check_unique(ps, idx, offsetof(struct person, student_number), "student_number");
	if (r == 0)
		r = check_unique(ps, idx, offsetof(struct person, username), "username");
	free(idx);
	return r;
}

/*
 * libcsv gathers a field whole before it hands it over: a field that is
 * still growing past ROSTER_FIELD_MAX is refused here, so that a 100 MB
 * cell never sits in memory (entry_pos is libcsv's public count of the
 * bytes it holds of the current field).
 */
static void check_growing_field(struct parse *ps, const struct csv_parser *csv)
{
	char buf[32];

	if (ps->error || csv->entry_pos <= ROSTER_FIELD_MAX)
		return;
	if (ps->row_line == 0) {	/* the row's first field: it began where its newlines say */
		const char *e = (const char *)csv->entry_buf;
		unsigned before = count_newlines(e, csv->entry_pos);

		/* the newline that ended the line just fed is this line's own, not one before it */
		ps->row_line = ps->line - before + (e[csv->entry_pos - 1] == '\n');
	}
	fail(ps, ps->row_line, field_name(ps, buf, sizeof(buf)), "longer than 4096 bytes");
}

static void feed(struct parse *ps, struct csv_parser *csv, const char *buf, size_t len)
{
	if (csv_parse(csv, buf, len, on_field, on_row, ps) != len && !ps->error)
		fail(ps, ps->line, NULL, csv_strerror(csv_error(csv)));
	check_growing_field(ps, csv);
}

/*
 * The file a line at a time, as libcsv's callbacks need ps->line to be
 * the line they are on, but in pieces of a bounded buffer: a line of any
 * length (a 100 MB cell) costs no more memory than a short one.
 */
#define READ_CHUNK ((size_t)64 * 1024)

static void parse_stream(struct parse *ps, struct csv_parser *csv, FILE *f)
{
	char *buf = malloc(READ_CHUNK);
	bool line_start = true;
	size_t n;

	if (!buf) {
		ps->error = -ENOMEM;
		return;
	}
	while (!ps->error && (n = fread(buf, 1, READ_CHUNK, f)) > 0) {
		for (const char *p = buf, *end = buf + n; p < end && !ps->error; ) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

			if (line_start && ++ps->line == 1 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
				p += 3;
				len -= 3;
			}
			feed(ps, csv, p, len);
			line_start = nl != NULL;
			p += len;
		}
	}
	if (!ps->error && ferror(f))
		fail(ps, ps->line, NULL, "read error");
	if (!ps->error && csv_fini(csv, on_field, on_row, ps) != 0)
		fail(ps, ps->line, NULL, csv_strerror(csv_error(csv)));
	sodium_memzero(buf, READ_CHUNK);	/* the roster's PINs passed through it */
	free(buf);
}

int roster_read(FILE *f, const char *name, char delimiter, const struct config *cfg,
		struct roster *out, char *err, size_t errlen)
{
	struct parse ps = { .name = name, .cfg = cfg, .roster = out, .err = err, .errlen = errlen };
	struct csv_parser csv;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI) != 0)
		ps.error = -ENOMEM;
	else {
		csv_set_delim(&csv, (unsigned char)delimiter);
		parse_stream(&ps, &csv, f);
		clear_cells(&ps);
		csv_free(&csv);
	}
	if (!ps.error && !ps.header_done) {
		snprintf(err, errlen, "%s: empty file: a header row is required", name);
		ps.error = -EINVAL;
	}
	if (!ps.error)
		ps.error = check_duplicates(&ps);
	if (ps.error == -ENOMEM && !err[0])	/* the rows so far take about 2 KB each */
		snprintf(err, errlen, "%s:%u: out of memory after %zu rows", name, ps.line, out->count);
	if (ps.error)
		roster_free(out);
	return ps.error;
}

int roster_read_fields(const char *name, size_t n, const char *const *columns,
		       const char *const *values, const struct config *cfg, struct roster *out,
		       char *err, size_t errlen)
{
	struct parse ps = { .name = name, .cfg = cfg, .roster = out, .err = err, .errlen = errlen };
	const char *const *rows[2] = { columns, values };

	memset(out, 0, sizeof(*out));
	for (int r = 0; r < 2 && !ps.error; r++) {
		ps.line = ps.row_line = (unsigned)r + 1;
		for (size_t i = 0; i < n; i++)
			on_field((void *)rows[r][i], strlen(rows[r][i]), &ps);
		on_row('\n', &ps);
	}
	if (ps.error)
		roster_free(out);
	return ps.error;
}

int roster_append(struct roster *r, const struct person *p, struct roster_row **row)
{
	if (r->count == r->cap && grow(r) != 0)
		return -ENOMEM;
	*row = &r->rows[r->count];
	memset(*row, 0, sizeof(**row));
	(*row)->person = *p;
	(*row)->pin = r->has_pin ? r->pins + r->count * SECRET_PIN_MAX : NULL;
	r->count++;
	return 0;
}

void roster_free(struct roster *r)
{
	if (r->pins)
		secret_free(r->pins);	/* sodium_free wipes */
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

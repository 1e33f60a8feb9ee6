/*
 * mysql_stmt.c -- the libmariadb program behind testdata/pcaps/mysql_stmt.pcap
 * and mysql_compress.pcap (see generate.sh and mysql_workload.py).
 *
 *   gcc -O2 -o mysql_stmt mysql_stmt.c $(mariadb_config --cflags --libs)
 *   mysql_stmt [--compress] [--queries FILE] HOST PORT USER PASSWORD DB OUT.json
 *
 * One connection (no TLS, character set utf8mb4; with --compress the client
 * asks for the compressed protocol).  With --queries, the NUL-terminated
 * queries in FILE are first sent with mysql_real_query() (text protocol),
 * every result of each one read.  Then the prepared statements:
 *
 *  - for each parameter type (TINY ... NULL, integers signed and unsigned)
 *    a new statement "SELECT ?, ?, ?", three parameters of that type bound
 *    (the middle one NULL for every third type), executed once; the result
 *    row must give back the same values (but MariaDB refuses JSON, error
 *    1210, and reads YEAR parameters as NULL);
 *  - INT24, BIT and YEAR columns: an INSERT into the typed table
 *    stmt_types (created beforehand by generate.sh), executed, then executed
 *    again WITHOUT mysql_stmt_bind_param (new buffer contents, so the client
 *    sends new-params-bound-flag 0 and no types), then a parameterless
 *    SELECT of the table;
 *  - a BLOB parameter sent with mysql_stmt_send_long_data: one chunk that
 *    mysql_stmt_reset() discards (COM_STMT_RESET), then three chunks, then
 *    the execution;
 *  - a BLOB parameter sent in two long-data chunks but bound with
 *    is_null = 1: the execute's NULL bitmap marks it NULL, the server takes
 *    the long data all the same;
 *  - a BLOB parameter holding the 256 bytes 0x00 ... 0xFF (not UTF-8);
 *  - an INSERT into stmt_t that succeeds and one that violates the primary
 *    key (error 1062, SQLSTATE 23000);
 *  - finally mysql_stmt_close() on every statement, in order of creation.
 *
 * OUT.json gets one object per COM_STMT_EXECUTE, in order (see
 * mysql_workload.py, STMT_EXPECTED_JSON, for the keys).  Every value in it
 * is checked here against what the server sent back; the program exits
 * non-zero when anything differs.  Strings and BLOBs are written as their
 * text when they are valid UTF-8 and do not begin with the two characters
 * backslash 'x', otherwise as "\x" and two lower-case hex digits per byte
 * (PostgreSQL's bytea hex form), so every byte string has one text and
 * different byte strings have different texts.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#define NPARAM 3
#define MAXSTR 4096
#define MAXSTMT 64
#define MAXCOL 8

static FILE *out;
static int n_entries;
static int failures;
static MYSQL *conn;
static MYSQL_STMT *stmts[MAXSTMT];
static int n_stmts;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mysql_stmt: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void mismatch(const char *what, const char *want, const char *got) {
  fprintf(stderr, "mysql_stmt: MISMATCH %s: sent %s, server gave %s\n", what, want, got);
  failures++;
}

/* ------------------------------------------------------------- JSON */

static void json_str(const char *s, size_t n) {
  size_t i;
  fputc('"', out);
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", out);
    else if (c == '\t')
      fputs("\\t", out);
    else if (c < 0x20 || c == 0x7f)
      fprintf(out, "\\u%04x", c);
    else
      fputc(c, out); /* UTF-8 passes through */
  }
  fputc('"', out);
}

static void json_cstr(const char *s) { json_str(s, strlen(s)); }

/* ------------------------------------------------------- canonical text */

/* strict UTF-8 as Python's bytes.decode("utf-8") reads it: no overlong
   forms, no surrogates, nothing above U+10FFFF */
static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t k, need;
    unsigned long cp;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) need = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) need = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) need = 3, cp = c & 0x07;
    else return 0;
    if (n - i <= need) return 0;
    for (k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return 0;
    i += need + 1;
  }
  return 1;
}

/* the canonical text of n bytes (see the top of this file) into buf */
static void bytes_text(char *buf, size_t bufn, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i;
  if (utf8_valid(u, n) && !(n >= 2 && s[0] == '\\' && s[1] == 'x')) {
    if (n >= bufn) die("value too long");
    /* this program keeps canonical texts as C strings: refuse a NUL
       rather than cut the value short */
    if (memchr(s, 0, n)) die("a UTF-8 value with a NUL byte");
    memcpy(buf, s, n);
    buf[n] = 0;
    return;
  }
  if (2 + 2 * n >= bufn) die("value too long");
  buf[0] = '\\';
  buf[1] = 'x';
  for (i = 0; i < n; i++) snprintf(buf + 2 + 2 * i, 3, "%02x", u[i]);
}

static void json_bytes(const char *s, size_t n) {
  size_t bufn = 2 * n + 3;
  char *buf = malloc(bufn);
  if (!buf) die("out of memory");
  bytes_text(buf, bufn, s, n);
  json_cstr(buf);
  free(buf);
}

/* shortest %.Ng that reads back as the same float / double */
static void fmt_float(char *buf, size_t n, float f) {
  int p;
  for (p = 1; p <= 9; p++) {
    snprintf(buf, n, "%.*g", p, (double)f);
    if (strtof(buf, NULL) == f) return;
  }
  snprintf(buf, n, "%.9g", (double)f);
}

static void fmt_double(char *buf, size_t n, double d) {
  int p;
  for (p = 1; p <= 17; p++) {
    snprintf(buf, n, "%.*g", p, d);
    if (strtod(buf, NULL) == d) return;
  }
  snprintf(buf, n, "%.17g", d);
}

static void fmt_frac(char *buf, size_t n, unsigned long us) {
  if (us)
    snprintf(buf, n, ".%06lu", us);
  else
    buf[0] = 0;
}

/* YYYY-MM-DD, YYYY-MM-DD HH:MM:SS[.ffffff], [-]HH:MM:SS[.ffffff] */
static void fmt_time(char *buf, size_t n, enum enum_field_types type, const MYSQL_TIME *t) {
  char frac[32];
  fmt_frac(frac, sizeof frac, t->second_part);
  if (type == MYSQL_TYPE_DATE)
    snprintf(buf, n, "%04u-%02u-%02u", t->year, t->month, t->day);
  else if (type == MYSQL_TYPE_TIME)
    snprintf(buf, n, "%s%02lu:%02u:%02u%s", t->neg ? "-" : "",
             (unsigned long)t->day * 24 + t->hour, t->minute, t->second, frac);
  else
    snprintf(buf, n, "%04u-%02u-%02u %02u:%02u:%02u%s", t->year, t->month, t->day,
             t->hour, t->minute, t->second, frac);
}

/* ---------------------------------------------------------- values */

typedef struct {
  enum enum_field_types type;
  my_bool is_unsigned;
  my_bool is_null;
  union {
    signed char i8;
    unsigned char u8;
    short i16;
    unsigned short u16;
    int i32;
    unsigned int u32;
    long long i64;
    unsigned long long u64;
    float f;
    double d;
    MYSQL_TIME t;
  } v;
  char s[MAXSTR];
  unsigned long len;
} value_t;

static int is_text_type(enum enum_field_types t) {
  switch (t) {
    case MYSQL_TYPE_NEWDECIMAL:
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_JSON:
    case MYSQL_TYPE_ENUM:
    case MYSQL_TYPE_SET:
    case MYSQL_TYPE_BIT:
      return 1;
    default:
      return 0;
  }
}

static int is_time_type(enum enum_field_types t) {
  return t == MYSQL_TYPE_DATE || t == MYSQL_TYPE_DATETIME || t == MYSQL_TYPE_TIMESTAMP ||
         t == MYSQL_TYPE_TIME;
}

/* the canonical text of a value (see mysql_workload.py); NULL -> 0 */
static int value_text(const value_t *v, char *buf, size_t n) {
  if (v->is_null || v->type == MYSQL_TYPE_NULL) return 0;
  switch (v->type) {
    case MYSQL_TYPE_TINY:
      if (v->is_unsigned) snprintf(buf, n, "%u", v->v.u8);
      else snprintf(buf, n, "%d", v->v.i8);
      break;
    case MYSQL_TYPE_SHORT:
      if (v->is_unsigned) snprintf(buf, n, "%u", v->v.u16);
      else snprintf(buf, n, "%d", v->v.i16);
      break;
    case MYSQL_TYPE_YEAR:
      snprintf(buf, n, "%u", v->v.u16);
      break;
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
      if (v->is_unsigned) snprintf(buf, n, "%u", v->v.u32);
      else snprintf(buf, n, "%d", v->v.i32);
      break;
    case MYSQL_TYPE_LONGLONG:
      if (v->is_unsigned) snprintf(buf, n, "%llu", v->v.u64);
      else snprintf(buf, n, "%lld", v->v.i64);
      break;
    case MYSQL_TYPE_FLOAT:
      fmt_float(buf, n, v->v.f);
      break;
    case MYSQL_TYPE_DOUBLE:
      fmt_double(buf, n, v->v.d);
      break;
    case MYSQL_TYPE_BIT: {
      /* big-endian bytes -> unsigned integer */
      unsigned long long x = 0;
      unsigned long i;
      for (i = 0; i < v->len; i++) x = x << 8 | (unsigned char)v->s[i];
      snprintf(buf, n, "%llu", x);
      break;
    }
    default:
      if (is_time_type(v->type)) {
        fmt_time(buf, n, v->type, &v->v.t);
      } else {
        bytes_text(buf, n, v->s, v->len);
      }
  }
  return 1;
}

static void bind_value(MYSQL_BIND *b, value_t *v) {
  memset(b, 0, sizeof *b);
  b->buffer_type = v->type;
  b->is_unsigned = v->is_unsigned;
  b->is_null = &v->is_null;
  if (v->type == MYSQL_TYPE_NULL) {
    b->buffer = NULL;
  } else if (is_text_type(v->type)) {
    b->buffer = v->s;
    b->buffer_length = v->len;
    b->length = &v->len;
  } else {
    b->buffer = &v->v;
  }
}

/* parameter constructors */
static value_t P(enum enum_field_types type, my_bool uns) {
  value_t v;
  memset(&v, 0, sizeof v);
  v.type = type;
  v.is_unsigned = uns;
  return v;
}
static value_t NUL(enum enum_field_types type, my_bool uns) {
  value_t v = P(type, uns);
  v.is_null = 1;
  return v;
}
static value_t I8(signed char x) { value_t v = P(MYSQL_TYPE_TINY, 0); v.v.i8 = x; return v; }
static value_t U8(unsigned char x) { value_t v = P(MYSQL_TYPE_TINY, 1); v.v.u8 = x; return v; }
static value_t I16(short x) { value_t v = P(MYSQL_TYPE_SHORT, 0); v.v.i16 = x; return v; }
static value_t U16(unsigned short x) { value_t v = P(MYSQL_TYPE_SHORT, 1); v.v.u16 = x; return v; }
static value_t I32(int x) { value_t v = P(MYSQL_TYPE_LONG, 0); v.v.i32 = x; return v; }
static value_t U32(unsigned x) { value_t v = P(MYSQL_TYPE_LONG, 1); v.v.u32 = x; return v; }
static value_t I64(long long x) { value_t v = P(MYSQL_TYPE_LONGLONG, 0); v.v.i64 = x; return v; }
static value_t U64(unsigned long long x) { value_t v = P(MYSQL_TYPE_LONGLONG, 1); v.v.u64 = x; return v; }
static value_t F32(float x) { value_t v = P(MYSQL_TYPE_FLOAT, 0); v.v.f = x; return v; }
static value_t F64(double x) { value_t v = P(MYSQL_TYPE_DOUBLE, 0); v.v.d = x; return v; }
static value_t YEAR(unsigned short x) { value_t v = P(MYSQL_TYPE_YEAR, 0); v.v.u16 = x; return v; }
static value_t BYTES(enum enum_field_types type, const void *s, unsigned long n) {
  value_t v = P(type, 0);
  if (n >= MAXSTR) die("literal too long");
  memcpy(v.s, s, n);
  v.len = n;
  return v;
}
static value_t TXT(enum enum_field_types type, const char *s) {
  return BYTES(type, s, (unsigned long)strlen(s));
}
static value_t DT(enum enum_field_types type, unsigned y, unsigned mo, unsigned d, unsigned h,
                  unsigned mi, unsigned s, unsigned long us) {
  value_t v = P(type, 0);
  v.v.t.year = y;
  v.v.t.month = mo;
  v.v.t.day = d;
  v.v.t.hour = h;
  v.v.t.minute = mi;
  v.v.t.second = s;
  v.v.t.second_part = us;
  v.v.t.time_type = type == MYSQL_TYPE_DATE ? MYSQL_TIMESTAMP_DATE : MYSQL_TIMESTAMP_DATETIME;
  return v;
}
static value_t TM(int neg, unsigned days, unsigned h, unsigned mi, unsigned s, unsigned long us) {
  value_t v = P(MYSQL_TYPE_TIME, 0);
  v.v.t.neg = (my_bool)neg;
  v.v.t.day = days;
  v.v.t.hour = h;
  v.v.t.minute = mi;
  v.v.t.second = s;
  v.v.t.second_part = us;
  v.v.t.time_type = MYSQL_TIMESTAMP_TIME;
  return v;
}

/* ------------------------------------------------------ result fetch */

/* a fetched column: the value in the C type of the column's type */
typedef struct {
  value_t v;
  MYSQL_FIELD *field;
} col_t;

static MYSQL_STMT *prepare(const char *query) {
  MYSQL_STMT *st;
  if (n_stmts == MAXSTMT) die("too many statements");
  if (!(st = mysql_stmt_init(conn))) die("mysql_stmt_init: %s", mysql_error(conn));
  if (mysql_stmt_prepare(st, query, (unsigned long)strlen(query)))
    die("prepare %s: %s", query, mysql_stmt_error(st));
  stmts[n_stmts++] = st;
  return st;
}

/* read all rows of the current result: into rows[][] as canonical text
   ("\x01" marks NULL); returns the row count */
#define NULLTXT "\x01"
static int fetch_all(MYSQL_STMT *st, char rows[][MAXCOL][MAXSTR], int max_rows, int *ncols,
                     enum enum_field_types *types, my_bool *uns) {
  MYSQL_RES *meta = mysql_stmt_result_metadata(st);
  MYSQL_BIND b[MAXCOL];
  col_t c[MAXCOL];
  int n, i, r = 0, rc;
  if (!meta) die("no result metadata: %s", mysql_stmt_error(st));
  n = (int)mysql_num_fields(meta);
  if (n > MAXCOL) die("too many columns");
  *ncols = n;
  memset(b, 0, sizeof b);
  for (i = 0; i < n; i++) {
    MYSQL_FIELD *f = mysql_fetch_field_direct(meta, (unsigned)i);
    value_t *v = &c[i].v;
    memset(v, 0, sizeof *v);
    c[i].field = f;
    types[i] = f->type;
    uns[i] = (f->flags & UNSIGNED_FLAG) != 0;
    v->type = f->type;
    v->is_unsigned = uns[i];
    b[i].is_null = &v->is_null;
    b[i].is_unsigned = v->is_unsigned;
    if (f->type == MYSQL_TYPE_BIT) {
      /* raw big-endian bytes */
      b[i].buffer_type = MYSQL_TYPE_BLOB;
      b[i].buffer = v->s;
      b[i].buffer_length = MAXSTR;
      b[i].length = &v->len;
    } else if (is_text_type(f->type) || f->type == MYSQL_TYPE_NULL) {
      b[i].buffer_type = MYSQL_TYPE_STRING;
      b[i].buffer = v->s;
      b[i].buffer_length = MAXSTR;
      b[i].length = &v->len;
    } else if (f->type == MYSQL_TYPE_INT24) {
      b[i].buffer_type = MYSQL_TYPE_LONG;
      b[i].buffer = &v->v;
    } else {
      b[i].buffer_type = f->type;
      b[i].buffer = &v->v;
    }
  }
  if (mysql_stmt_bind_result(st, b)) die("bind_result: %s", mysql_stmt_error(st));
  if (mysql_stmt_store_result(st)) die("store_result: %s", mysql_stmt_error(st));
  while ((rc = mysql_stmt_fetch(st)) == 0) {
    if (r == max_rows) die("too many rows");
    for (i = 0; i < n; i++) {
      if (c[i].v.type == MYSQL_TYPE_NULL) c[i].v.is_null = 1;
      if (!value_text(&c[i].v, rows[r][i], MAXSTR)) strcpy(rows[r][i], NULLTXT);
    }
    r++;
  }
  if (rc != MYSQL_NO_DATA) die("fetch: %d %s", rc, mysql_stmt_error(st));
  mysql_free_result(meta);
  mysql_stmt_free_result(st);
  return r;
}

/* ------------------------------------------------------ executions */

typedef struct {
  const char *name;   /* label, also in the JSON */
  int new_params_bound;
  const char *long_data_chunks[4];  /* for param 0, NULL-terminated */
  const char *discarded_chunk;      /* sent, then dropped by mysql_stmt_reset */
} exec_opts;

static void json_value(const value_t *v) {
  char buf[MAXSTR + 64];
  if (!value_text(v, buf, sizeof buf))
    fputs("null", out);
  else
    json_cstr(buf);
}

/* executes st with params p[0..np) (already bound, unless opts say not),
   writes the JSON entry, checks the result against want (canonical text
   of each column or NULL; may be NULL = not checked) */
static void execute(MYSQL_STMT *st, const char *query, value_t *p, int np, const exec_opts *o,
                    int want_error, const char *want_sqlstate,
                    char (*want_rows)[MAXCOL][MAXSTR], int want_nrows) {
  static char rows[16][MAXCOL][MAXSTR];
  enum enum_field_types rtypes[MAXCOL];
  my_bool runs[MAXCOL];
  int ncols = 0, nrows = 0, i, j, rc;
  char label[256];
  snprintf(label, sizeof label, "%s", o->name);

  if (o->discarded_chunk) {
    if (mysql_stmt_send_long_data(st, 0, o->discarded_chunk,
                                  (unsigned long)strlen(o->discarded_chunk)))
      die("send_long_data: %s", mysql_stmt_error(st));
    if (mysql_stmt_reset(st)) die("mysql_stmt_reset: %s", mysql_stmt_error(st));
  }
  for (i = 0; o->long_data_chunks[i]; i++) {
    if (mysql_stmt_send_long_data(st, 0, o->long_data_chunks[i],
                                  (unsigned long)strlen(o->long_data_chunks[i])))
      die("send_long_data: %s", mysql_stmt_error(st));
  }
  rc = mysql_stmt_execute(st);

  fprintf(out, "%s  {\"name\": ", n_entries++ ? ",\n" : "");
  json_cstr(o->name);
  fputs(", \"query\": ", out);
  json_cstr(query);
  fprintf(out, ", \"stmt_id\": %lu, \"new_params_bound\": %s,\n   \"types\": [", st->stmt_id,
          o->new_params_bound ? "true" : "false");
  for (i = 0; i < np; i++) fprintf(out, "%s%d", i ? ", " : "", (int)p[i].type);
  fputs("], \"unsigned\": [", out);
  for (i = 0; i < np; i++) fprintf(out, "%s%s", i ? ", " : "", p[i].is_unsigned ? "true" : "false");
  fputs("],\n   \"values\": [", out);
  for (i = 0; i < np; i++) {
    if (i) fputs(", ", out);
    if (i == 0 && o->long_data_chunks[0]) {
      /* the concatenated chunks, also when is_null marks the parameter
         NULL: the server takes the long data then too */
      char buf[MAXSTR];
      buf[0] = 0;
      for (j = 0; o->long_data_chunks[j]; j++) strcat(buf, o->long_data_chunks[j]);
      json_bytes(buf, strlen(buf));
    } else {
      json_value(&p[i]);
    }
  }
  fputs("]", out);
  if (o->long_data_chunks[0]) {
    fputs(",\n   \"long_data\": [{\"param\": 0, \"chunks\": [", out);
    for (j = 0; o->long_data_chunks[j]; j++) {
      if (j) fputs(", ", out);
      json_bytes(o->long_data_chunks[j], strlen(o->long_data_chunks[j]));
    }
    fputs("]}]", out);
    if (o->discarded_chunk) {
      fputs(", \"reset_before\": true, \"discarded_chunks\": [", out);
      json_bytes(o->discarded_chunk, strlen(o->discarded_chunk));
      fputs("]", out);
    }
  }

  if (rc) {
    const char *state = mysql_stmt_sqlstate(st);
    fprintf(out, ",\n   \"error\": %u, \"sql_state\": ", mysql_stmt_errno(st));
    json_cstr(state);
    fputs("}", out);
    if ((int)mysql_stmt_errno(st) != want_error || strcmp(state, want_sqlstate)) {
      fprintf(stderr, "mysql_stmt: %s: error %u %s (%s), want %d\n", label,
              mysql_stmt_errno(st), state, mysql_stmt_error(st), want_error);
      failures++;
    }
    printf("%-22s stmt %lu: error %u (%s)\n", label, st->stmt_id, mysql_stmt_errno(st), state);
    return;
  }
  if (want_error) {
    fprintf(stderr, "mysql_stmt: %s: no error, want %d\n", label, want_error);
    failures++;
  }
  if (mysql_stmt_field_count(st) == 0) {
    fprintf(out, ",\n   \"affected_rows\": %llu, \"last_insert_id\": %llu}",
            (unsigned long long)mysql_stmt_affected_rows(st),
            (unsigned long long)mysql_stmt_insert_id(st));
    printf("%-22s stmt %lu: OK, %llu affected, insert id %llu\n", label, st->stmt_id,
           (unsigned long long)mysql_stmt_affected_rows(st),
           (unsigned long long)mysql_stmt_insert_id(st));
    return;
  }
  nrows = fetch_all(st, rows, 16, &ncols, rtypes, runs);
  fputs(",\n   \"result_types\": [", out);
  for (i = 0; i < ncols; i++) fprintf(out, "%s%d", i ? ", " : "", (int)rtypes[i]);
  fputs("], \"result_unsigned\": [", out);
  for (i = 0; i < ncols; i++) fprintf(out, "%s%s", i ? ", " : "", runs[i] ? "true" : "false");
  fputs("],\n   \"rows\": [", out);
  for (i = 0; i < nrows; i++) {
    fputs(i ? ", [" : "[", out);
    for (j = 0; j < ncols; j++) {
      if (j) fputs(", ", out);
      if (!strcmp(rows[i][j], NULLTXT))
        fputs("null", out);
      else
        json_cstr(rows[i][j]);
    }
    fputs("]", out);
  }
  fputs("]}", out);
  printf("%-22s stmt %lu: %d row(s) of %d column(s)\n", label, st->stmt_id, nrows, ncols);
  if (want_rows) {
    if (nrows != want_nrows) {
      char a[16], b[16];
      snprintf(a, sizeof a, "%d rows", want_nrows);
      snprintf(b, sizeof b, "%d rows", nrows);
      mismatch(label, a, b);
    }
    /* canonical texts stand for the bytes one to one (hex where they are
       not UTF-8), so comparing them compares contents and lengths, NUL
       bytes included */
    for (i = 0; i < nrows && i < want_nrows; i++)
      for (j = 0; j < ncols; j++)
        if (strcmp(want_rows[i][j], rows[i][j])) mismatch(label, want_rows[i][j], rows[i][j]);
  }
}

/* "SELECT ?, ?, ?" with three values of one type; the server must give
   them back unchanged (same canonical text), or, with server_nulls, as
   three NULLs: MariaDB reads a YEAR parameter as NULL (it does not take
   that type code from clients) */
static void select_three(const char *name, value_t a, value_t b, value_t c, int server_nulls,
                         int want_error, const char *want_sqlstate) {
  static const char *query = "SELECT ?, ?, ?";
  static char want[1][MAXCOL][MAXSTR];
  value_t p[NPARAM];
  MYSQL_BIND bind[NPARAM];
  MYSQL_STMT *st = prepare(query);
  exec_opts o;
  int i;
  memset(&o, 0, sizeof o);
  o.name = name;
  o.new_params_bound = 1;
  p[0] = a;
  p[1] = b;
  p[2] = c;
  for (i = 0; i < NPARAM; i++) {
    bind_value(&bind[i], &p[i]);
    if (server_nulls || !value_text(&p[i], want[0][i], MAXSTR)) strcpy(want[0][i], NULLTXT);
  }
  if (mysql_stmt_param_count(st) != NPARAM) die("param count");
  if (mysql_stmt_bind_param(st, bind)) die("bind_param %s: %s", name, mysql_stmt_error(st));
  execute(st, query, p, NPARAM, &o, want_error, want_sqlstate, want, 1);
}

#define SELECT3(name, a, b, c) select_three(name, a, b, c, 0, 0, NULL)

static void run_queries(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf, *q, *end;
  long n;
  int k = 0;
  if (!f) die("%s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  rewind(f);
  if (!(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n)
    die("cannot read %s", path);
  fclose(f);
  buf[n] = 0;
  end = buf + n;
  for (q = buf; q < end; q += strlen(q) + 1) {
    int status, nres = 0;
    if (mysql_real_query(conn, q, (unsigned long)strlen(q))) {
      printf("query %d: error %u (%s)\n", k++, mysql_errno(conn), mysql_sqlstate(conn));
      continue;
    }
    do {
      MYSQL_RES *res = mysql_store_result(conn);
      if (res) {
        printf("query %d result %d: %llu row(s)\n", k, nres, (unsigned long long)mysql_num_rows(res));
        mysql_free_result(res);
      } else if (mysql_field_count(conn) == 0) {
        printf("query %d result %d: OK, %llu affected\n", k, nres,
               (unsigned long long)mysql_affected_rows(conn));
      } else {
        die("query %d: %s", k, mysql_error(conn));
      }
      nres++;
    } while ((status = mysql_next_result(conn)) == 0);
    if (status > 0) printf("query %d: error %u (%s)\n", k, mysql_errno(conn), mysql_sqlstate(conn));
    k++;
  }
  free(buf);
}

int main(int argc, char **argv) {
  int compress = 0, i;
  const char *queries = NULL;
  unsigned int port;
  char blob_big[2100];

  while (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-') {
    if (!strcmp(argv[1], "--compress")) {
      compress = 1;
      argv++, argc--;
    } else if (!strcmp(argv[1], "--queries") && argc > 2) {
      queries = argv[2];
      argv += 2, argc -= 2;
    } else {
      break;
    }
  }
  if (argc != 7)
    die("usage: mysql_stmt [--compress] [--queries FILE] HOST PORT USER PASSWORD DB OUT.json");
  port = (unsigned)atoi(argv[2]);

  if (!(conn = mysql_init(NULL))) die("mysql_init");
  mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_options(conn, MYSQL_READ_DEFAULT_FILE, "/dev/null"); /* no my.cnf */
  if (compress) mysql_options(conn, MYSQL_OPT_COMPRESS, NULL);
  {
    my_bool no = 0;
    mysql_optionsv(conn, MYSQL_OPT_SSL_ENFORCE, &no);
  }
  /* CLIENT_MULTI_STATEMENTS: the --queries may hold "SELECT 1; SELECT 2" */
  if (!mysql_real_connect(conn, argv[1], argv[3], argv[4], argv[5], port, NULL,
                          CLIENT_MULTI_STATEMENTS))
    die("connect: %s", mysql_error(conn));
  printf("client %s, server %s, compress %d\n", mysql_get_client_info(),
         mysql_get_server_info(conn), compress);
  if (!(out = fopen(argv[6], "w"))) die("%s: %s", argv[6], strerror(errno));
  fputs("[\n", out);

  if (queries) run_queries(queries);

  /* one statement per type; the middle parameter is NULL for every third */
  SELECT3("TINY", I8(-128), I8(127), I8(-1));
  SELECT3("TINY UNSIGNED", U8(255), U8(0), U8(128));
  SELECT3("SHORT", I16(-32768), NUL(MYSQL_TYPE_SHORT, 0), I16(32767));
  SELECT3("SHORT UNSIGNED", U16(65535), U16(0), U16(32768));
  SELECT3("LONG", I32(-2147483647 - 1), I32(2147483647), I32(-1));
  SELECT3("LONG UNSIGNED", U32(4294967295u), NUL(MYSQL_TYPE_LONG, 1), U32(2147483648u));
  SELECT3("LONGLONG", I64(-9223372036854775807LL - 1), I64(9223372036854775807LL), I64(-1));
  SELECT3("LONGLONG UNSIGNED", U64(18446744073709551615ULL), U64(0),
               U64(9223372036854775808ULL));
  SELECT3("FLOAT", F32(3.14f), NUL(MYSQL_TYPE_FLOAT, 0), F32(-1.5e30f));
  SELECT3("DOUBLE", F64(0.1), F64(-123456.789), F64(1e100));
  SELECT3("NEWDECIMAL", TXT(MYSQL_TYPE_NEWDECIMAL, "-12345.6789"),
               TXT(MYSQL_TYPE_NEWDECIMAL, "0.001"),
               TXT(MYSQL_TYPE_NEWDECIMAL, "99999999999999999999.99"));
  SELECT3("STRING", TXT(MYSQL_TYPE_STRING, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93"),
               NUL(MYSQL_TYPE_STRING, 0), TXT(MYSQL_TYPE_STRING, ""));
  SELECT3("VAR_STRING", TXT(MYSQL_TYPE_VAR_STRING, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80"),
               TXT(MYSQL_TYPE_VAR_STRING, "it's \"quoted\" \\ back"),
               TXT(MYSQL_TYPE_VAR_STRING, "tab\there\nnewline"));
  SELECT3("BLOB", TXT(MYSQL_TYPE_BLOB, "blob text one"), TXT(MYSQL_TYPE_BLOB, "second blob"),
               TXT(MYSQL_TYPE_BLOB, "x"));
  /* MYSQL_TYPE_JSON (245) on the wire: MariaDB refuses the type code
     (error 1210, "Incorrect arguments to mysqld_stmt_execute") */
  select_three("JSON", TXT(MYSQL_TYPE_JSON, "{\"a\": [1, 2.5, \"x\"], \"b\": null}"),
               NUL(MYSQL_TYPE_JSON, 0), TXT(MYSQL_TYPE_JSON, "[]"), 0, 1210, "HY000");
  /* the same JSON documents bound as MYSQL_TYPE_STRING */
  SELECT3("JSON as STRING", TXT(MYSQL_TYPE_STRING, "{\"a\": [1, 2.5, \"x\"], \"b\": null}"),
          TXT(MYSQL_TYPE_STRING, "{\"k\": \"caf\xc3\xa9\"}"), TXT(MYSQL_TYPE_STRING, "[]"));
  SELECT3("DATE", DT(MYSQL_TYPE_DATE, 2024, 2, 29, 0, 0, 0, 0),
          DT(MYSQL_TYPE_DATE, 1000, 1, 1, 0, 0, 0, 0),
          DT(MYSQL_TYPE_DATE, 9999, 12, 31, 0, 0, 0, 0));
  SELECT3("DATETIME", DT(MYSQL_TYPE_DATETIME, 2024, 2, 29, 23, 59, 58, 123456),
          NUL(MYSQL_TYPE_DATETIME, 0), DT(MYSQL_TYPE_DATETIME, 2038, 1, 19, 3, 14, 7, 1));
  /* lengths 11, 4 (midnight) and 7 on the wire */
  SELECT3("TIMESTAMP", DT(MYSQL_TYPE_TIMESTAMP, 2024, 6, 30, 12, 0, 0, 999999),
          DT(MYSQL_TYPE_TIMESTAMP, 2020, 1, 1, 0, 0, 0, 0),
          DT(MYSQL_TYPE_TIMESTAMP, 1970, 1, 1, 0, 0, 1, 0));
  /* lengths 12, 8 and 0 on the wire; -1 day 2 hours = -26:00:00 */
  SELECT3("TIME", TM(1, 1, 2, 0, 0, 123456), TM(0, 34, 22, 59, 59, 0), TM(0, 0, 0, 0, 0, 0));
  /* MariaDB takes a YEAR parameter as NULL: the values travel, the
     result row is three NULLs */
  select_three("YEAR", YEAR(2024), NUL(MYSQL_TYPE_YEAR, 0), YEAR(2155), 1, 0, NULL);
  SELECT3("NULL", NUL(MYSQL_TYPE_NULL, 0), NUL(MYSQL_TYPE_NULL, 0), NUL(MYSQL_TYPE_NULL, 0));

  /* INT24, BIT and YEAR columns through a typed table (libmariadb cannot
     bind INT24 or BIT parameters); the second execution is
     the same statement WITHOUT mysql_stmt_bind_param: new values in the
     same buffers, sent with new-params-bound-flag 0 */
  {
    static const char *q = "INSERT INTO stmt_types (m, mu, b, y) VALUES (?, ?, ?, ?)";
    static char want[2][MAXCOL][MAXSTR];
    MYSQL_STMT *st = prepare(q);
    value_t p[4];
    MYSQL_BIND bind[4];
    exec_opts o;
    memset(&o, 0, sizeof o);
    p[0] = I32(-8388608);
    p[1] = U32(16777215);
    p[2] = U64(0x1ABCD);
    p[3] = U16(1999);          /* YEAR column; a YEAR parameter would be NULL */
    for (i = 0; i < 4; i++) bind_value(&bind[i], &p[i]);
    if (mysql_stmt_bind_param(st, bind)) die("bind_param: %s", mysql_stmt_error(st));
    o.name = "INSERT stmt_types";
    o.new_params_bound = 1;
    execute(st, q, p, 4, &o, 0, NULL, NULL, 0);
    p[0].v.i32 = 8388607;
    p[1].v.u32 = 0;
    p[2].v.u64 = 0x1FFFF;
    p[3].v.u16 = 2155;
    o.name = "INSERT stmt_types again";
    o.new_params_bound = 0;
    execute(st, q, p, 4, &o, 0, NULL, NULL, 0);

    q = "SELECT id, m, mu, b, y FROM stmt_types ORDER BY id";
    st = prepare(q);
    o.name = "SELECT stmt_types";
    o.new_params_bound = 0;
    strcpy(want[0][0], "1");
    strcpy(want[0][1], "-8388608");
    strcpy(want[0][2], "16777215");
    strcpy(want[0][3], "109517");
    strcpy(want[0][4], "1999");
    strcpy(want[1][0], "2");
    strcpy(want[1][1], "8388607");
    strcpy(want[1][2], "0");
    strcpy(want[1][3], "131071");
    strcpy(want[1][4], "2155");
    execute(st, q, NULL, 0, &o, 0, NULL, want, 2);
  }

  /* a BLOB parameter sent in three COM_STMT_SEND_LONG_DATA chunks, after
     a chunk that mysql_stmt_reset() discards */
  {
    static const char *q = "SELECT ?, LENGTH(?), ?";
    static char want[1][MAXCOL][MAXSTR];
    MYSQL_STMT *st = prepare(q);
    value_t p[3];
    MYSQL_BIND bind[3];
    exec_opts o;
    for (i = 0; i < (int)sizeof blob_big - 1; i++) blob_big[i] = (char)('a' + i % 26);
    blob_big[sizeof blob_big - 1] = 0;
    memset(&o, 0, sizeof o);
    o.name = "BLOB long data";
    o.new_params_bound = 1;
    o.discarded_chunk = "discarded by COM_STMT_RESET";
    o.long_data_chunks[0] = "first chunk|";
    o.long_data_chunks[1] = blob_big;
    o.long_data_chunks[2] = "|last chunk";
    p[0] = P(MYSQL_TYPE_BLOB, 0);
    p[1] = TXT(MYSQL_TYPE_BLOB, "12345");
    p[2] = TXT(MYSQL_TYPE_VAR_STRING, "after the long data");
    for (i = 0; i < 3; i++) bind_value(&bind[i], &p[i]);
    if (mysql_stmt_bind_param(st, bind)) die("bind_param: %s", mysql_stmt_error(st));
    snprintf(want[0][0], MAXSTR, "first chunk|%s|last chunk", blob_big);
    strcpy(want[0][1], "5");
    strcpy(want[0][2], "after the long data");
    execute(st, q, p, 3, &o, 0, NULL, want, 1);
  }

  /* long data under the NULL bit.  Bound with is_null = 1 (buffer and
     length set as for any BLOB), libmariadb 3.3 still sends the chunks
     with mysql_stmt_send_long_data and, in the COM_STMT_EXECUTE, sets the
     parameter's NULL bit and sends no value for it: its execute request
     checks long_data_used and is_null independently.  MariaDB reads a
     parameter that got long data from that data whatever the NULL bitmap
     says, so the row gives back the chunks.  The second parameter is NULL
     without long data: its NULL bit means NULL (LENGTH(NULL)) */
  {
    static const char *q = "SELECT ?, LENGTH(?)";
    static char want[1][MAXCOL][MAXSTR];
    MYSQL_STMT *st = prepare(q);
    value_t p[2];
    MYSQL_BIND bind[2];
    exec_opts o;
    memset(&o, 0, sizeof o);
    o.name = "long data under NULL bit";
    o.new_params_bound = 1;
    o.long_data_chunks[0] = "chunk one|";
    o.long_data_chunks[1] = "chunk two";
    p[0] = NUL(MYSQL_TYPE_BLOB, 0);
    p[1] = NUL(MYSQL_TYPE_BLOB, 0);
    for (i = 0; i < 2; i++) bind_value(&bind[i], &p[i]);
    if (mysql_stmt_bind_param(st, bind)) die("bind_param: %s", mysql_stmt_error(st));
    strcpy(want[0][0], "chunk one|chunk two");
    strcpy(want[0][1], NULLTXT);
    execute(st, q, p, 2, &o, 0, NULL, want, 1);
  }

  /* a BLOB of the 256 bytes 0x00 ... 0xFF in order: not UTF-8, with NULs;
     the row must give back all 256 bytes and LENGTH 256 */
  {
    static const char *q = "SELECT ?, LENGTH(?)";
    static char want[1][MAXCOL][MAXSTR];
    unsigned char all[256];
    MYSQL_STMT *st = prepare(q);
    value_t p[2];
    MYSQL_BIND bind[2];
    exec_opts o;
    for (i = 0; i < 256; i++) all[i] = (unsigned char)i;
    memset(&o, 0, sizeof o);
    o.name = "BLOB bytes 0x00-0xFF";
    o.new_params_bound = 1;
    p[0] = BYTES(MYSQL_TYPE_BLOB, all, sizeof all);
    p[1] = BYTES(MYSQL_TYPE_BLOB, all, sizeof all);
    for (i = 0; i < 2; i++) bind_value(&bind[i], &p[i]);
    if (mysql_stmt_bind_param(st, bind)) die("bind_param: %s", mysql_stmt_error(st));
    bytes_text(want[0][0], MAXSTR, (const char *)all, sizeof all);
    if (strlen(want[0][0]) != 2 + 2 * sizeof all) die("0x00-0xFF: not in hex form");
    strcpy(want[0][1], "256");
    execute(st, q, p, 2, &o, 0, NULL, want, 1);
  }

  /* an INSERT that works, then one that violates the primary key */
  {
    static const char *q = "INSERT INTO stmt_t (id, v) VALUES (?, ?)";
    MYSQL_STMT *st = prepare(q);
    value_t p[2];
    MYSQL_BIND bind[2];
    exec_opts o;
    memset(&o, 0, sizeof o);
    o.new_params_bound = 1;
    p[0] = I32(7);
    p[1] = TXT(MYSQL_TYPE_STRING, "first");
    for (i = 0; i < 2; i++) bind_value(&bind[i], &p[i]);
    if (mysql_stmt_bind_param(st, bind)) die("bind_param: %s", mysql_stmt_error(st));
    o.name = "INSERT stmt_t";
    execute(st, q, p, 2, &o, 0, NULL, NULL, 0);
    p[1] = TXT(MYSQL_TYPE_STRING, "duplicate");
    for (i = 0; i < 2; i++) bind_value(&bind[i], &p[i]);
    if (mysql_stmt_bind_param(st, bind)) die("bind_param: %s", mysql_stmt_error(st));
    o.name = "INSERT stmt_t duplicate";
    execute(st, q, p, 2, &o, 1062, "23000", NULL, 0);
  }

  fputs("\n]\n", out);
  if (fclose(out)) die("cannot write %s", argv[6]);
  for (i = 0; i < n_stmts; i++)
    if (mysql_stmt_close(stmts[i])) die("mysql_stmt_close: %s", mysql_error(conn));
  mysql_close(conn);
  printf("%d executions, %d statements, %d mismatches\n", n_entries, n_stmts, failures);
  return failures ? 1 : 0;
}

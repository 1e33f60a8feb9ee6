/*
 * mysql_stmt_values.c -- the values of mysql_stmt (see mysql_stmt.c): the
 * value type, its constructors, its canonical text and the JSON writing
 * helpers.
 *
 * The canonical text of a string or BLOB is its text when it is valid
 * UTF-8 and does not begin with the two characters backslash 'x',
 * otherwise "\x" and two lower-case hex digits per byte (PostgreSQL's bytea
 * hex form), so every byte string has one text and different byte strings
 * have different texts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_stmt.h"

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

void json_cstr(const char *s) { json_str(s, strlen(s)); }

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
void bytes_text(char *buf, size_t bufn, const char *s, size_t n) {
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

void json_bytes(const char *s, size_t n) {
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

int is_text_type(enum enum_field_types t) {
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
int value_text(const value_t *v, char *buf, size_t n) {
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

void json_value(const value_t *v) {
  char buf[MAXSTR + 64];
  if (!value_text(v, buf, sizeof buf))
    fputs("null", out);
  else
    json_cstr(buf);
}

void bind_value(MYSQL_BIND *b, value_t *v) {
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
value_t P(enum enum_field_types type, my_bool uns) {
  value_t v;
  memset(&v, 0, sizeof v);
  v.type = type;
  v.is_unsigned = uns;
  return v;
}
value_t NUL(enum enum_field_types type, my_bool uns) {
  value_t v = P(type, uns);
  v.is_null = 1;
  return v;
}
value_t I8(signed char x) { value_t v = P(MYSQL_TYPE_TINY, 0); v.v.i8 = x; return v; }
value_t U8(unsigned char x) { value_t v = P(MYSQL_TYPE_TINY, 1); v.v.u8 = x; return v; }
value_t I16(short x) { value_t v = P(MYSQL_TYPE_SHORT, 0); v.v.i16 = x; return v; }
value_t U16(unsigned short x) { value_t v = P(MYSQL_TYPE_SHORT, 1); v.v.u16 = x; return v; }
value_t I32(int x) { value_t v = P(MYSQL_TYPE_LONG, 0); v.v.i32 = x; return v; }
value_t U32(unsigned x) { value_t v = P(MYSQL_TYPE_LONG, 1); v.v.u32 = x; return v; }
value_t I64(long long x) { value_t v = P(MYSQL_TYPE_LONGLONG, 0); v.v.i64 = x; return v; }
value_t U64(unsigned long long x) { value_t v = P(MYSQL_TYPE_LONGLONG, 1); v.v.u64 = x; return v; }
value_t F32(float x) { value_t v = P(MYSQL_TYPE_FLOAT, 0); v.v.f = x; return v; }
value_t F64(double x) { value_t v = P(MYSQL_TYPE_DOUBLE, 0); v.v.d = x; return v; }
value_t YEAR(unsigned short x) { value_t v = P(MYSQL_TYPE_YEAR, 0); v.v.u16 = x; return v; }
value_t BYTES(enum enum_field_types type, const void *s, unsigned long n) {
  value_t v = P(type, 0);
  if (n >= MAXSTR) die("literal too long");
  memcpy(v.s, s, n);
  v.len = n;
  return v;
}
value_t TXT(enum enum_field_types type, const char *s) {
  return BYTES(type, s, (unsigned long)strlen(s));
}
value_t DT(enum enum_field_types type, unsigned y, unsigned mo, unsigned d, unsigned h,
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
value_t TM(int neg, unsigned days, unsigned h, unsigned mi, unsigned s, unsigned long us) {
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

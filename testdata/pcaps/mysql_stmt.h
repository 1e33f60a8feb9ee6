/*
 * mysql_stmt.h -- what the three files of the libmariadb program mysql_stmt
 * share: mysql_stmt.c (the connection, the text queries and the prepared
 * statements it runs), mysql_stmt_values.c (the value type, its
 * constructors, canonical text and JSON writing) and mysql_stmt_exec.c
 * (preparing, executing and fetching, with the JSON entry of each
 * execution).
 */
#ifndef MYSQL_STMT_H
#define MYSQL_STMT_H

#include <stddef.h>
#include <stdio.h>

#include <mysql.h>

#define MAXSTR 4096
#define MAXSTMT 64
#define MAXCOL 8

/* the canonical text that marks NULL in rows[][] (see fetch_all) */
#define NULLTXT "\x01"

/* defined in mysql_stmt.c */
extern FILE *out;
extern int n_entries;
extern int failures;
extern MYSQL *conn;
extern MYSQL_STMT *stmts[MAXSTMT];
extern int n_stmts;

void die(const char *fmt, ...);

/* ------------------------------------------------ mysql_stmt_values.c */

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

void json_cstr(const char *s);
void bytes_text(char *buf, size_t bufn, const char *s, size_t n);
void json_bytes(const char *s, size_t n);
int is_text_type(enum enum_field_types t);
int value_text(const value_t *v, char *buf, size_t n);
void json_value(const value_t *v);
void bind_value(MYSQL_BIND *b, value_t *v);

/* parameter constructors */
value_t P(enum enum_field_types type, my_bool uns);
value_t NUL(enum enum_field_types type, my_bool uns);
value_t I8(signed char x);
value_t U8(unsigned char x);
value_t I16(short x);
value_t U16(unsigned short x);
value_t I32(int x);
value_t U32(unsigned x);
value_t I64(long long x);
value_t U64(unsigned long long x);
value_t F32(float x);
value_t F64(double x);
value_t YEAR(unsigned short x);
value_t BYTES(enum enum_field_types type, const void *s, unsigned long n);
value_t TXT(enum enum_field_types type, const char *s);
value_t DT(enum enum_field_types type, unsigned y, unsigned mo, unsigned d, unsigned h,
           unsigned mi, unsigned s, unsigned long us);
value_t TM(int neg, unsigned days, unsigned h, unsigned mi, unsigned s, unsigned long us);

/* -------------------------------------------------- mysql_stmt_exec.c */

typedef struct {
  const char *name;   /* label, also in the JSON */
  int new_params_bound;
  const char *long_data_chunks[4];  /* for param 0, NULL-terminated */
  const char *discarded_chunk;      /* sent, then dropped by mysql_stmt_reset */
} exec_opts;

MYSQL_STMT *prepare(const char *query);
void execute(MYSQL_STMT *st, const char *query, value_t *p, int np, const exec_opts *o,
             int want_error, const char *want_sqlstate,
             char (*want_rows)[MAXCOL][MAXSTR], int want_nrows);

#endif

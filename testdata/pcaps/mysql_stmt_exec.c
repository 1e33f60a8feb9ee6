/*
 * mysql_stmt_exec.c -- the executions of mysql_stmt (see mysql_stmt.c):
 * preparing a statement, executing it (long data first where asked),
 * writing its JSON entry into OUT.json and checking the result rows the
 * server sends back against the wanted canonical texts.
 */
#include <stdio.h>
#include <string.h>

#include "mysql_stmt.h"

static void mismatch(const char *what, const char *want, const char *got) {
  fprintf(stderr, "mysql_stmt: MISMATCH %s: sent %s, server gave %s\n", what, want, got);
  failures++;
}

/* ------------------------------------------------------ result fetch */

/* a fetched column: the value in the C type of the column's type */
typedef struct {
  value_t v;
  MYSQL_FIELD *field;
} col_t;

MYSQL_STMT *prepare(const char *query) {
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

/* executes st with params p[0..np) (already bound, unless opts say not),
   writes the JSON entry, checks the result against want (canonical text
   of each column or NULL; may be NULL = not checked) */
void execute(MYSQL_STMT *st, const char *query, value_t *p, int np, const exec_opts *o,
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

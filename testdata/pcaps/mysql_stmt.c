/*
 * mysql_stmt.c -- the libmariadb program behind testdata/pcaps/mysql_stmt.pcap
 * and mysql_compress.pcap (see generate.sh and mysql_workload.py).
 *
 *   gcc -O2 -o mysql_stmt mysql_stmt.c mysql_stmt_values.c mysql_stmt_exec.c \
 *       $(mariadb_config --cflags --libs)
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
 * canonical text (see mysql_stmt_values.c).
 *
 * This file holds the connection, the text queries and the statements
 * run; mysql_stmt_values.c the value type, its constructors, canonical
 * text and JSON writing; mysql_stmt_exec.c the preparing, executing and
 * fetching, with each execution's JSON entry; mysql_stmt.h what they share.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "mysql_stmt.h"

#define NPARAM 3

FILE *out;
int n_entries;
int failures;
MYSQL *conn;
MYSQL_STMT *stmts[MAXSTMT];
int n_stmts;

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mysql_stmt: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* ------------------------------------------------------ the statements */

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

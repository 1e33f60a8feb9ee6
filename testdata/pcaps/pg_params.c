/*
 * pg_params.c -- the libpq client captured into testdata/pcaps/pg_params.pcap.
 *
 * Usage: PGTZ=UTC pg_params CONNINFO OUTPUT.json
 *
 * Connects once and runs, in this order:
 *   - for each of 21 types T (int2 ... oid): PQprepare of a named statement
 *     "s_T" = "SELECT $1::T, $2::T, $3::T" with explicit parameter type OIDs,
 *     then PQexecPrepared with three parameters in BINARY format, encoded
 *     in each type's binary send format (network byte order, see
 *     pg_params_values.c); the middle parameter of every third type
 *     (index 2, 5, 8, ...) is NULL;
 *   - three more binary executions (float8, numeric, interval, date extras);
 *   - two statements with TEXT parameters (one with paramFormats all 0,
 *     one with paramFormats == NULL, which makes libpq send no format code);
 *   - one PQexecParams (unnamed statement) with mixed text/binary formats
 *     and an unspecified (0) type OID;
 *   - one execution that fails (division by zero, SQLSTATE 22012);
 *   - a second execution of "s_int4" (no new Parse) with other values.
 * Results are requested in text format.  Every value the server returns is
 * compared with the rendering written in this file (the program fails if
 * they differ), so OUTPUT.json holds what a decoder should print for each
 * parameter.  OUTPUT.json is a list, in execution order, of
 *   {"stmt_name", "query", "types", "formats", "bind_format_codes",
 *    "params_hex", "api", "values" | "error"}
 * (see load_params_expected() in pg_workload.py).
 *
 * This file holds the executions, with the values and their expected
 * renderings, and runs them; pg_params_values.c the typed-value builders
 * with their binary encoders and the JSON writing; pg_params.h what they
 * share.  Built by generate.sh:
 *
 *   gcc -O2 -Wall -o pg_params pg_params.c pg_params_values.c \
 *       -I"$(pg_config --includedir)" -lpq
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_params.h"

static Exec execs[MAXEXEC];
static int nexec;

/* ----------------------------------------------------------- executions */

static Exec *new_exec(const char *stmt, const char *query, int nparams, enum api api)
{
	Exec *e;

	if (nexec >= MAXEXEC) {
		fprintf(stderr, "too many executions\n");
		exit(1);
	}
	e = &execs[nexec++];
	memset(e, 0, sizeof *e);
	snprintf(e->stmt, sizeof e->stmt, "%s", stmt);
	snprintf(e->query, sizeof e->query, "%s", query);
	e->nparams = nparams;
	e->api = api;
	return e;
}

/* named statement "NAME" = SELECT $1::T, $2::T, $3::T, binary parameters */
static Exec *typed(const char *name, const char *tname, Oid oid)
{
	char q[256];
	Exec *e;
	int i;

	snprintf(q, sizeof q, "SELECT $1::%s, $2::%s, $3::%s", tname, tname, tname);
	e = new_exec(name, q, 3, API_PREPARE);
	for (i = 0; i < 3; i++) {
		e->types[i] = oid;
		e->formats[i] = 1;
	}
	return e;
}

static Exec *per_type(const char *tname, Oid oid)
{
	char name[64];

	snprintf(name, sizeof name, "s_%s", tname);
	return typed(name, tname, oid);
}

static const char NAME63[] =
	"n23456789_123456789_123456789_123456789_123456789_123456789_123";

static void build(void)
{
	static const unsigned char bytea1[] = {0x00, 0xff, 0x00, 0x01, 0x7f, 0x80};
	static const unsigned char bytea2[] = {0xde, 0xad, 0xbe, 0xef};
	Exec *e;
	int first, i;

	/* the 21 types, binary parameters */
	first = nexec;
	e = per_type("int2", 21);
	v_int2(&e->vals[0], -32768, "-32768");
	v_int2(&e->vals[1], 0, "0");
	v_int2(&e->vals[2], 32767, "32767");

	e = per_type("int4", 23);
	v_int4(&e->vals[0], INT32_MIN, "-2147483648");
	v_int4(&e->vals[1], 42, "42");
	v_int4(&e->vals[2], INT32_MAX, "2147483647");

	e = per_type("int8", 20);
	v_int8(&e->vals[0], INT64_MIN, "-9223372036854775808");
	v_int8(&e->vals[1], 0, "0");
	v_int8(&e->vals[2], INT64_MAX, "9223372036854775807");

	e = per_type("float4", 700);
	v_float4(&e->vals[0], 0.1f, "0.1");
	v_float4(&e->vals[1], -INFINITY, "-Infinity");
	v_float4(&e->vals[2], NAN, "NaN");

	e = per_type("float8", 701);
	v_float8(&e->vals[0], INFINITY, "Infinity");
	v_float8(&e->vals[1], 1e-05, "1e-05");
	v_float8(&e->vals[2], 0.1, "0.1");

	e = per_type("bool", 16);
	v_bool(&e->vals[0], 1, "t");
	v_bool(&e->vals[1], 1, "t");
	v_bool(&e->vals[2], 0, "f");

	e = per_type("numeric", 1700);
	v_numeric(&e->vals[0], "-12345.678900", "-12345.678900");
	v_numeric(&e->vals[1], "0.0001", "0.0001");
	v_numeric(&e->vals[2], "NaN", "NaN");

	e = per_type("text", 25);
	v_text(&e->vals[0], "héllo wörld ✓", "héllo wörld ✓");
	v_text(&e->vals[1], "", "");
	v_text(&e->vals[2], "tab\there 'single' \"double\" back\\slash\nnewline",
	       "tab\there 'single' \"double\" back\\slash\nnewline");

	e = per_type("varchar", 1043);
	v_text(&e->vals[0], "varchar value", "varchar value");
	v_text(&e->vals[1], "x", "x");
	v_text(&e->vals[2], "日本語 😀", "日本語 😀");

	e = per_type("bpchar", 1042);
	v_text(&e->vals[0], "ab  ", "ab  ");
	v_text(&e->vals[1], "x", "x");
	v_text(&e->vals[2], "", "");

	e = per_type("name", 19);
	v_text(&e->vals[0], "pg_catalog", "pg_catalog");
	v_text(&e->vals[1], "", "");
	v_text(&e->vals[2], NAME63, NAME63);

	e = per_type("bytea", 17);
	v_bytes(&e->vals[0], bytea1, sizeof bytea1, "\\x00ff00017f80");
	v_bytes(&e->vals[1], bytea1, 1, "\\x00");
	v_bytes(&e->vals[2], "", 0, "\\x");

	e = per_type("uuid", 2950);
	v_uuid(&e->vals[0], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
	       "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
	v_uuid(&e->vals[1], "00000000-0000-0000-0000-000000000000",
	       "00000000-0000-0000-0000-000000000000");
	v_uuid(&e->vals[2], "ffffffff-ffff-ffff-ffff-ffffffffffff",
	       "ffffffff-ffff-ffff-ffff-ffffffffffff");

	e = per_type("date", 1082);
	v_date(&e->vals[0], 1969, 7, 20, "1969-07-20");
	v_date(&e->vals[1], 1999, 12, 31, "1999-12-31");
	v_date(&e->vals[2], 2038, 1, 19, "2038-01-19");

	e = per_type("time", 1083);
	v_time(&e->vals[0], 12, 34, 56, 789000, "12:34:56.789");
	v_time(&e->vals[1], 0, 0, 0, 0, "00:00:00");
	v_time(&e->vals[2], 23, 59, 59, 999999, "23:59:59.999999");

	e = per_type("timestamp", 1114);
	v_timestamp(&e->vals[0], 1970, 1, 1, 0, 0, 0, 0, "1970-01-01 00:00:00");
	v_timestamp(&e->vals[1], 1999, 12, 31, 23, 59, 59, 999999, "1999-12-31 23:59:59.999999");
	v_timestamp(&e->vals[2], 2024, 2, 29, 12, 34, 56, 123456, "2024-02-29 12:34:56.123456");

	e = per_type("timestamptz", 1184);
	v_timestamp(&e->vals[0], 2000, 1, 1, 0, 0, 0, 0, "2000-01-01 00:00:00+00");
	v_timestamp(&e->vals[1], 1969, 12, 31, 23, 59, 59, 500000, "1969-12-31 23:59:59.5+00");
	v_timestamp(&e->vals[2], 2038, 1, 19, 3, 14, 8, 0, "2038-01-19 03:14:08+00");

	e = per_type("interval", 1186);
	v_interval(&e->vals[0], 14, -3, micros(4, 5, 6, 789000),
		   "1 year 2 mons -3 days +04:05:06.789");
	v_interval(&e->vals[1], 0, 0, 0, "00:00:00");
	v_interval(&e->vals[2], 0, 0, -1500000, "-00:00:01.5");

	e = per_type("json", 114);
	v_text(&e->vals[0], "{\"b\": 1, \"a\": [true, null]}", "{\"b\": 1, \"a\": [true, null]}");
	v_text(&e->vals[1], "[]", "[]");
	v_text(&e->vals[2], "\"unicode ✓\"", "\"unicode ✓\"");

	/* jsonb renders keys sorted (shorter first) with ", " and ": " */
	e = per_type("jsonb", 3802);
	v_jsonb(&e->vals[0], "{\"a\": 1, \"c\": {\"d\": \"e\"}, \"bb\": [true, null, 2.5]}",
		"{\"a\": 1, \"c\": {\"d\": \"e\"}, \"bb\": [true, null, 2.5]}");
	v_jsonb(&e->vals[1], "null", "null");
	v_jsonb(&e->vals[2], "[1, \"two\", false]", "[1, \"two\", false]");

	e = per_type("oid", 26);
	v_oid(&e->vals[0], 0, "0");
	v_oid(&e->vals[1], 1259, "1259");
	v_oid(&e->vals[2], 4294967295u, "4294967295");

	/* the middle parameter of every third type is NULL */
	for (i = first; i < nexec; i++)
		if ((i - first) % 3 == 2)
			v_null(&execs[i].vals[1]);

	/* more binary values of the tricky types */
	e = typed("s_float8_b", "float8", 701);
	v_float8(&e->vals[0], -0.0, "-0");
	v_float8(&e->vals[1], 1e100, "1e+100");
	v_float8(&e->vals[2], -1.7976931348623157e308, "-1.7976931348623157e+308");

	e = typed("s_numeric_b", "numeric", 1700);
	v_numeric(&e->vals[0], "0.00", "0.00");
	v_numeric(&e->vals[1], "123456789012345678901234567890.123456789",
		  "123456789012345678901234567890.123456789");
	v_numeric(&e->vals[2], "-10000", "-10000");

	e = typed("s_interval_b", "interval", 1186);
	v_interval(&e->vals[0], -1, 1, 0, "-1 mons +1 day");
	v_interval(&e->vals[1], 0, 400, micros(24, 0, 0, 1), "400 days 24:00:00.000001");
	v_interval(&e->vals[2], -25, -1, -micros(1, 0, 0, 0), "-2 years -1 mons -1 days -01:00:00");

	e = typed("s_date_b", "date", 1082);
	v_int4(&e->vals[0], INT32_MIN, "-infinity");
	v_date(&e->vals[1], -43, 3, 15, "0044-03-15 BC");
	v_int4(&e->vals[2], INT32_MAX, "infinity");

	/* text-format parameters: explicit formats {0, 0, 0} ... */
	e = new_exec("t_int4", "SELECT $1::int4, $2::int4, $3::int4", 3, API_PREPARE);
	for (i = 0; i < 3; i++)
		e->types[i] = 23;
	v_text(&e->vals[0], "7", "7");
	v_text(&e->vals[1], "-7", "-7");
	v_null(&e->vals[2]);

	/* ... and paramFormats == NULL (libpq sends no format code) */
	e = new_exec("t_timestamptz", "SELECT $1::timestamptz, $2::timestamptz, $3::timestamptz",
		     3, API_PREPARE);
	e->formats_null = 1;
	for (i = 0; i < 3; i++)
		e->types[i] = 1184;
	v_text(&e->vals[0], "2024-02-29 12:34:56.123456+00", "2024-02-29 12:34:56.123456+00");
	v_text(&e->vals[1], "infinity", "infinity");
	v_text(&e->vals[2], "1999-12-31 23:59:59+00", "1999-12-31 23:59:59+00");

	/* unnamed statement, mixed formats, $1 with unspecified type */
	e = new_exec("", "SELECT $1::int4, $2::text, $3::bytea", 3, API_PARAMS);
	e->types[0] = 0;
	e->types[1] = 25;
	e->types[2] = 17;
	e->formats[0] = 0;
	e->formats[1] = 1;
	e->formats[2] = 1;
	v_text(&e->vals[0], "123", "123");
	v_text(&e->vals[1], "mixed ✓", "mixed ✓");
	v_bytes(&e->vals[2], bytea2, sizeof bytea2, "\\xdeadbeef");

	/* an execution that fails */
	e = new_exec("s_div", "SELECT 1/$1::int4", 1, API_PREPARE);
	e->types[0] = 23;
	e->formats[0] = 1;
	v_int4(&e->vals[0], 0, NULL);
	e->error = "22012";

	/* "s_int4" again: Bind only, it must map back to the first Parse */
	e = new_exec("s_int4", "SELECT $1::int4, $2::int4, $3::int4", 3, API_REUSE);
	for (i = 0; i < 3; i++) {
		e->types[i] = 23;
		e->formats[i] = 1;
	}
	v_int4(&e->vals[0], 100, "100");
	v_null(&e->vals[1]);
	v_int4(&e->vals[2], -100, "-100");
}

/* ------------------------------------------------------------------ main */

static void die_conn(PGconn *conn, const char *what)
{
	fprintf(stderr, "pg_params: %s: %s", what, PQerrorMessage(conn));
	PQfinish(conn);
	exit(1);
}

int main(int argc, char **argv)
{
	PGconn *conn;
	FILE *f;
	int i, k, bad = 0;
	static char *got[MAXEXEC][MAXP];

	if (argc != 3) {
		fprintf(stderr, "usage: PGTZ=UTC %s CONNINFO OUTPUT.json\n", argv[0]);
		return 2;
	}
	build();
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
		die_conn(conn, "connect");
	printf("libpq %d, server %d\n", PQlibVersion(), PQserverVersion(conn));

	for (i = 0; i < nexec; i++) {
		Exec *e = &execs[i];
		const char *values[MAXP];
		int lengths[MAXP];
		const int *formats = e->formats_null ? NULL : e->formats;
		PGresult *res;
		const char *state;

		for (k = 0; k < e->nparams; k++) {
			values[k] = e->vals[k].isnull ? NULL : (const char *)e->vals[k].data;
			lengths[k] = e->vals[k].len;
		}
		if (e->api == API_PREPARE) {
			res = PQprepare(conn, e->stmt, e->query, e->nparams, e->types);
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				die_conn(conn, e->stmt);
			PQclear(res);
		}
		if (e->api == API_PARAMS)
			res = PQexecParams(conn, e->query, e->nparams, e->types, values, lengths,
					   formats, 0);
		else
			res = PQexecPrepared(conn, e->stmt, e->nparams, values, lengths, formats, 0);

		if (e->error) {
			state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			if (PQresultStatus(res) != PGRES_FATAL_ERROR || !state ||
			    strcmp(state, e->error) != 0) {
				fprintf(stderr, "%s: expected SQLSTATE %s, got %s\n", e->stmt,
					e->error, state ? state : "(none)");
				bad = 1;
			}
			PQclear(res);
			continue;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
		    PQnfields(res) != e->nparams)
			die_conn(conn, e->stmt);
		for (k = 0; k < e->nparams; k++) {
			const char *want = e->vals[k].display;
			const char *have = PQgetisnull(res, 0, k) ? NULL : PQgetvalue(res, 0, k);

			got[i][k] = have ? strdup(have) : NULL;
			if ((want == NULL) != (have == NULL) ||
			    (want && strcmp(want, have) != 0)) {
				fprintf(stderr, "%s $%d: server renders [%s], expected [%s]\n",
					e->stmt, k + 1, have ? have : "NULL",
					want ? want : "NULL");
				bad = 1;
			}
		}
		PQclear(res);
	}
	PQfinish(conn);
	if (bad) {
		fprintf(stderr, "pg_params: the server's renderings differ; %s not written\n",
			argv[2]);
		return 1;
	}

	f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	fputs("[\n", f);
	for (i = 0; i < nexec; i++) {
		json_exec(f, &execs[i], got[i]);
		fputs(i + 1 < nexec ? ",\n" : "\n", f);
	}
	fputs("]\n", f);
	if (fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	printf("%d executions written to %s\n", nexec, argv[2]);
	return 0;
}

/*
 * pg_params.h -- what the two files of the libpq program pg_params share:
 * pg_params.c (the executions and the connection) and pg_params_values.c
 * (the typed-value builders with their binary encoders, and the JSON
 * writing of an execution).
 */
#ifndef PG_PARAMS_H
#define PG_PARAMS_H

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>

#define MAXP 3
#define MAXEXEC 64

enum api { API_PREPARE, API_REUSE, API_PARAMS };

typedef struct {
	int isnull;
	unsigned char data[256];
	int len;
	const char *display; /* the server's text rendering (NULL for SQL NULL) */
} Val;

typedef struct {
	char stmt[64];
	char query[256];
	int nparams;
	Oid types[MAXP];
	int formats[MAXP];
	int formats_null; /* pass paramFormats = NULL to libpq */
	enum api api;
	Val vals[MAXP];
	const char *error; /* expected SQLSTATE, or NULL */
} Exec;

/* ------------------------------------------------- pg_params_values.c */

void v_null(Val *v);
void v_bytes(Val *v, const void *p, int n, const char *disp);
void v_text(Val *v, const char *s, const char *disp);
void v_int2(Val *v, int16_t x, const char *disp);
void v_int4(Val *v, int32_t x, const char *disp);
void v_oid(Val *v, uint32_t x, const char *disp);
void v_int8(Val *v, int64_t x, const char *disp);
void v_float4(Val *v, float x, const char *disp);
void v_float8(Val *v, double x, const char *disp);
void v_bool(Val *v, int b, const char *disp);
void v_numeric(Val *v, const char *s, const char *disp);
void v_uuid(Val *v, const char *s, const char *disp);
void v_date(Val *v, long y, unsigned m, unsigned d, const char *disp);
int64_t micros(int h, int mi, int s, int us);
void v_time(Val *v, int h, int mi, int s, int us, const char *disp);
void v_timestamp(Val *v, long y, unsigned m, unsigned d, int h, int mi, int s, int us,
		 const char *disp);
void v_interval(Val *v, int32_t months, int32_t days, int64_t us, const char *disp);
void v_jsonb(Val *v, const char *s, const char *disp);

void json_exec(FILE *f, const Exec *e, char *const *got);

#endif

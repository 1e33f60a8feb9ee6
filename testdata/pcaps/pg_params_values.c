/*
 * pg_params_values.c -- the parameter values of pg_params (see pg_params.c):
 * the typed-value builders v_*, which encode each value in its type's binary
 * send format (network byte order) or take a text parameter as it is, and
 * the JSON writing of an execution (its parameters' bytes in hex, the
 * server's rendering of each, or the SQLSTATE).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_params.h"

/* ------------------------------------------------------------ encoders */

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

void v_null(Val *v)
{
	memset(v, 0, sizeof *v);
	v->isnull = 1;
}

void v_bytes(Val *v, const void *p, int n, const char *disp)
{
	if (n >= (int)sizeof v->data) {
		fprintf(stderr, "value too long\n");
		exit(1);
	}
	memset(v, 0, sizeof *v);
	memcpy(v->data, p, (size_t)n);
	v->len = n;
	v->display = disp;
}

/* text, varchar, bpchar, name, json and every text-format parameter */
void v_text(Val *v, const char *s, const char *disp)
{
	v_bytes(v, s, (int)strlen(s), disp);
}

void v_int2(Val *v, int16_t x, const char *disp)
{
	memset(v, 0, sizeof *v);
	put16(v->data, (uint16_t)x);
	v->len = 2;
	v->display = disp;
}

void v_int4(Val *v, int32_t x, const char *disp)
{
	memset(v, 0, sizeof *v);
	put32(v->data, (uint32_t)x);
	v->len = 4;
	v->display = disp;
}

void v_oid(Val *v, uint32_t x, const char *disp)
{
	v_int4(v, (int32_t)x, disp);
}

void v_int8(Val *v, int64_t x, const char *disp)
{
	memset(v, 0, sizeof *v);
	put64(v->data, (uint64_t)x);
	v->len = 8;
	v->display = disp;
}

void v_float4(Val *v, float x, const char *disp)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	v_int4(v, (int32_t)u, disp);
}

void v_float8(Val *v, double x, const char *disp)
{
	uint64_t u;
	memcpy(&u, &x, 8);
	v_int8(v, (int64_t)u, disp);
}

void v_bool(Val *v, int b, const char *disp)
{
	unsigned char c = b ? 1 : 0;
	v_bytes(v, &c, 1, disp);
}

/*
 * numeric: int16 ndigits, int16 weight, uint16 sign, int16 dscale, then
 * ndigits int16 base-10000 digits; value = sum digit[i] * 10000^(weight-i).
 * s is a plain decimal ("-12345.678900") or "NaN"; dscale is the number of
 * digits after the point as written.
 */
void v_numeric(Val *v, const char *s, const char *disp)
{
	char buf[256];
	int16_t digits[64];
	int n = 0, neg = 0, ilen, flen, ipad, fpad, ngroups, weight, start, end, i;
	uint16_t sign;
	const char *dot, *frac;
	unsigned char *p;

	memset(v, 0, sizeof *v);
	v->display = disp;
	p = v->data;
	if (strcmp(s, "NaN") == 0) {
		put16(p, 0);
		put16(p + 2, 0);
		put16(p + 4, 0xC000);
		put16(p + 6, 0);
		v->len = 8;
		return;
	}
	if (*s == '-') {
		neg = 1;
		s++;
	}
	dot = strchr(s, '.');
	ilen = dot ? (int)(dot - s) : (int)strlen(s);
	frac = dot ? dot + 1 : "";
	flen = (int)strlen(frac);
	ipad = (4 - ilen % 4) % 4;
	fpad = (4 - flen % 4) % 4;
	if (ipad + ilen + flen + fpad >= (int)sizeof buf) {
		fprintf(stderr, "numeric too long\n");
		exit(1);
	}
	for (i = 0; i < ipad; i++)
		buf[n++] = '0';
	memcpy(buf + n, s, (size_t)ilen);
	n += ilen;
	memcpy(buf + n, frac, (size_t)flen);
	n += flen;
	for (i = 0; i < fpad; i++)
		buf[n++] = '0';
	ngroups = n / 4;
	for (i = 0; i < ngroups; i++)
		digits[i] = (int16_t)((buf[4 * i] - '0') * 1000 + (buf[4 * i + 1] - '0') * 100 +
				      (buf[4 * i + 2] - '0') * 10 + (buf[4 * i + 3] - '0'));
	weight = (ipad + ilen) / 4 - 1;
	start = 0;
	end = ngroups;
	while (start < end && digits[start] == 0) {
		start++;
		weight--;
	}
	while (end > start && digits[end - 1] == 0)
		end--;
	if (start == end) { /* zero */
		weight = 0;
		neg = 0;
	}
	sign = neg ? 0x4000 : 0x0000;
	put16(p, (uint16_t)(end - start));
	put16(p + 2, (uint16_t)(int16_t)weight);
	put16(p + 4, sign);
	put16(p + 6, (uint16_t)flen);
	v->len = 8;
	for (i = start; i < end; i++) {
		put16(p + v->len, (uint16_t)digits[i]);
		v->len += 2;
	}
}

void v_uuid(Val *v, const char *s, const char *disp)
{
	unsigned char b[16];
	int n = 0;
	unsigned int x;

	for (; *s && n < 16; s++) {
		if (*s == '-')
			continue;
		if (sscanf(s, "%2x", &x) != 1) {
			fprintf(stderr, "bad uuid\n");
			exit(1);
		}
		b[n++] = (unsigned char)x;
		s++;
	}
	v_bytes(v, b, 16, disp);
}

/* days since 1970-01-01 of a proleptic Gregorian date (astronomical year) */
static long days_from_civil(long y, unsigned m, unsigned d)
{
	long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

/* PostgreSQL date: int32 days since 2000-01-01 */
static int32_t pg_days(long y, unsigned m, unsigned d)
{
	return (int32_t)(days_from_civil(y, m, d) - days_from_civil(2000, 1, 1));
}

void v_date(Val *v, long y, unsigned m, unsigned d, const char *disp)
{
	v_int4(v, pg_days(y, m, d), disp);
}

int64_t micros(int h, int mi, int s, int us)
{
	return ((int64_t)h * 3600 + mi * 60 + s) * 1000000 + us;
}

/* time: int64 microseconds since midnight */
void v_time(Val *v, int h, int mi, int s, int us, const char *disp)
{
	v_int8(v, micros(h, mi, s, us), disp);
}

/* timestamp / timestamptz: int64 microseconds since 2000-01-01 00:00:00 (UTC) */
void v_timestamp(Val *v, long y, unsigned m, unsigned d, int h, int mi, int s,
		 int us, const char *disp)
{
	v_int8(v, (int64_t)pg_days(y, m, d) * 86400 * 1000000 + micros(h, mi, s, us), disp);
}

/* interval: int64 microseconds, int32 days, int32 months */
void v_interval(Val *v, int32_t months, int32_t days, int64_t us, const char *disp)
{
	memset(v, 0, sizeof *v);
	put64(v->data, (uint64_t)us);
	put32(v->data + 8, (uint32_t)days);
	put32(v->data + 12, (uint32_t)months);
	v->len = 16;
	v->display = disp;
}

/* jsonb: version byte 1, then the JSON text */
void v_jsonb(Val *v, const char *s, const char *disp)
{
	unsigned char b[256];
	size_t n = strlen(s);

	b[0] = 1;
	memcpy(b + 1, s, n);
	v_bytes(v, b, (int)n + 1, disp);
}

/* ----------------------------------------------------------- JSON output */

static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f); /* UTF-8 passes through */
	}
	fputc('"', f);
}

void json_exec(FILE *f, const Exec *e, char *const *got)
{
	int i, j;

	fputs("  {\"stmt_name\": ", f);
	json_str(f, e->stmt);
	fputs(", \"query\": ", f);
	json_str(f, e->query);
	fputs(", \"types\": [", f);
	for (i = 0; i < e->nparams; i++)
		fprintf(f, "%s%u", i ? ", " : "", (unsigned)e->types[i]);
	fputs("], \"formats\": [", f);
	for (i = 0; i < e->nparams; i++)
		fprintf(f, "%s%d", i ? ", " : "", e->formats[i]);
	fputs("], \"bind_format_codes\": [", f);
	if (!e->formats_null)
		for (i = 0; i < e->nparams; i++)
			fprintf(f, "%s%d", i ? ", " : "", e->formats[i]);
	fputs("], \"params_hex\": [", f);
	for (i = 0; i < e->nparams; i++) {
		fputs(i ? ", " : "", f);
		if (e->vals[i].isnull) {
			fputs("null", f);
			continue;
		}
		fputc('"', f);
		for (j = 0; j < e->vals[i].len; j++)
			fprintf(f, "%02x", e->vals[i].data[j]);
		fputc('"', f);
	}
	fprintf(f, "], \"api\": \"%s\", ", e->api == API_PARAMS ? "PQexecParams" : "PQexecPrepared");
	if (e->error) {
		fputs("\"error\": ", f);
		json_str(f, e->error);
	} else {
		fputs("\"values\": [", f);
		for (i = 0; i < e->nparams; i++) {
			fputs(i ? ", " : "", f);
			if (got[i])
				json_str(f, got[i]);
			else
				fputs("null", f);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

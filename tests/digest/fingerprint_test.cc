#include "digest/fingerprint.h"

#include <doctest/doctest.h>

#include <set>

using tcpdp::fingerprint;
using tcpdp::fingerprint_id;
using tcpdp::SqlDialect;

namespace {

struct Case {
  const char* sql;
  const char* want;
};

// Expected fingerprints written from the SQL grammars (PostgreSQL's lexical structure, MySQL's
// literal syntax) and the rules in fingerprint.h, not taken from the program.
constexpr Case kPostgres[] = {
    // pgbench's own statements
    {"UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
     "update pgbench_accounts set abalance = abalance + ? where aid = ?"},
    {"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
     "select abalance from pgbench_accounts where aid = ?"},
    {"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 7, -2104, "
     "CURRENT_TIMESTAMP);",
     "insert into pgbench_history(tid, bid, aid, delta, mtime) values(?, ?, ?, ?, "
     "current_timestamp)"},
    {"BEGIN;", "begin"},
    {"END;", "end"},
    // numbers
    {"select 1", "select ?"},
    {"SELECT 3.14159, .5, 6., 1e10, 2.5E-3", "select ?, ?, ?, ?, ?"},
    {"select -1", "select ?"},
    {"select a - 1 from t", "select a - ? from t"},
    {"select a-1 from t", "select a - ? from t"},
    {"select * from t where x = -42", "select * from t where x = ?"},
    {"select * from t where x=-42", "select * from t where x = ?"},
    {"select * from t where x > +7", "select * from t where x > + ?"},
    {"select f(-1, -2.5)", "select f(?, ?)"},
    {"select * from t1 join t2 on t1.id = t2.id",
     "select * from t1 join t2 on t1.id = t2.id"},
    // strings
    {"select * from users where name = 'O''Reilly'", "select * from users where name = ?"},
    {"select E'a\\'b' from t", "select ? from t"},
    {"select e'tab\\t' || 'x'", "select ? || ?"},
    {"select B'1010', X'1F', N'national'", "select ?, ?, ?"},
    {"select U&'d\\0061t\\+000061'", "select ?"},
    {"select 'it''s' as s", "select ? as s"},
    {"select $$dollar 'quoted'$$", "select ?"},
    {"select $fn$ begin return 1; end $fn$", "select ?"},
    {"do $body$ begin perform 1; end $body$ language plpgsql",
     "do ? language plpgsql"},
    {"select 'a' 'b'", "select ? ?"},
    // booleans and NULL
    {"select true, FALSE, Null", "select ?, ?, ?"},
    {"select * from t where deleted is null", "select * from t where deleted is ?"},
    {"update t set a = NULL where b is not true", "update t set a = ? where b is not ?"},
    // parameters and casts
    {"select $1::int, $2::text", "select ?::int, ?::text"},
    {"select '2024-01-01'::date + interval '1 day'", "select ?::date + interval ?"},
    {"select cast('5' as integer)", "select cast(? as integer)"},
    {"select x::numeric(10,2) from t", "select x::numeric(?, ?) from t"},
    // quoted identifiers stay as written
    {"select \"Name\", \"weird \"\"col\"\"\" from \"MyTable\"",
     "select \"Name\", \"weird \"\"col\"\"\" from \"MyTable\""},
    {"SELECT Name FROM MyTable", "select name from mytable"},
    // IN lists and VALUES
    {"select * from t where id in (1, 2, 3)", "select * from t where id in(?+)"},
    {"select * from t where id IN ($1,$2)", "select * from t where id in(?+)"},
    {"select * from t where id in ('a')", "select * from t where id in(?+)"},
    {"select * from t where id not in (1,2)", "select * from t where id not in(?+)"},
    {"select * from t where id in (select id from u where x = 1)",
     "select * from t where id in(select id from u where x = ?)"},
    {"insert into t values (1, 'a'), (2, 'b'), (3, 'c')", "insert into t values(?+)"},
    {"insert into t (a, b) values (1, now()), (2, now())",
     "insert into t(a, b) values(?, now())"},
    {"insert into t values (1, 2) on conflict (a) do nothing",
     "insert into t values(?+) on conflict(a) do nothing"},
    // comments and white space
    {"select 1 -- trailing comment", "select ?"},
    {"-- leading comment\nselect 1", "select ?"},
    {"select /* a comment */ 1", "select ?"},
    {"select /* outer /* nested */ still comment */ 1", "select ?"},
    {"SELECT\n\t a ,\n b\nFROM   t", "select a, b from t"},
    {"  select 1 ;  ", "select ?"},
    {"select 1;;", "select ?"},
    // operators
    {"select * from t where a <> 1 and b != 2 and c >= 3",
     "select * from t where a <> ? and b != ? and c >= ?"},
    {"select data->>'name', data->'tags' from docs",
     "select data ->> ?, data -> ? from docs"},
    {"select * from docs where data @> '{\"a\":1}'", "select * from docs where data @> ?"},
    {"select * from t where name ~* 'ab+c'", "select * from t where name ~* ?"},
    {"select a[1], b[2:3] from t", "select a[?], b[? : ?] from t"},
    // several statements, functions, subqueries
    {"SELECT 1; SELECT 2", "select ?; select ?"},
    {"select count(*) from t group by a having count(*) > 10",
     "select count(*) from t group by a having count(*) > ?"},
    {"select count (*) from t", "select count(*) from t"},
    {"select * from t limit 10 offset 20", "select * from t limit ? offset ?"},
    {"select * from (select 1) as s", "select * from(select ?) as s"},
    {"with x as (select 1) select * from x", "with x as(select ?) select * from x"},
    {"select coalesce(a, 0), greatest(b, -1) from t", "select coalesce(a, ?), greatest(b, ?) from t"},
    {"select * from t where a between 1 and 5", "select * from t where a between ? and ?"},
    {"select * from t where d > now() - interval '5 minutes'",
     "select * from t where d > now() - interval ?"},
    {"select pg_sleep(0.25)", "select pg_sleep(?)"},
    {"SET application_name = 'psql'", "set application_name = ?"},
    {"select t1.a, t2.b from s.t1, s.t2", "select t1.a, t2.b from s.t1, s.t2"},
    // PostgreSQL 16's integer literals: other bases and underscores between digits.
    {"SELECT 0b101, 0o17, 0x1F, 0x_1F, 1_000_000, 1_000.5", "select ?, ?, ?, ?, ?, ?"},
};

constexpr Case kMySql[] = {
    {"SELECT intcol1,charcol1 FROM t1", "select intcol1, charcol1 from t1"},
    {"INSERT INTO t1 VALUES (100669,'qnMd')", "insert into t1 values(?+)"},
    {"SELECT ?, ?, ?", "select ?, ?, ?"},
    {"select * from t where id in (?, ?, ?)", "select * from t where id in(?+)"},
    {"select \"double quoted is a string\"", "select ?"},
    {"select 'it\\'s' from t", "select ? from t"},
    {"select 'a\\\\' , 'b'", "select ?, ?"},
    {"select `Weird Col` from `My Table`", "select `Weird Col` from `My Table`"},
    {"select 0x1F, x'1F', b'101', _utf8mb4'abc', N'n'", "select ?, ?, ?, ?, ?"},
    {"select 1 # comment", "select ?"},
    {"select 1 -- comment", "select ?"},
    {"select 1 /* comment */", "select ?"},
    {"select 5--3", "select ? - ?"},  // not a comment without a space; 5 - (-3)
    {"SELECT SLEEP(0.5)", "select sleep(?)"},
    {"select * from t where a = -1 and b = TRUE", "select * from t where a = ? and b = ?"},
    {"insert into t (a,b) values (1,2),(3,4)", "insert into t(a, b) values(?+)"},
    {"select * from 1col", "select * from 1col"},
    // Bit-value and hexadecimal literals; 1_000 is an identifier in MySQL (digits and a letter).
    {"SELECT 0b101, 0x1F, b'01', X'1F'", "select ?, ?, ?, ?"},
    {"SELECT 1_000 FROM t", "select 1_000 from t"},
};

}  // namespace

TEST_CASE("PostgreSQL fingerprints") {
  for (const Case& c : kPostgres) {
    CAPTURE(c.sql);
    CHECK(fingerprint(c.sql, SqlDialect::kPostgres) == c.want);
  }
}

TEST_CASE("MySQL fingerprints") {
  for (const Case& c : kMySql) {
    CAPTURE(c.sql);
    CHECK(fingerprint(c.sql, SqlDialect::kMySql) == c.want);
  }
  // The NUL mariadb-slap ends its queries with is white space.
  CHECK(fingerprint(std::string_view("SELECT a FROM t1\0", 17), SqlDialect::kMySql) ==
        "select a from t1");
}

TEST_CASE("statements longer than kFingerprintMax: up to the last point every bracket is closed") {
  // A bulk INSERT: rows of values, cut somewhere in a row; where the cut falls does not matter.
  std::string insert = "INSERT INTO t (a, b) VALUES ";
  for (int i = 0; insert.size() < 3 * tcpdp::kFingerprintMax; ++i) {
    insert += (i ? ", (" : "(") + std::to_string(i) + ", 'row " + std::to_string(i) + "')";
  }
  CHECK(fingerprint(insert, SqlDialect::kPostgres) == "insert into t(a, b) values(?+) ...");
  for (size_t extra : {1, 7, 13, 500}) {
    CAPTURE(extra);
    // The cut moved by a comment in front of the statement.
    CHECK(fingerprint("/*" + std::string(extra, 'x') + "*/ " + insert, SqlDialect::kMySql) ==
          "insert into t(a, b) values(?+) ...");
  }
  // A long IN list is cut where its bracket opened.
  std::string in = "SELECT * FROM t WHERE id IN (";
  for (int i = 0; in.size() < 2 * tcpdp::kFingerprintMax; ++i) in += std::to_string(i) + ", ";
  in += "0)";
  CHECK(fingerprint(in, SqlDialect::kPostgres) == "select * from t where id in ...");
  // A huge string literal: the literal is cut, so the statement ends before it.
  const std::string literal = "SELECT '" + std::string(2 * tcpdp::kFingerprintMax, 'y') + "'";
  CHECK(fingerprint(literal, SqlDialect::kPostgres) == "select ...");
  // At the bound itself nothing is cut.
  std::string exact = "SELECT 1";
  exact.resize(tcpdp::kFingerprintMax, ' ');
  CHECK(fingerprint(exact, SqlDialect::kPostgres) == "select ?");
}

TEST_CASE("brackets never closed, and many rows after a long first one") {
  std::string open;
  for (int i = 0; i < 5000; ++i) open += "values(";
  CHECK(fingerprint("select " + open, SqlDialect::kPostgres).substr(0, 16) == "select values(va");
  std::string rows = "insert into t values (";
  for (int i = 0; i < 3000; ++i) rows += i ? ", 1" : "1";
  rows += ")";
  for (int i = 0; i < 3000; ++i) rows += ", (1)";
  CHECK(fingerprint(rows, SqlDialect::kPostgres) == "insert into t values(?+)");
}

TEST_CASE("at least 60 real-world queries are checked") {
  CHECK(std::size(kPostgres) + std::size(kMySql) >= 60);
}

TEST_CASE("fingerprint ids: 16 hex digits, equal for equal fingerprints, distinct otherwise") {
  CHECK(fingerprint_id("select ?") == fingerprint_id("select ?"));
  CHECK(fingerprint_id("select ?").size() == 16);
  // FNV-1a 64 of the empty string is its offset basis.
  CHECK(fingerprint_id("") == "cbf29ce484222325");
  // FNV-1a 64 of "a", from the algorithm's published test vectors.
  CHECK(fingerprint_id("a") == "af63dc4c8601ec8c");
  std::set<std::string> ids;
  for (const Case& c : kPostgres) ids.insert(fingerprint_id(c.want));
  std::set<std::string> texts;
  for (const Case& c : kPostgres) texts.insert(c.want);
  CHECK(ids.size() == texts.size());
}

#include "sinks/pg_redact.h"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>

using tcpdp::redact_conninfo;
using tcpdp::redact_secrets;

TEST_CASE("a URI's password after user: is hidden, the rest kept") {
  CHECK(redact_conninfo("postgresql://alice:S3cret@db.example:5432/audit") ==
        "postgresql://alice:***@db.example:5432/audit");
  CHECK(redact_conninfo("postgres://alice:S3cret@db/audit?sslmode=require") ==
        "postgres://alice:***@db/audit?sslmode=require");
}

TEST_CASE("a URI without a password is shown as it is") {
  CHECK(redact_conninfo("postgresql://alice@db/audit") == "postgresql://alice@db/audit");
  CHECK(redact_conninfo("postgresql://db:5432/audit?user=alice") ==
        "postgresql://db:5432/audit?user=alice");
  CHECK(redact_conninfo("postgresql:///audit") == "postgresql:///audit");
  CHECK(redact_conninfo("") == "");
}

TEST_CASE("a URI's password with percent escapes, valid or not, is hidden whole") {
  CHECK(redact_conninfo("postgresql://u:Uri%ZZS3cretPw@host/db") == "postgresql://u:***@host/db");
  CHECK(redact_conninfo("postgresql://u:p%40ss%2Fw@host/db") == "postgresql://u:***@host/db");
}

TEST_CASE("a URI's password with an unencoded @, / or ? is hidden up to the user info's end") {
  CHECK(redact_conninfo("postgresql://u:p@ss@host/db") == "postgresql://u:***@host/db");
  CHECK(redact_conninfo("postgresql://u:pa/ss@host/db") == "postgresql://u:***@host/db");
  CHECK(redact_conninfo("postgresql://u:a?b@host/db") == "postgresql://u:***@host/db");
  CHECK(redact_conninfo("postgresql://u:a:b@host/db") == "postgresql://u:***@host/db");
}

TEST_CASE("password and sslpassword URI query parameters are hidden") {
  CHECK(redact_conninfo("postgresql://host/db?user=u&password=S3cret&sslmode=disable") ==
        "postgresql://host/db?user=u&password=***&sslmode=disable");
  CHECK(redact_conninfo("postgresql://host/db?sslpassword=K3y") ==
        "postgresql://host/db?sslpassword=***");
  CHECK(redact_conninfo("postgresql://host/db?pass%77ord=S3cret") ==
        "postgresql://host/db?pass%77ord=***");
  CHECK(redact_conninfo("postgresql://u:one@host/db?password=two") ==
        "postgresql://u:***@host/db?password=***");
}

TEST_CASE("an & in a password query parameter: the rest, up to a libpq keyword, is hidden too") {
  CHECK(redact_conninfo("postgresql://host/db?password=ab&cd&sslmode=disable") ==
        "postgresql://host/db?password=***&sslmode=disable");
  CHECK(redact_conninfo("postgresql://host/db?password=ab&cd=ef&sslmode=disable") ==
        "postgresql://host/db?password=***&sslmode=disable");
  CHECK(redact_secrets("invalid URI query parameter: \"cd\"",
                       "postgresql://host/db?password=ab&cd=ef") ==
        "invalid URI query parameter: \"***\"");
}

TEST_CASE("a mistyped scheme is still read as a URI") {
  CHECK(redact_conninfo("POSTGRESQL://u:S3cret@host/db") == "POSTGRESQL://u:***@host/db");
  CHECK(redact_conninfo("postgrsql://u:S3cret@host/db") == "postgrsql://u:***@host/db");
}

TEST_CASE("keyword=value: the password's value is hidden, bare or quoted") {
  CHECK(redact_conninfo("host=db user=alice password=S3cret dbname=audit") ==
        "host=db user=alice password=*** dbname=audit");
  CHECK(redact_conninfo("host=db password = 'two words' dbname=audit") ==
        "host=db password = *** dbname=audit");
  CHECK(redact_conninfo("password='it\\'s' host=db") == "password=*** host=db");
  CHECK(redact_conninfo("password=a\\ b host=db") == "password=*** host=db");
  CHECK(redact_conninfo("host=db sslpassword=K3y") == "host=db sslpassword=***");
  CHECK(redact_conninfo("host=db password=") == "host=db password=");
}

TEST_CASE("keyword=value: a malformed string hides more rather than less") {
  // An unterminated quote: libpq refuses the string; everything after the quote is hidden.
  CHECK(redact_conninfo("host=db password='S3cret dbname=audit") == "host=db password=***");
  // A missing '=' after password: the next word is taken as its value.
  CHECK(redact_conninfo("host=db password S3cret") == "host=db password ***");
  // A stray word before it does not hide the password from the reader.
  CHECK(redact_conninfo("host=db stray password=S3cret") == "host=db stray password=***");
  // A quote in the password ends libpq's value early: the rest, up to a keyword, is the password's.
  CHECK(redact_conninfo("host=db password=''S3cret' dbname=audit") ==
        "host=db password=*** dbname=audit");
  CHECK(redact_conninfo("host=db password=it's S3cret port=5432") ==
        "host=db password=*** port=5432");
  // Keywords are case-sensitive for libpq, and so here: only password and sslpassword.
  CHECK(redact_conninfo("host=db passfile=/etc/pgpass") == "host=db passfile=/etc/pgpass");
}

TEST_CASE("libpq's message quoting a malformed URI's password does not show it") {
  const std::string dsn = "postgresql://u:Uri%ZZS3cretPw@host/db";
  const std::string message =
      redact_secrets("invalid percent-encoded token: \"Uri%ZZS3cretPw\"", dsn);
  CHECK(message == "invalid percent-encoded token: \"***\"");
}

TEST_CASE("a message quoting the whole connection string shows it redacted") {
  const std::string dsn = "POSTGRESQL://u:S3cretPw@host/db";
  CHECK(redact_secrets("missing \"=\" after \"" + dsn + "\" in connection info string", dsn) ==
        "missing \"=\" after \"POSTGRESQL://u:***@host/db\" in connection info string");
}

TEST_CASE("a password split by libpq into a host or port is not shown") {
  // libpq reads u:pa/ss@host/db as host u, port pa, database ss@host/db.
  CHECK(redact_secrets("invalid port number: \"pa\"", "postgresql://u:pa/ss@host/db") ==
        "invalid port number: \"***\"");
  // And u:p@ss@host as user u, password p, host ss@host.
  CHECK(redact_secrets("could not translate host name \"ss@host\" to address",
                       "postgresql://u:p@ss@host/db") ==
        "could not translate host name \"***\" to address");
}

TEST_CASE("pieces and decoded forms of the password are taken out anywhere") {
  const std::string dsn = "postgresql://u:p%40ssW0rd!@host/db";
  CHECK(redact_secrets("the server said p@ssW0rd! back", dsn) == "the server said *** back");
  CHECK(redact_secrets("it said ssW0r at the end", dsn) == "it said *** at the end");
  CHECK(redact_secrets("key=value: password=\"it's a 'secret'\"",
                       "host=db password='it\\'s a \\'secret\\''") ==
        "key=value: password=\"***\"");
}

TEST_CASE("the rest of a message is left alone") {
  const std::string dsn = "postgresql://alice:S3cretPw@db/audit";
  CHECK(redact_secrets("FATAL: password authentication failed for user \"alice\"", dsn) ==
        "FATAL: password authentication failed for user \"alice\"");
  CHECK(redact_secrets("could not connect to server \"db\"", dsn) ==
        "could not connect to server \"db\"");
  CHECK(redact_secrets("anything at all", "host=db user=alice") == "anything at all");
  CHECK(redact_secrets("anything at all", "") == "anything at all");
}

TEST_CASE("a short password is hidden where quoted, not letter by letter elsewhere") {
  const std::string dsn = "host=db password=ab";
  CHECK(redact_secrets("a value: \"xaby\"; about", dsn) == "a value: \"***\"; about");
}

TEST_CASE("libpq's own messages about random malformed strings keep nothing of the password") {
  // Passwords of capitals, digits and the characters that break a connection string, in the
  // three places a password goes; whatever libpq's parser says about them, redacted, holds no
  // 4 characters of the password in a row that include a capital or digit (libpq's own words
  // and the lower-case rest of the string have none).
  const std::string alphabet = "ABCXYZ0189@:/%?&='\"\\ #[]";
  std::mt19937 random(16);
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string password;
    const size_t length = 4 + random() % 12;
    while (password.size() < length) password += alphabet[random() % alphabet.size()];
    const std::string conninfo[] = {"postgresql://u:" + password + "@host/db",
                                    "postgresql://host/db?password=" + password,
                                    "host=h password=" + password + " dbname=db",
                                    "host=h password='" + password + "' dbname=db"};
    const std::string& tried = conninfo[i % 4];
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(tried.c_str(), &error);
    if (options) PQconninfoFree(options);
    if (!error) continue;
    ++refused;
    const std::string message = redact_secrets(error, tried);
    PQfreemem(error);
    for (size_t at = 0; at + 4 <= password.size(); ++at) {
      const std::string run = password.substr(at, 4);
      if (std::none_of(run.begin(), run.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)); })) {
        continue;
      }
      INFO(tried, " -> ", message);
      CHECK(message.find(run) == std::string::npos);
    }
  }
  CHECK(refused > 500);  // the parser refused enough of them for this to say something
}

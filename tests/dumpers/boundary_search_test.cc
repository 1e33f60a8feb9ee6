#include "dumpers/boundary_search.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>

using namespace tcpdp;

namespace {

// A toy protocol: 'M', the body's length (1-255, or 2 bytes big-endian after 'L' for long ones),
// then a body of lower-case letters. Counts the work the search asks of it.
struct Toy : BoundaryRules {
  mutable uint64_t headers = 0;  // message_size calls
  mutable uint64_t bytes = 0;    // message bytes judged
  bool after = false;

  size_t header_size() const override { return 3; }
  size_t message_size(const uint8_t* h) const override {
    ++headers;
    if (h[0] == 'M' && h[1] > 0) return 2 + h[1];
    if (h[0] == 'L') return 3 + (size_t{h[1]} << 8 | h[2]);
    return 0;
  }
  bool plausible(std::span<const uint8_t> m) const override {
    bytes += m.size();
    for (size_t i = m[0] == 'L' ? 3 : 2; i < m.size(); ++i) {
      if (m[i] < 'a' || m[i] > 'z') return false;
    }
    return true;
  }
  bool plausible_next(const uint8_t* h) const override { return h[0] == 'M' || h[0] == 'L'; }
  bool resume_after() const override { return after; }
};

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string msg(const std::string& body) {
  return "M" + std::string(1, static_cast<char>(body.size())) + body;
}

// Feeds the stream in pieces of `step` bytes; returns where decoding resumes, as the text from
// the boundary on, and the bytes skipped.
struct Result {
  bool found = false;
  uint64_t skipped = 0;
  std::string rest;
};
Result search(const std::string& stream, size_t step, const Toy& rules) {
  BoundarySearch s;
  for (size_t at = 0; at < stream.size(); at += step) {
    const std::string piece = stream.substr(at, step);
    auto f = s.feed(bytes_of(piece), rules);
    if (f)
      return {true, f->skipped,
              f->held + piece.substr(f->data_from) +
                  stream.substr(at + step < stream.size() ? at + step : stream.size())};
  }
  return {false, s.held(), ""};
}

}  // namespace

TEST_CASE("boundary search: garbage, then a message followed by a header") {
  Toy rules;
  const std::string stream = "\x01#!" + msg("abc") + msg("de");
  for (size_t step : {1u, 2u, 3u, 7u, 100u}) {
    CAPTURE(step);
    const Result r = search(stream, step, rules);
    REQUIRE(r.found);
    CHECK(r.skipped == 3);
    CHECK(r.rest == msg("abc") + msg("de"));
  }
}

TEST_CASE("boundary search: a message that is not plausible is passed over") {
  Toy rules;
  const std::string stream = msg("aB") + msg("ok") + msg("x");
  const Result r = search(stream, 100, rules);
  REQUIRE(r.found);
  CHECK(r.skipped == 4);
  CHECK(r.rest == msg("ok") + msg("x"));
}

TEST_CASE("boundary search: data that ends exactly with a message ends the search") {
  Toy rules;
  const Result r = search("??" + msg("abc"), 100, rules);
  REQUIRE(r.found);
  CHECK(r.skipped == 2);
  CHECK(r.rest == msg("abc"));
}

TEST_CASE(
    "boundary search: a candidate still waiting for its bytes does not hold back a later one") {
  Toy rules;
  // 'L' claims 5000 bytes; the messages after it can be judged long before.
  const std::string stream = std::string("L\x13\x88", 3) + "zz" + msg("abc") + msg("de") + "tail";
  const Result r = search(stream, 4, rules);
  REQUIRE(r.found);
  CHECK(r.skipped == 5);
  CHECK(r.rest == msg("abc") + msg("de") + "tail");
}

TEST_CASE("boundary search: the earliest candidate wins once it can be judged") {
  Toy rules;
  const std::string first = std::string("L\x00\x06", 3) + "abcdef";
  const std::string stream = "!!" + first + msg("gh") + msg("i");
  const Result r = search(stream, 3, rules);
  REQUIRE(r.found);
  CHECK(r.skipped == 2);
  CHECK(r.rest == first + msg("gh") + msg("i"));
}

TEST_CASE("boundary search: resuming after the message found (the end of an answer)") {
  Toy rules;
  rules.after = true;
  const Result r = search("#" + msg("ab") + msg("cd"), 100, rules);
  REQUIRE(r.found);
  CHECK(r.skipped == 5);
  CHECK(r.rest == msg("cd"));
}

TEST_CASE("boundary search: a gap restarts it and counts what was held") {
  Toy rules;
  BoundarySearch s;
  CHECK_FALSE(s.feed(bytes_of("##M"), rules));
  s.restart();
  CHECK(s.held() == 3);
  const std::string rest = msg("ab") + msg("c");
  auto f = s.feed(bytes_of("!" + rest), rules);
  REQUIRE(f);
  CHECK(f->skipped == 4);  // three before the gap, one after
  CHECK(f->held.empty());
  CHECK(f->data_from == 1);
}

// The work a search does must be linear in the bytes it is given, whatever they are and however
// they are cut: a window held for a long candidate is never scanned again from its start.
TEST_CASE("boundary search: work is linear when a long candidate holds the window") {
  Toy rules;
  BoundarySearch s;
  // A candidate claiming 65000 bytes, then letters (each 'a' is no header) in 100-byte pieces:
  // a search that rescanned its window on every piece would judge ~65000^2/200 positions.
  const std::string head = std::string("L\xfd\xe8", 3);
  CHECK_FALSE(s.feed(bytes_of(head), rules));
  const std::string piece(100, 'a');
  uint64_t given = head.size();
  while (given < 64000) {
    CHECK_FALSE(s.feed(bytes_of(piece), rules));
    given += piece.size();
  }
  CHECK(rules.headers <= given);
  CHECK(rules.bytes == 0);
  // Its bytes arrive: judged once, accepted at the end of the data.
  const std::string last(65003 - given, 'a');
  auto f = s.feed(bytes_of(last), rules);
  REQUIRE(f);
  CHECK(f->skipped == 0);
  CHECK(f->held.size() == 65003);  // held from the candidate on, these bytes appended
  CHECK(f->data_from == last.size());
  CHECK(rules.bytes == 65003);
}

TEST_CASE("boundary search: work is linear with many waiting candidates") {
  Toy rules;
  BoundarySearch s;
  // Every third byte starts a candidate claiming 200 bytes whose body is not letters: each
  // waits, then is judged once; pieces of 10 bytes.
  std::string stream;
  while (stream.size() < 30000) stream += "M\xc8#";
  for (size_t at = 0; at < stream.size(); at += 10) {
    CHECK_FALSE(s.feed(bytes_of(stream.substr(at, 10)), rules));
  }
  CHECK(rules.headers <= 2 * stream.size());  // each position once, each candidate at most 3 times
  // Each would read 202 bytes: 67 a byte. The bytes judged stay within the budget.
  CHECK(rules.bytes > 0);
  CHECK(rules.bytes <= BoundarySearch::kWorkPerByte * stream.size());
}

TEST_CASE("boundary search: a real boundary is still found after costly candidates") {
  Toy rules;
  BoundarySearch s;
  std::string stream;
  while (stream.size() < 30000) stream += "M\xc8#";
  stream += msg("real") + msg("next");
  std::optional<BoundarySearch::Found> f;
  for (size_t at = 0; at < stream.size() && !f; at += 10)
    f = s.feed(bytes_of(stream.substr(at, 10)), rules);
  REQUIRE(f);
  CHECK(f->skipped == 30000);
}

TEST_CASE("boundary search: memory stays bounded however long nothing is found") {
  Toy rules;
  BoundarySearch s;
  const std::string junk(4096, '#');
  for (int i = 0; i < 1000; ++i) {
    CHECK_FALSE(s.feed(bytes_of(junk), rules));
    CHECK(s.kept() <= junk.size() + 2);
  }
  CHECK(s.held() == 4096u * 1000);
  // Nothing waits and no header starts in junk: only its last two bytes could begin one.
  CHECK(s.feed(bytes_of(msg("ab") + msg("c")), rules)->skipped == 4096u * 1000);
}

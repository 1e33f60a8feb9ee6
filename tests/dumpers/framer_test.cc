#include "dumpers/framer.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace tcpdp;

namespace {

// A protocol of 2-byte headers, a type letter and a body length: M a message, P a body passed
// over, S the end of what can be decoded; anything else is not a header. Out of sync, an M whose
// body is all lower case letters, followed by another M or the end of the data, is a boundary.
class Letters : public Framer::Protocol, public BoundaryRules {
 public:
  std::vector<std::string> messages;  // "M:body"
  std::vector<uint64_t> resyncs;      // bytes skipped before each boundary found
  bool in_place = false;              // the last body was handed over where the data lay

  size_t header_size() const override { return 2; }
  Framer::Verdict on_header(std::span<const uint8_t> h) override {
    switch (h[0]) {
      case 'M':
        return Framer::Verdict::read(h[1]);
      case 'P':
        return Framer::Verdict::pass(h[1]);
      case 'S':
        return Framer::Verdict::silent();
      default:
        return Framer::Verdict::lost();
    }
  }
  void on_message(std::span<const uint8_t> h, std::span<const uint8_t> body) override {
    messages.push_back(std::string(1, static_cast<char>(h[0])) + ":" +
                       std::string(body.begin(), body.end()));
    in_place = given_ && body.data() >= given_->data() &&
               body.data() + body.size() <= given_->data() + given_->size();
  }
  const BoundaryRules& boundaries() const override { return *this; }
  void on_resync(uint64_t skipped, Timestamp) override { resyncs.push_back(skipped); }

  size_t message_size(const uint8_t* h) const override { return h[0] == 'M' ? 2 + h[1] : 0; }
  bool plausible(std::span<const uint8_t> m) const override {
    for (size_t i = 2; i < m.size(); ++i) {
      if (m[i] < 'a' || m[i] > 'z') return false;
    }
    return true;
  }
  bool plausible_next(const uint8_t* h) const override { return h[0] == 'M'; }

  void feed(Framer& f, const std::string& bytes, size_t piece = SIZE_MAX) {
    for (size_t at = 0; at < bytes.size(); at += piece) {
      const std::string chunk = bytes.substr(at, piece);
      const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(chunk.data()),
                                          chunk.size());
      given_ = &data;
      f.feed(data, Timestamp{static_cast<int64_t>(at)}, *this);
      given_ = nullptr;
    }
  }

 private:
  const std::span<const uint8_t>* given_ = nullptr;
};

std::string msg(char type, const std::string& body) {
  return std::string(1, type) + static_cast<char>(body.size()) + body;
}

}  // namespace

TEST_CASE("whole messages out, however the bytes are cut; a body a chunk holds is not copied") {
  const std::string stream = msg('M', "hello") + msg('M', "") + msg('P', "skip me") +
                             msg('M', "world");
  for (size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, SIZE_MAX}) {
    Framer f;
    Letters p;
    p.feed(f, stream, piece);
    CHECK(p.messages == std::vector<std::string>{"M:hello", "M:", "M:world"});
    CHECK(f.state() == Framer::State::kInSync);
    CHECK(f.unfinished().what == Framer::Unfinished::kNothing);
  }
  Framer f;
  Letters p;
  p.feed(f, msg('M', "whole"));
  CHECK(p.in_place);
}

TEST_CASE("a message's time is its first byte's") {
  Framer f;
  Letters p;
  p.feed(f, msg('M', "abc"), 1);  // the bytes come at times 0, 1, 2, 3, 4
  CHECK(f.message_ts().usec == 0);
}

TEST_CASE("a header that is none: out of sync until a trusted boundary, the bytes counted") {
  Framer f;
  Letters p;
  p.feed(f, msg('M', "one") + "?x" + "junk" + msg('M', "two") + msg('M', "three"));
  CHECK(f.state() == Framer::State::kInSync);
  CHECK(p.messages == std::vector<std::string>{"M:one", "M:two", "M:three"});
  CHECK(p.resyncs == std::vector<uint64_t>{4});  // "junk": the bad header itself was read
}

TEST_CASE("silent: nothing more is framed") {
  Framer f;
  Letters p;
  p.feed(f, msg('M', "a") + std::string("S\0", 2) + msg('M', "b"));
  CHECK(f.state() == Framer::State::kSilent);
  CHECK(p.messages == std::vector<std::string>{"M:a"});
  f.lose_sync();  // a gap does not wake it
  CHECK(f.state() == Framer::State::kSilent);
}

TEST_CASE("what the end cut short: a header, a body, bytes passed over, bytes searched") {
  {
    Framer f;
    Letters p;
    p.feed(f, "M");
    CHECK(f.unfinished().what == Framer::Unfinished::kHeader);
    CHECK(f.unfinished().seen == 1);
  }
  {
    Framer f;
    Letters p;
    p.feed(f, msg('M', "abcdef").substr(0, 5));
    const Framer::Unfinished u = f.unfinished();
    CHECK(u.what == Framer::Unfinished::kBody);
    CHECK(u.seen == 3);
    CHECK(u.size == 6);
    REQUIRE(u.header.size() == 2);
    CHECK(u.header[0] == 'M');
  }
  {
    Framer f;
    Letters p;
    p.feed(f, msg('P', "abcdef").substr(0, 4));
    CHECK(f.unfinished().what == Framer::Unfinished::kPassing);
    CHECK(f.unfinished().size == 4);
  }
  {
    Framer f;
    Letters p;
    p.feed(f, msg('M', "abc").substr(0, 3));
    f.lose_sync();  // a gap: the message under way is dropped
    p.feed(f, "zzzzz");
    CHECK(f.state() == Framer::State::kOutOfSync);
    CHECK(f.unfinished().what == Framer::Unfinished::kSearching);
    CHECK(f.unfinished().seen == 5);
    f.clear_search();
    CHECK(f.unfinished().what == Framer::Unfinished::kNothing);
  }
}

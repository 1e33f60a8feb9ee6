// Pages laid out as tracefs describes them (events/header_page: a u64 timestamp, the commit word
// at 8, data at 16; events/header_event: 5 bits of type_len, 27 of time delta, then the data, or
// for type_len 0 a length word first; 29 padding, 30 a time extension, 31 an absolute time).
#include "audit/ring_page.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

using namespace tcpdp::audit;

namespace {

// This kernel's events/header_page, as tracefs wrote it.
const char* kHeaderPage =
    "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
    "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
    "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
    "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n";

struct PageBuilder {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(16);
  void word(uint32_t w) {
    const size_t at = bytes.size();
    bytes.resize(at + 4);
    std::memcpy(bytes.data() + at, &w, 4);
  }
  void header(uint32_t type_len, uint32_t delta) { word(type_len | (delta << 5)); }
  void data(size_t n, uint8_t fill) { bytes.insert(bytes.end(), n, fill); }
  // The page's start time and commit word (byte count and flags), then room up to 4096.
  std::vector<uint8_t> finish(uint64_t ts, uint64_t flags = 0, size_t extra = 0) {
    const uint64_t commit = (bytes.size() - 16 - extra) | flags;
    std::memcpy(bytes.data(), &ts, 8);
    std::memcpy(bytes.data() + 8, &commit, 8);
    std::vector<uint8_t> page = bytes;
    page.resize(4096);
    return page;
  }
};

struct Got {
  uint64_t ts;
  size_t size;
  uint8_t first;
};

PageSummary read_all(const std::vector<uint8_t>& page, std::vector<Got>& got) {
  return read_page(page, PageLayout{}, [&](const RingEvent& e) {
    got.push_back({e.ts, e.data.size(), e.data.empty() ? uint8_t{0} : e.data[0]});
  });
}

}  // namespace

TEST_CASE("the page header's layout, from tracefs's own description") {
  PageLayout l;
  std::string error;
  REQUIRE(PageLayout::parse(kHeaderPage, l, error));
  CHECK(l.timestamp_offset == 0);
  CHECK(l.commit_offset == 8);
  CHECK(l.commit_size == 8);
  CHECK(l.data_offset == 16);
  CHECK_FALSE(
      PageLayout::parse("\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n", l, error));
  CHECK(error.find("commit") != std::string::npos);
}

TEST_CASE("events, time deltas, a time extension, a long event and padding") {
  PageBuilder b;
  b.header(3, 5);  // 12 bytes of data, 5 ns after the page's time
  b.data(12, 0xA1);
  b.header(30, 7);  // a time extension: 7 + (2 << 27) ns
  b.word(2);
  b.header(0, 1);  // a long event: its length word (4 + 120) first
  b.word(124);
  b.data(120, 0xB2);
  b.header(29, 3);  // an event discarded after it was written: 8 bytes to pass over
  b.word(8);
  b.data(4, 0);
  b.header(1, 9);  // 4 bytes
  b.data(4, 0xC3);
  b.header(29, 0);  // the rest of the page is unused
  std::vector<Got> got;
  const PageSummary s = read_all(b.finish(1000), got);
  CHECK(s.error.empty());
  CHECK_FALSE(s.lost_before);
  REQUIRE(got.size() == 3);
  CHECK(got[0].ts == 1005);
  CHECK(got[0].size == 12);
  CHECK(got[0].first == 0xA1);
  const uint64_t extended = 1005 + 7 + (uint64_t{2} << 27);
  CHECK(got[1].ts == extended + 1);
  CHECK(got[1].size == 120);
  CHECK(got[1].first == 0xB2);
  CHECK(got[2].ts == extended + 1 + 3 + 9);
  CHECK(got[2].first == 0xC3);
  CHECK(s.events == 3);
}

TEST_CASE("events lost before the page, counted or not") {
  PageBuilder counted;
  counted.header(1, 1);
  counted.data(4, 1);
  counted.bytes.resize(counted.bytes.size() + 8);  // the count follows the data
  const uint64_t seven = 7;
  std::memcpy(counted.bytes.data() + counted.bytes.size() - 8, &seven, 8);
  std::vector<Got> got;
  PageSummary s = read_all(counted.finish(0, (uint64_t{1} << 31) | (uint64_t{1} << 30), 8), got);
  CHECK(s.lost_before);
  CHECK(s.lost_count == 7);
  CHECK(got.size() == 1);

  PageBuilder uncounted;
  uncounted.header(1, 1);
  uncounted.data(4, 1);
  s = read_all(uncounted.finish(0, uint64_t{1} << 31), got);
  CHECK(s.lost_before);
  CHECK(s.lost_count == -1);
}

TEST_CASE("a page that breaks its layout keeps the events before the break") {
  std::vector<Got> got;
  SUBCASE("an event longer than the page") {
    PageBuilder b;
    b.header(2, 1);
    b.data(8, 1);
    b.header(0, 1);
    b.word(5000);
    b.data(8, 2);
    const PageSummary s = read_all(b.finish(0), got);
    CHECK(s.error == "an event runs past the page");
    CHECK(got.size() == 1);
  }
  SUBCASE("a byte count larger than the page") {
    PageBuilder b;
    std::vector<uint8_t> page = b.finish(0);
    const uint64_t commit = 5000;
    std::memcpy(page.data() + 8, &commit, 8);
    CHECK(read_all(page, got).error == "a page that says it holds more than its size");
  }
  SUBCASE("a long event whose length word is cut off") {
    PageBuilder b;
    b.header(0, 1);
    CHECK(read_all(b.finish(0), got).error == "an event without its length");
  }
  SUBCASE("a page shorter than its header") {
    CHECK(read_all(std::vector<uint8_t>(10), got).error == "a page shorter than its header");
  }
  CHECK(got.size() <= 1);
}

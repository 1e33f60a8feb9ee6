#include "tcptrack/reassembler.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using tcpdp::Reassembler;
using tcpdp::ReassemblyLimits;
using tcpdp::Timestamp;

namespace {

// Records what the reassembler delivers as a string: data as is, a gap of n as "<gap n>".
struct Collect : tcpdp::StreamOutput {
  std::string stream;
  void data(Timestamp, std::span<const uint8_t> b) override { stream.append(b.begin(), b.end()); }
  void gap(Timestamp, uint64_t n) override { stream += "<gap " + std::to_string(n) + ">"; }
};

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Fixture {
  Reassembler r{true, ReassemblyLimits{}};
  Collect out;
  void seg(uint32_t seq, const std::string& data, bool fin = false, uint32_t missing = 0) {
    r.segment(Timestamp{}, seq, bytes(data), missing, fin, out);
  }
};

}  // namespace

TEST_CASE("in-order segments come out as they are") {
  Fixture f;
  f.r.start(1000);
  f.seg(1000, "hello ");
  f.seg(1006, "world");
  CHECK(f.out.stream == "hello world");
}

TEST_CASE("an out-of-order segment is held until the hole is filled") {
  Fixture f;
  f.r.start(1);
  f.seg(1, "AAAA");
  f.seg(9, "CCCC");
  CHECK(f.out.stream == "AAAA");
  f.seg(5, "BBBB");
  CHECK(f.out.stream == "AAAABBBBCCCC");
}

TEST_CASE("an exact retransmit is dropped") {
  Fixture f;
  f.r.start(1);
  f.seg(1, "abc");
  f.seg(1, "abc");
  f.seg(4, "def");
  CHECK(f.out.stream == "abcdef");
  CHECK(f.r.stats().duplicate_bytes == 3);
}

TEST_CASE("an overlapping segment adds only its new tail; delivered bytes win") {
  Fixture f;
  f.r.start(1);
  f.seg(1, "abcd");
  f.seg(3, "XYef");  // "XY" covers "cd", already delivered
  CHECK(f.out.stream == "abcdef");
}

TEST_CASE("held segments that overlap each other are delivered once") {
  Fixture f;
  f.r.start(1);
  f.seg(5, "efgh");
  f.seg(3, "cdef");
  f.seg(1, "ab");
  CHECK(f.out.stream == "abcdefgh");
}

TEST_CASE("the peer acknowledging past a hole declares a gap of the hole's size") {
  Fixture f;
  f.r.start(100);
  f.seg(100, "one");
  f.seg(110, "three");  // bytes 103..109 never captured
  CHECK(f.out.stream == "one");
  f.r.peer_ack(Timestamp{}, 115, f.out);
  CHECK(f.out.stream == "one<gap 7>three");
}

TEST_CASE("a segment arriving beyond bytes the peer already acknowledged gaps at once") {
  Fixture f;
  f.r.start(100);
  f.seg(100, "one");
  f.r.peer_ack(Timestamp{}, 110, f.out);  // peer got 103..109, the capture did not
  CHECK(f.out.stream == "one");
  f.seg(110, "two");
  CHECK(f.out.stream == "one<gap 7>two");
}

TEST_CASE("an acknowledgement that stops inside the hole declares nothing yet") {
  Fixture f;
  f.r.start(100);
  f.seg(100, "one");
  f.seg(110, "three");
  f.r.peer_ack(Timestamp{}, 105, f.out);
  CHECK(f.out.stream == "one");
  f.seg(103, "1234567");  // the hole is filled after all
  CHECK(f.out.stream == "one1234567three");
}

TEST_CASE("flush reports open holes as gaps and delivers what was held") {
  Fixture f;
  f.r.start(0);
  f.seg(0, "a");
  f.seg(5, "f");
  f.seg(10, "k");
  f.r.flush(Timestamp{}, f.out);
  CHECK(f.out.stream == "a<gap 4>f<gap 4>k");
}

TEST_CASE("bytes before a FIN that never arrived are a gap at flush") {
  Fixture f;
  f.r.start(0);
  f.seg(0, "ab");
  f.seg(6, "", true);  // FIN at 6: bytes 2..5 missing
  CHECK_FALSE(f.r.finished());
  f.r.flush(Timestamp{}, f.out);
  CHECK(f.out.stream == "ab<gap 4>");
  CHECK(f.r.finished());
}

TEST_CASE("FIN after all data finishes the direction") {
  Fixture f;
  f.r.start(0);
  f.seg(0, "ab", true);
  CHECK(f.r.finished());
}

TEST_CASE("sequence numbers wrap around 2^32") {
  Fixture f;
  f.r.start(0xFFFFFFFCu);
  f.seg(0xFFFFFFFCu, "abcd");
  f.seg(4, "ijkl");  // out of order, after the wrap
  f.seg(0, "efgh");
  CHECK(f.out.stream == "abcdefghijkl");
}

TEST_CASE("a payload cut by the snapshot length: captured part, then a gap for the rest") {
  Fixture f;
  f.r.start(0);
  f.seg(0, "head", false, 96);
  f.seg(100, "next");
  CHECK(f.out.stream == "head<gap 96>next");
}

TEST_CASE("the hold limit forces a gap instead of growing") {
  Reassembler r{true, ReassemblyLimits{8, 100}};
  Collect out;
  r.start(0);
  r.segment(Timestamp{}, 0, bytes("a"), 0, false, out);
  r.segment(Timestamp{}, 10, bytes("12345"), 0, false, out);
  CHECK(out.stream == "a");
  r.segment(Timestamp{}, 20, bytes("67890"), 0, false, out);  // 10 held bytes > 8
  CHECK(out.stream == "a<gap 9>12345");
  CHECK(r.stats().forced_gaps == 1);
}

TEST_CASE("without data, lengths are tracked and gaps still reported") {
  Reassembler r{false, ReassemblyLimits{}};
  Collect out;
  r.start(0);
  r.segment(Timestamp{}, 0, bytes("abc"), 0, false, out);
  r.segment(Timestamp{}, 5, bytes("fg"), 0, false, out);
  r.flush(Timestamp{}, out);
  CHECK(out.stream == "<gap 2>");
  CHECK(r.stats().delivered_bytes == 5);
}

TEST_CASE("bytes missed before a bare FIN are a gap once the peer acknowledged them all") {
  // The capture lost the end of the data; the peer acknowledged it, then the FIN came alone:
  // the connection finished, with the lost bytes said as a gap (it stayed open before).
  Fixture f;
  f.r.start(1000);
  f.seg(1000, "hello ");
  f.r.peer_ack(Timestamp{}, 1106, f.out);
  CHECK(f.out.stream == "hello ");  // the ack alone proves nothing yet: more may come in order
  f.seg(1106, "", /*fin=*/true);
  CHECK(f.out.stream == "hello <gap 100>");
  CHECK(f.r.finished());
}

TEST_CASE("a bare FIN whose bytes the peer has not acknowledged waits for them") {
  Fixture f;
  f.r.start(1000);
  f.seg(1000, "hello ");
  f.seg(1106, "", /*fin=*/true);
  CHECK_FALSE(f.r.finished());
  f.seg(1006, std::string(100, 'x'));
  CHECK(f.out.stream == "hello " + std::string(100, 'x'));
  CHECK(f.r.finished());
  Fixture g;
  g.r.start(1000);
  g.seg(1000, "hello ");
  g.seg(1106, "", /*fin=*/true);
  g.r.peer_ack(Timestamp{}, 1106, g.out);  // the ack after the FIN settles it too
  CHECK(g.out.stream == "hello <gap 100>");
  CHECK(g.r.finished());
}

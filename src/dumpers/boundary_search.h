/// After a gap or a pickup mid-way, a decoder no longer knows where messages begin. BoundarySearch
/// finds a boundary it can trust in the bytes that follow, for any protocol whose messages start
/// with a header that gives their length: the protocol says which headers are possible, whether a
/// whole message looks right, and what may follow it (BoundaryRules).
///
/// A candidate is judged once all of its bytes and the next header are here, or when the data ends
/// exactly at its end (segments usually end with a message). The earliest candidate that can be
/// judged and passes wins; one that cannot be judged yet waits for more bytes, and a later one that
/// can be judged may win meanwhile. Every position is examined once and every waiting candidate is
/// judged at most twice, so the work is linear in the bytes given, however they arrive (a held
/// window is never scanned again from its start). Judging a candidate reads up to all of its
/// bytes, and candidates may overlap (crafted data can start one every few bytes, each claiming a
/// long message), so the bytes judged are bounded too: kWorkPerByte for each byte given, a
/// candidate that would take more being refused unjudged (real boundaries come again). Bytes are
/// searched where the caller has them and copied only when they must wait for the next call.
/// Memory: the bytes from the earliest waiting candidate on (a candidate is at most the rules'
/// largest message) and at most kMaxWaiting waiting candidates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace tcpdp {

class BoundaryRules {
 public:
  virtual ~BoundaryRules() = default;
  /// Bytes of a message header.
  virtual size_t header_size() const = 0;
  /// The size of the message (header included) whose header would start at h (header_size()
  /// bytes), or 0 when no message can start there.
  virtual size_t message_size(const uint8_t* h) const = 0;
  /// Whether these bytes, one whole message with its header, are a message of its kind.
  virtual bool plausible(std::span<const uint8_t> message) const = 0;
  /// Whether a header that follows a plausible message may start at h (header_size() bytes).
  virtual bool plausible_next(const uint8_t* h) const = 0;
  /// Whether decoding resumes after the message found (the end of an answer) rather than at it.
  virtual bool resume_after() const { return false; }
};

class BoundarySearch {
 public:
  static constexpr size_t kMaxWaiting = 16384;
  static constexpr uint64_t kWorkPerByte = 4;

  /// Where decoding resumes: the held bytes from the boundary on (empty when the boundary is in
  /// the data just given), then the data just given from data_from (its end when held is not
  /// empty).
  struct Found {
    uint64_t skipped = 0;  // bytes passed over before the boundary since the search began
    std::string held;
    size_t data_from = 0;
  };

  /// Searches the next bytes; returns the boundary once one is trusted, and the search starts
  /// over.
  std::optional<Found> feed(std::span<const uint8_t> data, const BoundaryRules& rules);
  /// Bytes given since the search began that were not returned in a Found (so far all skipped).
  uint64_t held() const { return passed_ + end_; }
  /// Bytes kept in memory for the next call.
  size_t kept() const { return buf_.size(); }
  /// A gap: positions no longer line up, the bytes so far are all passed over.
  void restart();
  /// Forgets everything, the count too.
  void clear();

 private:
  enum class Verdict { kReject, kAccept, kWait };
  struct Waiting {
    uint64_t judge_at;  // the stream offset the data must reach before it is judged again
    uint64_t pos;
    bool operator>(const Waiting& o) const {
      return judge_at != o.judge_at ? judge_at > o.judge_at : pos > o.pos;
    }
  };

  Verdict judge(uint64_t pos, const BoundaryRules& rules, uint64_t* judge_at);
  const uint8_t* at(uint64_t pos) const { return view_.data() + (pos - view_base_); }
  void wait(uint64_t pos, uint64_t judge_at);
  Found found(uint64_t pos, const BoundaryRules& rules, bool in_place, size_t data_size);
  void keep(bool in_place);

  std::string buf_;    // the bytes held from stream offset base_ to end_
  uint64_t base_ = 0;  // offsets count from where the search (re)started
  uint64_t end_ = 0;
  std::span<const uint8_t> view_;  // during feed: the bytes searched (buf_ or the data given)
  uint64_t view_base_ = 0;         // and the stream offset of their first byte
  uint64_t scan_ = 0;              // the next offset to examine
  uint64_t passed_ = 0;            // bytes of earlier searches since the last boundary (gaps)
  uint64_t budget_ = 0;            // message bytes that may still be judged
  std::vector<Waiting> queue_;     // min-heap on judge_at
  std::set<uint64_t> waiting_;  // the same candidates by offset: the earliest bounds what is kept
};

}  // namespace tcpdp

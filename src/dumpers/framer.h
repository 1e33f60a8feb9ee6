/// One direction of a connection cut into whole messages: the part of a protocol decoder that
/// every length-prefixed protocol needs, written once. Headers and bodies are gathered across
/// segments (a body a segment holds whole is handed over where it lies), bodies the protocol does
/// not want are passed over unseen, bad bytes and gaps send the direction looking for a boundary
/// (BoundarySearch), and at the end the framer says what was cut short. The protocol decides,
/// header by header, what each message is; the framer knows no protocol.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "common/timestamp.h"
#include "dumpers/boundary_search.h"

namespace tcpdp {

class Framer {
 public:
  /// The direction's state, asked rather than inferred.
  enum class State : uint8_t {
    kInSync,     // at a message boundary, or inside a message whose header was read
    kOutOfSync,  // looking for a boundary: after bad bytes, a gap, or a pickup mid-way
    kSilent,     // nothing more is decoded (encrypted, or not the protocol)
  };

  /// What the protocol makes of a header.
  struct Verdict {
    enum Action : uint8_t { kRead, kPass, kLost, kSilent };
    Action action;
    uint64_t bytes = 0;  // kRead: the body to gather; kPass: bytes to pass over unseen

    static Verdict read(uint64_t body) { return {kRead, body}; }
    static Verdict pass(uint64_t body) { return {kPass, body}; }
    /// Not a header of the protocol: look for the next boundary.
    static Verdict lost() { return {kLost, 0}; }
    /// Nothing more of this direction can be decoded.
    static Verdict silent() { return {kSilent, 0}; }
  };

  class Protocol {
   public:
    virtual ~Protocol() = default;
    /// Bytes of the next header (at most kMaxHeader; it may change with the protocol's phase).
    virtual size_t header_size() const = 0;
    virtual Verdict on_header(std::span<const uint8_t> header) = 0;
    /// A whole message, header and body, valid during the call only.
    virtual void on_message(std::span<const uint8_t> header, std::span<const uint8_t> body) = 0;
    /// Out of sync: what a trusted boundary is.
    virtual const BoundaryRules& boundaries() const = 0;
    /// A boundary was found after `skipped` bytes were passed over.
    virtual void on_resync(uint64_t skipped, Timestamp ts) = 0;
  };

  static constexpr size_t kMaxHeader = 8;

  explicit Framer(State start = State::kInSync) : state_(start) {}

  void feed(std::span<const uint8_t> data, Timestamp ts, Protocol& protocol);
  /// Drops the message under way and looks for the next boundary; a silent direction stays so.
  void lose_sync();
  void silence();
  State state() const { return state_; }
  /// The time of the first byte of the message under way (or the last one).
  Timestamp message_ts() const { return msg_ts_; }

  /// What the end of the stream cut short.
  struct Unfinished {
    enum What : uint8_t { kNothing, kSearching, kHeader, kBody, kPassing };
    What what = kNothing;
    uint64_t seen = 0;  // kSearching: bytes held unjudged; kHeader, kBody: bytes of it seen
    uint64_t size = 0;  // kBody: the body's size; kPassing: bytes not seen
    std::span<const uint8_t> header;  // kBody, kPassing: the message's header
  };
  Unfinished unfinished() const;
  /// Forgets the bytes a search holds (once said unfinished).
  void clear_search() { search_.clear(); }

 private:
  // Gathers up to `want` bytes into buf_; true when it holds them.
  bool gather(std::span<const uint8_t>& data, size_t want);

  State state_;
  // A gathered body's buffer kept for the next one up to this size (per direction).
  static constexpr size_t kKeptBuffer = 64 * 1024;
  std::string buf_;   // a header or a body being gathered
  std::string body_;  // a gathered body while it is handed over (buf_ may be cleared meanwhile)
  std::array<uint8_t, kMaxHeader> header_{};
  size_t header_len_ = 0;  // of the message being read or passed
  bool in_body_ = false;
  uint64_t body_len_ = 0;
  uint64_t pass_left_ = 0;
  Timestamp msg_ts_;
  BoundarySearch search_;
};

}  // namespace tcpdp

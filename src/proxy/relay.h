/// One relayed connection's state, as a proxy worker keeps it: its two sockets (the client's and
/// the remote's), the bytes waiting to be written to each, and what the logs need to know of it.
#pragma once

#include <chrono>
#include <cstring>
#include <list>
#include <memory>
#include <vector>

#include "common/conn.h"
#include "dumpers/dumper.h"
#include "tcptrack/lifecycle.h"

namespace tcpdp::proxy {

enum Side : uint8_t { kClient = 0, kRemote = 1 };
inline Side other(Side s) { return s == kClient ? kRemote : kClient; }
inline const char* side_name(Side s) { return s == kClient ? "client" : "remote"; }
// Bytes leaving through `to` travel in this direction.
inline Direction direction_to(Side to) {
  return to == kRemote ? Direction::kClientToServer : Direction::kServerToClient;
}

// One direction's bytes between reading them from one socket and writing them to the other.
class Buffer {
 public:
  explicit Buffer(size_t capacity) : capacity_(capacity) {}
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  const uint8_t* head() const { return data_.get() + begin_; }
  // Room at the end, moving what is left to the front first when that makes more.
  size_t room() {
    if (!data_) data_ = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
    if (end_ == capacity_ && begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, size());
      end_ -= begin_;
      begin_ = 0;
    }
    return capacity_ - end_;
  }
  uint8_t* tail() { return data_.get() + end_; }
  void produced(size_t n) { end_ += n; }
  void consumed(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  size_t capacity() const { return capacity_; }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// A connection's dump records, numbered in the order they are written (conn_seq_num).
class Sequenced : public RecordSink {
 public:
  explicit Sequenced(RecordSink& to) : to_(to) {}
  void write(const Record& r) override {
    copy_ = r;
    copy_.add("conn_seq_num", ++n_);
    to_.write(copy_);
  }

 private:
  RecordSink& to_;
  uint64_t n_ = 0;
  Record copy_;
};

class NullSink : public RecordSink {
 public:
  void write(const Record&) override {}
};

// One socket of a relayed connection.
struct Half {
  int fd = -1;
  Buffer out;         // bytes waiting to be written to this socket
  bool eof = false;   // its peer finished sending (a read gave 0)
  bool shut = false;  // we finished sending on it (shutdown SHUT_WR)
  uint32_t watched = 0;
  uint64_t sent = 0;  // bytes written to it
  TcpState state;
  Half(size_t capacity, TcpState initial) : out(capacity), state(initial) {}
};

struct Relay {
  explicit Relay(size_t capacity)
      : half{Half(capacity, TcpState::kSynRecv), Half(capacity, TcpState::kClosed)} {}
  Half half[2];
  std::list<Relay*>::iterator pos;
  bool connecting = false;             // the remote's connect was started and has not completed yet
  bool done = false;                   // finished; freed after the current batch of events
  const char* closed_first = "proxy";  // the side whose FIN came first
  bool any_eof = false;
  std::vector<IpAddr> remotes;  // the remote's addresses, tried in order
  size_t next_remote = 0;
  std::chrono::steady_clock::time_point connect_deadline;
  std::chrono::steady_clock::time_point header_deadline;
  bool header_pending = false;  // no remote connection is started before the header is read
  size_t header_skip = 0;       // header bytes forwarded to the remote but not decoded
  ConnInfo info;
  Timestamp opened;
  uint32_t changes = 0;  // state records written, for their uid
  std::unique_ptr<Sequenced> sink;
  std::unique_ptr<Dumper> dumper;
  std::unique_ptr<Decoder> decoder;
  GroupRef life_fields;
};

}  // namespace tcpdp::proxy

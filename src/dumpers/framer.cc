#include "dumpers/framer.h"

#include <algorithm>
#include <cstring>

namespace tcpdp {

bool Framer::gather(std::span<const uint8_t>& data, size_t want) {
  const size_t take = std::min(want - buf_.size(), data.size());
  buf_.append(reinterpret_cast<const char*>(data.data()), take);
  data = data.subspan(take);
  return buf_.size() == want;
}

void Framer::feed(std::span<const uint8_t> data, Timestamp ts, Protocol& protocol) {
  std::string held;  // bytes the boundary search held, decoded from its boundary on
  while (!data.empty()) {
    if (state_ == State::kSilent) return;
    if (state_ == State::kOutOfSync) {
      auto found = search_.feed(data, protocol.boundaries());
      if (!found) return;
      state_ = State::kInSync;
      protocol.on_resync(found->skipped, ts);
      data = data.subspan(found->data_from);
      if (!found->held.empty()) {  // then data is all in it
        held = std::move(found->held);
        data = {reinterpret_cast<const uint8_t*>(held.data()), held.size()};
      }
      continue;
    }
    if (pass_left_ > 0) {
      const size_t n = std::min<uint64_t>(pass_left_, data.size());
      pass_left_ -= n;
      data = data.subspan(n);
      continue;
    }
    if (!in_body_) {
      const size_t size = protocol.header_size();
      if (buf_.empty() && data.size() >= size) {  // whole in this segment: no gathering
        msg_ts_ = ts;
        std::memcpy(header_.data(), data.data(), size);
        data = data.subspan(size);
      } else {
        if (buf_.empty()) msg_ts_ = ts;
        if (!gather(data, size)) return;
        std::memcpy(header_.data(), buf_.data(), size);
        buf_.clear();
      }
      header_len_ = size;
      const Verdict v = protocol.on_header({header_.data(), size});
      switch (v.action) {
        case Verdict::kLost:
          lose_sync();
          continue;
        case Verdict::kSilent:
          silence();
          return;
        case Verdict::kPass:
          pass_left_ = v.bytes;
          continue;
        case Verdict::kRead:
          body_len_ = v.bytes;
          in_body_ = true;
          break;
      }
    }
    const std::span<const uint8_t> header(header_.data(), header_len_);
    if (buf_.empty() && data.size() >= body_len_) {
      const auto body = data.first(body_len_);
      data = data.subspan(body_len_);
      in_body_ = false;
      protocol.on_message(header, body);
      continue;
    }
    if (!gather(data, body_len_)) return;
    body_.swap(buf_);  // both keep their capacity for the next message
    buf_.clear();
    in_body_ = false;
    protocol.on_message(header, {reinterpret_cast<const uint8_t*>(body_.data()), body_.size()});
    if (body_.capacity() > kKeptBuffer) std::string().swap(body_);  // a rare large one: let go
  }
}

void Framer::lose_sync() {
  if (state_ == State::kSilent) return;
  search_.restart();
  buf_.clear();
  in_body_ = false;
  pass_left_ = 0;
  state_ = State::kOutOfSync;
}

void Framer::silence() {
  search_.clear();
  std::string().swap(buf_);  // body_ may be in use: it goes with the Framer
  in_body_ = false;
  pass_left_ = 0;
  state_ = State::kSilent;
}

Framer::Unfinished Framer::unfinished() const {
  if (state_ == State::kOutOfSync && search_.held() > 0) {
    return {Unfinished::kSearching, search_.held(), 0, {}};
  }
  if (state_ != State::kInSync) return {};
  const std::span<const uint8_t> header(header_.data(), header_len_);
  if (in_body_) return {Unfinished::kBody, buf_.size(), body_len_, header};
  if (pass_left_ > 0) return {Unfinished::kPassing, 0, pass_left_, header};
  if (!buf_.empty()) return {Unfinished::kHeader, buf_.size(), 0, {}};
  return {};
}

}  // namespace tcpdp

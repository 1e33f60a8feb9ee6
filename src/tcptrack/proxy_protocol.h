/// The PROXY protocol header (HAProxy, versions 1 and 2) that a load balancer puts in front of a
/// client->server stream to say which client it relays: recognised, checked and measured.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/endpoint.h"

namespace tcpdp {

struct ProxyHeader {
  enum class Status { kNeedMore, kNotProxy, kInvalid, kParsed };
  Status status = Status::kNeedMore;
  size_t length = 0;             // bytes the header takes at the start of the stream (kParsed)
  bool local = false;            // v2 LOCAL command or v1 "UNKNOWN": no addresses carried
  Endpoint source, destination;  // valid when kParsed && !local
  std::string error;             // kInvalid: one sentence saying what is wrong (for a log line)
};

/// The longest header there can be: 16 fixed bytes of v2 and the largest length they announce.
constexpr size_t kMaxProxyHeader = 16 + 65535;

/// Looks at the first bytes of a client->server stream. kNeedMore: a prefix of a possible header,
/// give more bytes (the caller buffers; never more than kMaxProxyHeader). kNotProxy: the stream
/// does not start with a PROXY signature (hand all bytes to the protocol decoder).
///
/// v2 headers that carry no TCP endpoints (LOCAL, AF_UNSPEC, AF_UNIX, UDP) are kParsed with
/// `local` set, as the specification lets a receiver fall back to the real connection's endpoints.
ProxyHeader parse_proxy_header(std::span<const uint8_t> stream_start);

}  // namespace tcpdp

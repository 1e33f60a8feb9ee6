#include "audit/tcp_state_event.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace tcpdp::audit {

namespace {

bool take(const EventFormat& f, const char* name, FieldFormat& out, std::string& error) {
  if (const FieldFormat* field = f.field(name)) {
    out = *field;
    return true;
  }
  error = "the event " + f.name + " has no field " + name;
  return false;
}

// An IPv6 socket talking to an IPv4 peer has the peer as ::ffff:a.b.c.d; it is written as the
// IPv4 address the packets carry, as read and probe write it.
IpAddr address_v6(const uint8_t* sixteen) {
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(sixteen, kMapped, 12) == 0) return IpAddr::v4(sixteen + 12);
  return IpAddr::v6(sixteen);
}

}  // namespace

const char* kernel_tcp_state_name(int state) {
  static const char* const kNames[] = {
      nullptr,  "ESTABLISHED", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",  "TIME-WAIT",
      "CLOSED", "CLOSE-WAIT",  "LAST-ACK", "LISTEN",   "CLOSING",    "NEW-SYN-RECV"};
  if (state < 1 || state > 12) return nullptr;
  return kNames[state];
}

bool TcpStateDecoder::init(const EventFormat& f, std::string& error) {
  id_ = f.id;
  if (id_ < 0) {
    error = "the event " + f.name + " has no ID";
    return false;
  }
  if (!take(f, "common_type", type_, error) || !take(f, "common_pid", pid_, error) ||
      !take(f, "skaddr", skaddr_, error) || !take(f, "oldstate", oldstate_, error) ||
      !take(f, "newstate", newstate_, error) || !take(f, "sport", sport_, error) ||
      !take(f, "dport", dport_, error) || !take(f, "saddr", saddr_, error) ||
      !take(f, "daddr", daddr_, error) || !take(f, "saddr_v6", saddr_v6_, error) ||
      !take(f, "daddr_v6", daddr_v6_, error))
    return false;
  if (saddr_.size != 4 || daddr_.size != 4 || saddr_v6_.size != 16 || daddr_v6_.size != 16) {
    error = "the event " + f.name + " has addresses of sizes tcpdp does not know";
    return false;
  }
  std::string ignored;
  take(f, "family", family_, ignored);
  take(f, "protocol", protocol_, ignored);
  return true;
}

bool TcpStateDecoder::decode(std::span<const uint8_t> data, KernelStateChange& out) const {
  const auto type = read_unsigned(data, type_);
  if (!type || static_cast<int>(*type) != id_) return false;
  if (protocol_.size) {
    const auto protocol = read_unsigned(data, protocol_);
    if (!protocol || *protocol != IPPROTO_TCP) return false;
  }
  const auto pid = read_signed(data, pid_);
  const auto skaddr = read_unsigned(data, skaddr_);
  const auto old_state = read_signed(data, oldstate_);
  const auto new_state = read_signed(data, newstate_);
  const auto sport = read_unsigned(data, sport_);
  const auto dport = read_unsigned(data, dport_);
  if (!pid || !skaddr || !old_state || !new_state || !sport || !dport) return false;
  // tcp:tcp_set_state has no family: an IPv4 socket has its address in saddr and a mapped
  // one in saddr_v6, so the v4 field being set is what tells.
  bool v6 = false;
  const auto s4 = field_bytes(data, saddr_), d4 = field_bytes(data, daddr_);
  const auto s6 = field_bytes(data, saddr_v6_), d6 = field_bytes(data, daddr_v6_);
  if (s4.empty() || d4.empty() || s6.empty() || d6.empty()) return false;
  if (family_.size) {
    const auto family = read_unsigned(data, family_);
    if (!family) return false;
    v6 = *family == AF_INET6;
  } else {
    v6 = (s4[0] | s4[1] | s4[2] | s4[3] | d4[0] | d4[1] | d4[2] | d4[3]) == 0;
  }
  out.pid_on_cpu = static_cast<int32_t>(*pid);
  out.skaddr = *skaddr;
  out.old_state = static_cast<int>(*old_state);
  out.new_state = static_cast<int>(*new_state);
  out.src =
      Endpoint{v6 ? address_v6(s6.data()) : IpAddr::v4(s4.data()), static_cast<uint16_t>(*sport)};
  out.dst =
      Endpoint{v6 ? address_v6(d6.data()) : IpAddr::v4(d4.data()), static_cast<uint16_t>(*dport)};
  return true;
}

}  // namespace tcpdp::audit

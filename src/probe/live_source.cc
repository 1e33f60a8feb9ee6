#include "probe/live_source.h"

#include <poll.h>

namespace tcpdp {

namespace {
constexpr int kReadTimeoutMs = 100;
}

std::string filter_for(const Targets& targets) {
  if (targets.empty()) return "tcp";
  std::string any;
  for (const Target& t : targets.list()) {
    std::string one = "port " + std::to_string(t.port);
    if (!t.hosts.empty()) {
      std::string hosts;
      for (const IpAddr& h : t.hosts) hosts += (hosts.empty() ? "" : " or ") + ("host " + h.to_string());
      one = "((" + hosts + ") and " + one + ")";
    }
    any += (any.empty() ? "" : " or ") + one;
  }
  return "tcp and (" + any + ")";
}

std::unique_ptr<LiveSource> LiveSource::open(const CaptureSettings& s, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_create(s.interface.c_str(), errbuf);
  if (!p) {
    *error = "cannot capture on " + s.interface + ": " + errbuf;
    return nullptr;
  }
  std::unique_ptr<LiveSource> source(new LiveSource(p));
  pcap_set_snaplen(p, static_cast<int>(s.snapshot_length));
  pcap_set_promisc(p, s.promiscuous ? 1 : 0);
  pcap_set_timeout(p, kReadTimeoutMs);
  pcap_set_buffer_size(p, static_cast<int>(std::min<uint64_t>(s.buffer_size, INT32_MAX)));
  pcap_set_immediate_mode(p, s.immediate_mode ? 1 : 0);
  const int rc = pcap_activate(p);
  if (rc < 0) {
    switch (rc) {
      case PCAP_ERROR_NO_SUCH_DEVICE:
        *error = "no interface named " + s.interface + " (ip link lists them; any captures all)";
        break;
      case PCAP_ERROR_PERM_DENIED:
        *error = "no permission to capture on " + s.interface +
                 ": run as root, or give tcpdp CAP_NET_RAW and CAP_NET_ADMIN";
        break;
      default:
        *error = "cannot capture on " + s.interface + ": " + pcap_geterr(p);
    }
    return nullptr;
  }
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    *error = "cannot capture on " + s.interface + ": " + errbuf;
    return nullptr;
  }
  if (!s.filter.empty()) {
    bpf_program program;
    if (pcap_compile(p, &program, s.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      *error = "the filter '" + s.filter + "' does not compile: " + pcap_geterr(p);
      return nullptr;
    }
    const int set = pcap_setfilter(p, &program);
    pcap_freecode(&program);
    if (set != 0) {
      *error = "cannot set the filter '" + s.filter + "': " + pcap_geterr(p);
      return nullptr;
    }
  }
  return source;
}

LiveSource::~LiveSource() { pcap_close(handle_); }

LiveSource::Next LiveSource::next(RawPacket& packet) {
  // Non-blocking reads, and our own wait between them: libpcap's TPACKET_V3 reader would wait
  // for a full block with no timeout when nothing arrives.
  for (int attempt = 0; attempt < 2; ++attempt) {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    switch (pcap_next_ex(handle_, &header, &data)) {
      case 1:
        packet.ts = Timestamp::from_parts(header->ts.tv_sec, header->ts.tv_usec);
        packet.data = {data, header->caplen};
        packet.wire_len = header->len;
        return Next::kPacket;
      case 0:
        if (attempt == 0) {
          pollfd p{pcap_get_selectable_fd(handle_), POLLIN, 0};
          poll(&p, 1, kReadTimeoutMs);  // a signal ends it early too
        }
        continue;
      case PCAP_ERROR_BREAK:
        return Next::kStopped;
      default:
        error_ = pcap_geterr(handle_);
        return Next::kError;
    }
  }
  return Next::kTimeout;
}

bool LiveSource::stats(Stats& out) {
  pcap_stat st{};
  if (pcap_stats(handle_, &st) != 0) return false;
  out.received = st.ps_recv;
  out.dropped = st.ps_drop;
  out.if_dropped = st.ps_ifdrop;
  return true;
}

}  // namespace tcpdp

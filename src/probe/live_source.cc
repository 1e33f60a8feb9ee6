#include "probe/live_source.h"

#include <poll.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

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

namespace {

uint64_t sysfs_number(const std::filesystem::path& file) {
  std::ifstream in(file);
  uint64_t n = 0;
  return in >> n ? n : 0;
}

// The largest packet one interface passes, its link header included.
uint64_t largest_packet(const std::filesystem::path& dir, uint64_t link_header) {
  const uint64_t mtu = sysfs_number(dir / "mtu");
  if (mtu == 0) return 0;
  const uint64_t merged = std::max(sysfs_number(dir / "gso_max_size"), sysfs_number(dir / "gro_max_size"));
  return std::max(mtu, merged) + link_header;
}

}  // namespace

uint32_t auto_snapshot_length(const std::string& interface) {
  const std::filesystem::path net = "/sys/class/net";
  // Ethernet and loopback frames: 14 bytes and up to two VLAN tags; `any`: a Linux cooked v2
  // header; anything else: a generous 64.
  constexpr uint64_t kEthernet = 14 + 2 * 4, kCooked = 20, kOther = 64;
  uint64_t largest = 0;
  if (interface == "any") {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(net, ec)) {
      largest = std::max(largest, largest_packet(entry.path(), kCooked));
    }
  } else if (interface.find('/') == std::string::npos) {
    const uint64_t type = sysfs_number(net / interface / "type");
    const bool ethernet = type == 1 || type == 772;  // ARPHRD_ETHER, ARPHRD_LOOPBACK
    largest = largest_packet(net / interface, ethernet ? kEthernet : kOther);
  }
  return static_cast<uint32_t>(std::min<uint64_t>(largest, 262144));
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
  // `any` in Linux cooked v2, which names the interface of each packet.
  if (s.interface == "any") pcap_set_datalink(p, DLT_LINUX_SLL2);
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

void LiveSource::wait_readable() {
  pollfd p{pcap_get_selectable_fd(handle_), POLLIN, 0};
  poll(&p, 1, kReadTimeoutMs);  // a signal ends it early too
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

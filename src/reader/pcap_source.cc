#include "reader/pcap_source.h"

#include <cerrno>
#include <cstring>

namespace tcpdp {

std::unique_ptr<PcapFileSource> PcapFileSource::open(const std::string& path, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* handle =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (!handle) {
    *error = errbuf;
    return nullptr;
  }
  return std::unique_ptr<PcapFileSource>(new PcapFileSource(handle));
}

PcapFileSource::~PcapFileSource() { pcap_close(handle_); }

PcapFileSource::Next PcapFileSource::next(RawPacket& packet) {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(handle_, &header, &data);
  if (rc == 1) {
    packet.ts = Timestamp::from_parts(header->ts.tv_sec, header->ts.tv_usec);
    packet.data = {data, header->caplen};
    packet.wire_len = header->len;
    return Next::kPacket;
  }
  if (rc == PCAP_ERROR_BREAK) return Next::kEnd;
  error_ = pcap_geterr(handle_);
  return Next::kError;
}

int PcapFileSource::link_type() const { return pcap_datalink(handle_); }

std::string PcapFileSource::link_type_name() const {
  const char* name = pcap_datalink_val_to_name(link_type());
  return name ? name : "DLT " + std::to_string(link_type());
}

uint32_t PcapFileSource::snapshot_length() const {
  return static_cast<uint32_t>(pcap_snapshot(handle_));
}

}  // namespace tcpdp

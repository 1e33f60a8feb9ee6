#include "reader/pcap_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tcpdp {

namespace {
constexpr size_t kFileHeader = 24;
constexpr size_t kRecordHeader = 16;
// libpcap's largest captured length for the link types tcpdp decodes.
constexpr uint32_t kMaxCaplen = 262144;
// Read pages are unmapped in steps of this much, so the file does not pile up in our memory.
constexpr size_t kReleaseStep = 2 << 20;

uint32_t load32(const uint8_t* p, bool swapped) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}
}  // namespace

std::unique_ptr<PcapFileSource> PcapFileSource::open(const std::string& path, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* handle =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (!handle) {
    *error = errbuf;
    return nullptr;
  }
  std::unique_ptr<PcapFileSource> source(new PcapFileSource(handle));
  if (path != "-") {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      source->file_size_ = static_cast<uint64_t>(st.st_size);
    }
    source->map(path);
  }
  return source;
}

uint64_t PcapFileSource::position() const {
  if (map_) return offset_;
  if (file_size_ == 0) return 0;
  FILE* f = pcap_file(handle_);
  const off_t at = f ? ftello(f) : -1;
  return at > 0 ? static_cast<uint64_t>(at) : 0;
}

PcapFileSource::~PcapFileSource() {
  if (map_) munmap(const_cast<uint8_t*>(map_), map_size_);
  pcap_close(handle_);
}

bool PcapFileSource::map(const std::string& path) {
  // Only classic pcap in a regular file; libpcap has read and checked its file header already.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  void* m = MAP_FAILED;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<size_t>(st.st_size) >= kFileHeader) {
    m = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  if (m == MAP_FAILED) return false;
  const auto* bytes = static_cast<const uint8_t*>(m);
  uint32_t magic;
  std::memcpy(&magic, bytes, 4);
  const bool ours = magic == 0xa1b2c3d4 || magic == 0xa1b23c4d;
  const bool swapped = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
  if (!ours && !swapped) {  // pcapng, or a variant only libpcap knows
    munmap(m, static_cast<size_t>(st.st_size));
    return false;
  }
  madvise(m, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
  map_ = bytes;
  map_size_ = static_cast<size_t>(st.st_size);
  offset_ = kFileHeader;
  swapped_ = swapped;
  nanoseconds_ = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
  snapshot_ = snapshot_length();
  return true;
}

// What libpcap does for a record: the same checks, the same messages.
PcapFileSource::Next PcapFileSource::next_mapped(RawPacket& packet) {
  const size_t left = map_size_ - offset_;
  if (left == 0) return Next::kEnd;
  if (left < kRecordHeader) {
    error_ = "truncated dump file; tried to read " + std::to_string(kRecordHeader) +
             " header bytes, only got " + std::to_string(left);
    return Next::kError;
  }
  const uint8_t* h = map_ + offset_;
  const uint32_t sec = load32(h, swapped_);
  const uint32_t frac = load32(h + 4, swapped_);
  uint32_t caplen = load32(h + 8, swapped_);
  const uint32_t len = load32(h + 12, swapped_);
  if (caplen > kMaxCaplen) {
    error_ = "invalid packet capture length " + std::to_string(caplen) +
             (caplen > snapshot_ ? ", bigger than snaplen of " + std::to_string(snapshot_)
                                 : ", bigger than maximum of " + std::to_string(kMaxCaplen));
    return Next::kError;
  }
  if (caplen > left - kRecordHeader) {
    error_ = "truncated dump file; tried to read " + std::to_string(caplen) +
             " captured bytes, only got " + std::to_string(left - kRecordHeader);
    return Next::kError;
  }
  offset_ += kRecordHeader + caplen;
  if (offset_ - released_ >= 2 * kReleaseStep) {
    // The previous packet may still be in use: keep the last step mapped.
    const size_t upto = (offset_ - kReleaseStep) & ~(kReleaseStep - 1);
    madvise(const_cast<uint8_t*>(map_) + released_, upto - released_, MADV_DONTNEED);
    released_ = upto;
  }
  if (caplen > snapshot_) caplen = snapshot_;  // libpcap keeps no more than the snapshot length
  packet.ts = Timestamp::from_parts(sec, nanoseconds_ ? frac / 1000 : frac);
  packet.data = {h + kRecordHeader, caplen};
  packet.wire_len = len;
  return Next::kPacket;
}

PcapFileSource::Next PcapFileSource::next(RawPacket& packet) {
  if (map_) return next_mapped(packet);
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

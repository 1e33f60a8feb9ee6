#include "reader/pcap_source.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tcpdp {

namespace {
constexpr size_t kFileHeader = 24;
constexpr size_t kRecordHeader = 16;
// libpcap's largest captured length for the link types tcpdp decodes.
constexpr uint32_t kMaxCaplen = 262144;
// Input is read in blocks of this much: large enough to make read() calls rare and to hold any
// record whole, small enough to stay in the CPU's cache while it is decoded.
constexpr size_t kBlock = 1 << 20;
static_assert(kBlock >= kRecordHeader + kMaxCaplen);

uint32_t load32(const uint8_t* p, bool swapped) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}
}  // namespace

std::unique_ptr<PcapFileSource> PcapFileSource::open(const std::string& path, std::string* error) {
  // One descriptor for everything: a FIFO or a pipe can be read only once.
  const int fd = path == "-" ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                             : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<PcapFileSource> source(new PcapFileSource(fd));
  if (!source->start(error)) return nullptr;
  return source;
}

PcapFileSource::~PcapFileSource() {
  if (handle_) pcap_close(handle_);  // closes libpcap's stream, not fd_
  ::close(fd_);
}

bool PcapFileSource::start(std::string* error) {
  struct stat st;
  if (fstat(fd_, &st) != 0) {
    *error = std::strerror(errno);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    *error = "is a directory, not a capture file";
    return false;
  }
  if (S_ISREG(st.st_mode)) {
    regular_ = true;
    file_size_ = static_cast<uint64_t>(st.st_size);
    const off_t at = lseek(fd_, 0, SEEK_CUR);  // standard input may start inside the file
    read_total_ = at > 0 ? static_cast<uint64_t>(at) : 0;
    posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  buffer_.resize(kBlock);
  fill(kFileHeader);  // a shorter input is libpcap's to describe
  if (read_errno_ != 0) {
    *error = std::strerror(read_errno_);
    return false;
  }
  if (end_ == 0) {
    *error = "empty: no pcap or pcapng file header";
    return false;
  }
  uint32_t magic = 0;
  if (end_ >= 4) std::memcpy(&magic, buffer_.data(), 4);
  const bool ours = magic == 0xa1b2c3d4 || magic == 0xa1b23c4d;
  const bool swapped = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
  FILE* stream = nullptr;
  if (ours || swapped) {
    // libpcap checks the file header; the records are read here, without another copy.
    records_ = true;
    const size_t n = std::min(end_, header_.size());
    std::memcpy(header_.data(), buffer_.data(), n);
    stream = fmemopen(header_.data(), n, "r");
  } else {  // pcapng, or a variant only libpcap knows
    stream = fopencookie(this, "r", {stream_read, nullptr, nullptr, nullptr});
  }
  if (!stream) {
    *error = std::strerror(errno);
    return false;
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  handle_ = pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (!handle_) {
    std::fclose(stream);
    *error = errbuf;
    return false;
  }
  if (records_) {
    begin_ = kFileHeader;
    swapped_ = swapped;
    nanoseconds_ = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
    snapshot_ = snapshot_length();
  }
  return true;
}

bool PcapFileSource::fill(size_t want) {
  if (end_ - begin_ >= want) return true;
  // What is left is less than a record: move it to the front and read behind it.
  std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
  while (end_ < want && !at_end_) {
    const ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      read_total_ += static_cast<uint64_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd readable = {fd_, POLLIN, 0};  // standard input left non-blocking by its owner
      poll(&readable, 1, -1);
    } else {
      if (n < 0) read_errno_ = errno;
      at_end_ = true;
    }
  }
  return end_ >= want;
}

ssize_t PcapFileSource::stream_read(void* self, char* out, size_t n) {
  auto* source = static_cast<PcapFileSource*>(self);
  if (!source->fill(1)) {
    errno = source->read_errno_;
    return source->read_errno_ != 0 ? -1 : 0;
  }
  const size_t take = std::min(n, source->end_ - source->begin_);
  std::memcpy(out, source->buffer_.data() + source->begin_, take);
  source->begin_ += take;
  return static_cast<ssize_t>(take);
}

PcapFileSource::Next PcapFileSource::ended(Next what) {
  // A regular file that ends before the size it had when opened was cut while it was read: a
  // capture ring (tcpdump -C/-W) reusing it, most likely.
  if (!regular_ || read_total_ >= file_size_) return what;
  struct stat st;
  const uint64_t now = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  error_ = "the file shrank from " + std::to_string(file_size_) + " to " + std::to_string(now) +
           " bytes while it was read, as when a capture ring (tcpdump -C, -W) reuses it";
  return Next::kError;
}

// What libpcap does for a record: the same checks, the same messages.
PcapFileSource::Next PcapFileSource::next_record(RawPacket& packet) {
  if (!fill(kRecordHeader)) {
    const size_t left = end_ - begin_;
    if (read_errno_ != 0) {
      error_ = std::string("error reading dump file: ") + std::strerror(read_errno_);
      return Next::kError;
    }
    if (left == 0) return ended(Next::kEnd);
    error_ = "truncated dump file; tried to read " + std::to_string(kRecordHeader) +
             " header bytes, only got " + std::to_string(left);
    return ended(Next::kError);
  }
  const uint8_t* h = buffer_.data() + begin_;
  const uint32_t sec = load32(h, swapped_);  // unsigned: the pcap format's seconds reach 2106
  const uint32_t frac = load32(h + 4, swapped_);
  uint32_t caplen = load32(h + 8, swapped_);
  const uint32_t len = load32(h + 12, swapped_);
  if (caplen > kMaxCaplen) {
    error_ = "invalid packet capture length " + std::to_string(caplen) +
             (caplen > snapshot_ ? ", bigger than snaplen of " + std::to_string(snapshot_)
                                 : ", bigger than maximum of " + std::to_string(kMaxCaplen));
    return Next::kError;
  }
  if (!fill(kRecordHeader + caplen)) {
    if (read_errno_ != 0) {
      error_ = std::string("error reading dump file: ") + std::strerror(read_errno_);
      return Next::kError;
    }
    error_ = "truncated dump file; tried to read " + std::to_string(caplen) +
             " captured bytes, only got " + std::to_string(end_ - begin_ - kRecordHeader);
    return ended(Next::kError);
  }
  h = buffer_.data() + begin_;  // fill may have moved it
  begin_ += kRecordHeader + caplen;
  if (caplen > snapshot_) caplen = snapshot_;  // libpcap keeps no more than the snapshot length
  packet.ts = Timestamp::from_parts(sec, nanoseconds_ ? frac / 1000 : frac);
  packet.data = {h + kRecordHeader, caplen};
  packet.wire_len = len;
  return Next::kPacket;
}

PcapFileSource::Next PcapFileSource::next(RawPacket& packet) {
  if (records_) return next_record(packet);
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(handle_, &header, &data);
  if (rc == 1) {
    packet.ts = Timestamp::from_parts(header->ts.tv_sec, header->ts.tv_usec);
    packet.data = {data, header->caplen};
    packet.wire_len = header->len;
    return Next::kPacket;
  }
  if (rc == PCAP_ERROR_BREAK) return ended(Next::kEnd);
  error_ = pcap_geterr(handle_);
  return ended(Next::kError);
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

/// A Record is what every part of tcpdp emits: an ordered list of key/value fields, formatted once
/// by a sink. Values are null, booleans, integers, doubles, strings, timestamps, arrays and
/// objects (ordered name/value members), and groups of fields shared by many records.
///
/// Fields are encoded one after another into a single byte buffer, so building a record copies
/// bytes and allocates nothing once the buffer has grown to fit; clear() keeps that room for the
/// next record. Readers walk the buffer with Record::Reader.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/timestamp.h"

namespace tcpdp {

class FieldGroup;
/// Fields many records share (a connection's identity), held once and formatted in place.
using GroupRef = std::shared_ptr<const FieldGroup>;

/// What one entry of a record is.
enum class Kind : uint8_t {
  kNull,
  kFalse,
  kTrue,
  kInt,
  kDouble,
  kString,
  kTimestamp,
  kDuration,  // whole microseconds, written as seconds
  kArray,   // the entries up to the matching kEnd are its elements
  kObject,  // the entries up to the matching kEnd are its members
  kEnd,
  kGroup,  // a FieldGroup's fields stand here, as if added one by one
};

/// One entry as a reader sees it. `key` is empty for array elements and kEnd; only the member
/// for `kind` is meaningful.
struct FieldView {
  Kind kind = Kind::kNull;
  std::string_view key;
  int64_t i = 0;  // kInt, kDuration
  double d = 0;
  std::string_view s;
  Timestamp ts;
  const FieldGroup* group = nullptr;

  bool is_text() const { return kind == Kind::kString || kind == Kind::kTimestamp; }
};

class Record {
 public:
  Record() = default;
  Record(const Record& other) { *this = other; }
  Record(Record&& other) noexcept { *this = std::move(other); }
  Record& operator=(const Record& other);
  Record& operator=(Record&& other) noexcept {
    if (this == &other) return *this;
    buf_ = std::move(other.buf_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    groups_ = std::move(other.groups_);
    live_groups_ = std::exchange(other.live_groups_, 0);
    return *this;
  }

  /// Empties the record, keeping its room. The references to its groups are kept too, until
  /// add_group() reuses or replaces them: a record refilled with the same group costs the
  /// group's reference count nothing.
  void clear() {
    size_ = 0;
    live_groups_ = 0;
  }
  bool empty() const { return size_ == 0; }

  /// Keys are the program's names (or, inside objects, names from the data); array elements
  /// take an empty key. Every value is copied in.
  void add(std::string_view key, std::string_view s) {
    char* p = entry(Kind::kString, key, 4 + s.size());
    const auto n = static_cast<uint32_t>(s.size());
    std::memcpy(p, &n, 4);
    if (n) std::memcpy(p + 4, s.data(), n);
  }
  void add(std::string_view key, const char* s) { add(key, std::string_view(s)); }
  void add(std::string_view key, const std::string& s) { add(key, std::string_view(s)); }
  void add(std::string_view key, int64_t v) { put_scalar(Kind::kInt, key, v); }
  void add(std::string_view key, int v) { add(key, static_cast<int64_t>(v)); }
  void add(std::string_view key, uint32_t v) { add(key, static_cast<int64_t>(v)); }
  void add(std::string_view key, uint64_t v) { add(key, static_cast<int64_t>(v)); }
  void add(std::string_view key, double v) { put_scalar(Kind::kDouble, key, v); }
  void add(std::string_view key, bool v) { entry(v ? Kind::kTrue : Kind::kFalse, key, 0); }
  void add(std::string_view key, std::nullptr_t) { entry(Kind::kNull, key, 0); }
  void add(std::string_view key, Timestamp t) { put_scalar(Kind::kTimestamp, key, t.usec); }
  void add(std::string_view key, Duration d) { put_scalar(Kind::kDuration, key, d.usec); }
  /// The fields of `other`, which holds no groups, added at the end of this record.
  void append(const Record& other);
  /// The group's fields, as if added here one by one (only at the top level).
  void add_group(const GroupRef& group);
  /// Opens an array or object; the values added up to end() are its elements or members.
  void begin_array(std::string_view key) { entry(Kind::kArray, key, 0); }
  void begin_object(std::string_view key) { entry(Kind::kObject, key, 0); }
  void end() { entry(Kind::kEnd, {}, 0); }

  /// The first top-level field (or group field) named key. Containers are found as their
  /// opening entry.
  std::optional<FieldView> find(std::string_view key) const { return find(encoded(), key); }
  static std::optional<FieldView> find(std::string_view encoded, std::string_view key);

  /// The entries of an encoding in order; containers as an opening entry, their contents,
  /// then kEnd.
  class Reader {
   public:
    explicit Reader(std::string_view encoded)
        : p_(encoded.data()), end_(encoded.data() + encoded.size()) {}
    bool done() const { return p_ == end_; }
    FieldView next();
    /// Passes over the contents of the container just opened, and its kEnd.
    void skip_container();

   private:
    const char* p_;
    const char* end_;
  };

  /// The fields as bytes. Group entries point at the groups this record holds: a copy of the
  /// bytes is only good while something keeps groups() alive.
  std::string_view encoded() const { return {buf_.get(), size_}; }
  /// Bytes of the encoding: no entry formats to more than 6 times its encoded size.
  size_t encoded_size() const { return size_; }
  /// Bytes the record can hold before it allocates again.
  size_t capacity() const { return capacity_; }
  /// Gives back the room the fields do not use (for records kept a long time).
  void shrink_to_fit();
  std::span<const GroupRef> groups() const { return {groups_.data(), live_groups_}; }

 private:
  // Writes the entry header (kind, key) and returns room for `payload` more bytes.
  char* entry(Kind kind, std::string_view key, size_t payload) {
    const auto klen = static_cast<uint32_t>(key.size());
    char* p = extend(5 + klen + payload);
    *p = static_cast<char>(kind);
    std::memcpy(p + 1, &klen, 4);
    if (klen) std::memcpy(p + 5, key.data(), klen);
    return p + 5 + klen;
  }
  template <typename T>
  void put_scalar(Kind kind, std::string_view key, T v) {
    std::memcpy(entry(kind, key, sizeof v), &v, sizeof v);
  }
  // n more bytes at the end, uninitialized.
  char* extend(size_t n) {
    if (size_ + n > capacity_) return extend_slow(n);
    char* p = buf_.get() + size_;
    size_ += n;
    return p;
  }
  char* extend_slow(size_t n);  // extend() after growing the buffer

  std::unique_ptr<char[]> buf_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  std::vector<GroupRef> groups_;  // the first live_groups_ are this record's
  size_t live_groups_ = 0;
};

class FieldGroup {
 public:
  explicit FieldGroup(Record fields) : fields_(std::move(fields)) { fields_.shrink_to_fit(); }
  const Record& fields() const { return fields_; }

  /// Its fields rendered once by `render` (a sink's formatter) and kept: every record that
  /// carries the group copies the text instead of formatting the fields again.
  template <typename Render>
  const std::string& rendered(Render&& render) const {
    std::call_once(rendered_once_, [&] { rendered_ = render(fields_); });
    return rendered_;
  }

 private:
  Record fields_;
  mutable std::once_flag rendered_once_;
  mutable std::string rendered_;
};

/// Where records go. Implementations decide formatting, buffering and threading; a sink that
/// keeps a record past write() copies it.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void write(const Record& record) = 0;
  virtual void flush() {}
};

}  // namespace tcpdp

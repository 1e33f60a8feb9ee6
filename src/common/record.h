/// A Record is what every part of tcpdp emits: an ordered list of key/value fields, formatted once
/// by a sink. Values are null, booleans, integers, doubles, strings or arrays of values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tcpdp {

struct Value;
struct Field;
using Array = std::vector<Value>;
using Object = std::vector<Field>;  // keys in order; JSON object, or JSON text in LTSV

struct Value {
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, Array, Object> v;

  Value() : v(nullptr) {}
  Value(std::nullptr_t) : v(nullptr) {}
  Value(bool b) : v(b) {}
  Value(int64_t i) : v(i) {}
  Value(int i) : v(static_cast<int64_t>(i)) {}
  Value(uint32_t i) : v(static_cast<int64_t>(i)) {}
  Value(uint64_t i) : v(static_cast<int64_t>(i)) {}
  Value(double d) : v(d) {}
  Value(std::string s) : v(std::move(s)) {}
  Value(std::string_view s) : v(std::string(s)) {}
  Value(const char* s) : v(std::string(s)) {}
  Value(Array a) : v(std::move(a)) {}
  Value(Object o) : v(std::move(o)) {}
};

struct Field {
  std::string key;
  Value value;
};

class Record {
 public:
  void add(std::string_view key, Value value) { fields_.push_back({std::string(key), std::move(value)}); }
  const std::vector<Field>& fields() const { return fields_; }
  /// The value of key, or nullptr when the record has no such field.
  const Value* find(std::string_view key) const;

 private:
  std::vector<Field> fields_;
};

/// Where records go. Implementations decide formatting, buffering and threading.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void write(const Record& record) = 0;
  virtual void flush() {}
};

}  // namespace tcpdp

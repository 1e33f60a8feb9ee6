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

  // Defined below Field: constructing the variant needs every alternative complete.
  Value();
  Value(std::nullptr_t);
  Value(bool b);
  Value(int64_t i);
  Value(int i);
  Value(uint32_t i);
  Value(uint64_t i);
  Value(double d);
  Value(std::string s);
  Value(std::string_view s);
  Value(const char* s);
  Value(Array a);
  Value(Object o);
};

struct Field {
  std::string key;
  Value value;
};

inline Value::Value() : v(nullptr) {}
inline Value::Value(std::nullptr_t) : v(nullptr) {}
inline Value::Value(bool b) : v(b) {}
inline Value::Value(int64_t i) : v(i) {}
inline Value::Value(int i) : v(static_cast<int64_t>(i)) {}
inline Value::Value(uint32_t i) : v(static_cast<int64_t>(i)) {}
inline Value::Value(uint64_t i) : v(static_cast<int64_t>(i)) {}
inline Value::Value(double d) : v(d) {}
inline Value::Value(std::string s) : v(std::move(s)) {}
inline Value::Value(std::string_view s) : v(std::string(s)) {}
inline Value::Value(const char* s) : v(std::string(s)) {}
inline Value::Value(Array a) : v(std::move(a)) {}
inline Value::Value(Object o) : v(std::move(o)) {}

class Record {
 public:
  Record() { fields_.reserve(24); }  // room for the widest record without regrowing
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

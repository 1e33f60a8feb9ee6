/// A Record is what every part of tcpdp emits: an ordered list of key/value fields, formatted once
/// by a sink. Values are null, booleans, integers, doubles, strings, timestamps, arrays of values
/// or objects (ordered name/value members).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/timestamp.h"

namespace tcpdp {

struct Value;
struct Member;
using Array = std::vector<Value>;
using Object = std::vector<Member>;  // names in order; a JSON object, or JSON text in LTSV

struct Value {
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, Timestamp, Array, Object> v;

  // Defined below Member: constructing the variant needs every alternative complete.
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
  Value(Timestamp t);
  Value(Array a);
  Value(Object o);
};

/// A member of an Object: its name comes from the data (a startup parameter, say), so it is owned.
struct Member {
  std::string name;
  Value value;
};

/// A field of a Record. Keys are the program's own names, string literals, never copied.
struct Field {
  std::string_view key;
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
inline Value::Value(Timestamp t) : v(t) {}
inline Value::Value(Array a) : v(std::move(a)) {}
inline Value::Value(Object o) : v(std::move(o)) {}

class Record {
 public:
  Record() { fields_.reserve(16); }  // room for most records without regrowing
  /// `key` must be a string literal (or otherwise outlive the record).
  void add(std::string_view key, Value value) { fields_.push_back(Field{key, std::move(value)}); }
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
  virtual void write(Record record) = 0;
  virtual void flush() {}
};

}  // namespace tcpdp

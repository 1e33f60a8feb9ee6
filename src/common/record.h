/// A Record is what every part of tcpdp emits: an ordered list of key/value fields, formatted once
/// by a sink. Values are null, booleans, integers, doubles, strings, timestamps, arrays of values
/// or objects (ordered name/value members).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/timestamp.h"

namespace tcpdp {

struct Value;
struct Member;
class FieldGroup;
/// Fields many records share (a connection's identity), held once and formatted in place.
using GroupRef = std::shared_ptr<const FieldGroup>;
using Array = std::vector<Value>;
using Object = std::vector<Member>;  // names in order; a JSON object, or JSON text in LTSV

struct Value {
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, Timestamp, Array, Object,
               GroupRef>
      v;

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
  Value(GroupRef g);
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
inline Value::Value(GroupRef g) : v(std::move(g)) {}

class FieldGroup {
 public:
  explicit FieldGroup(std::vector<Field> fields) : fields_(std::move(fields)) {}
  const std::vector<Field>& fields() const { return fields_; }

  /// Its fields rendered once by `render` (a sink's formatter) and kept: every record that
  /// carries the group copies the text instead of formatting the fields again.
  template <typename Render>
  const std::string& rendered(Render&& render) const {
    std::call_once(rendered_once_, [&] { rendered_ = render(fields_); });
    return rendered_;
  }

 private:
  std::vector<Field> fields_;
  mutable std::once_flag rendered_once_;
  mutable std::string rendered_;
};

class Record {
 public:
  Record() { fields_.reserve(16); }  // room for most records without regrowing
  /// `key` must be a string literal (or otherwise outlive the record).
  void add(std::string_view key, Value value) { fields_.push_back(Field{key, std::move(value)}); }
  /// The group's fields, as if added here one by one.
  void add_group(GroupRef group) { fields_.push_back(Field{{}, Value(std::move(group))}); }
  const std::vector<Field>& fields() const { return fields_; }
  /// The value of key (looking inside groups too), or nullptr when the record has no such field.
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

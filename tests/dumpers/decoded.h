/// Records read back as values, for tests that check what a decoder decoded rather than how a
/// sink spells it: `rec["query"] == "SELECT 1"`, `rec["rows"] == 2`,
/// `rec["bind_values"] == Value::array({"7", nullptr})`, `rec.has("error_code")`.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/record.h"

namespace tcpdp::test {

/// One value of a record, as the record holds it: timestamps and durations keep their
/// microseconds, so nothing is rounded or reformatted on the way.
struct Value {
  enum class Type {
    kMissing,
    kNull,
    kBool,
    kInt,
    kDouble,
    kString,
    kTimestamp,
    kDuration,
    kArray,
    kObject
  };
  Type type = Type::kMissing;
  bool b = false;
  int64_t i = 0;  // kInt; microseconds for kTimestamp and kDuration
  double d = 0;
  std::string s;
  std::vector<std::pair<std::string, Value>> items;  // array elements have empty names

  Value() = default;
  Value(std::nullptr_t) : type(Type::kNull) {}
  Value(bool v) : type(Type::kBool), b(v) {}
  Value(int v) : type(Type::kInt), i(v) {}
  Value(int64_t v) : type(Type::kInt), i(v) {}
  Value(double v) : type(Type::kDouble), d(v) {}
  Value(const char* v) : type(Type::kString), s(v) {}
  Value(std::string v) : type(Type::kString), s(std::move(v)) {}
  static Value duration_usec(int64_t usec) {
    Value v;
    v.type = Type::kDuration;
    v.i = usec;
    return v;
  }
  static Value array(std::vector<Value> elements) {
    Value v;
    v.type = Type::kArray;
    for (auto& e : elements) v.items.emplace_back("", std::move(e));
    return v;
  }
  static Value object(std::vector<std::pair<std::string, Value>> members) {
    Value v;
    v.type = Type::kObject;
    v.items = std::move(members);
    return v;
  }

  bool missing() const { return type == Type::kMissing; }
  /// Whether an object has a member named key.
  bool has(std::string_view key) const { return !(*this)[key].missing(); }
  /// The member named key of an object (kMissing when there is none).
  const Value& operator[](std::string_view key) const {
    static const Value kNone;
    for (const auto& [name, v] : items)
      if (name == key) return v;
    return kNone;
  }
  /// Whether this is a string that contains piece.
  bool contains(std::string_view piece) const {
    return type == Type::kString && s.find(piece) != std::string::npos;
  }
  bool operator==(const Value& o) const {
    return type == o.type && b == o.b && i == o.i && d == o.d && s == o.s && items == o.items;
  }
};

inline std::ostream& operator<<(std::ostream& out, const Value& v) {
  switch (v.type) {
    case Value::Type::kMissing:
      return out << "(missing)";
    case Value::Type::kNull:
      return out << "null";
    case Value::Type::kBool:
      return out << (v.b ? "true" : "false");
    case Value::Type::kInt:
      return out << v.i;
    case Value::Type::kDouble:
      return out << v.d;
    case Value::Type::kString:
      return out << '"' << v.s << '"';
    case Value::Type::kTimestamp:
      return out << "timestamp(" << v.i << " us)";
    case Value::Type::kDuration:
      return out << "duration(" << v.i << " us)";
    case Value::Type::kArray:
    case Value::Type::kObject: {
      const bool object = v.type == Value::Type::kObject;
      out << (object ? '{' : '[');
      const char* sep = "";
      for (const auto& [name, e] : v.items) {
        out << sep;
        if (object) out << '"' << name << "\":";
        out << e;
        sep = ",";
      }
      return out << (object ? '}' : ']');
    }
  }
  return out;
}

namespace detail {

// Reads entries up to the end of the container just opened (or of the encoding) into `into`.
inline void read_entries(Record::Reader& r, Value& into, bool top) {
  while (!r.done()) {
    const FieldView f = r.next();
    Value v;
    switch (f.kind) {
      case Kind::kEnd:
        return;
      case Kind::kNull:
        v = nullptr;
        break;
      case Kind::kFalse:
        v = false;
        break;
      case Kind::kTrue:
        v = true;
        break;
      case Kind::kInt:
        v = f.i;
        break;
      case Kind::kDouble:
        v = f.d;
        break;
      case Kind::kString:
        v = std::string(f.s);
        break;
      case Kind::kTimestamp:
        v.type = Value::Type::kTimestamp;
        v.i = f.ts.usec;
        break;
      case Kind::kDuration:
        v = Value::duration_usec(f.i);
        break;
      case Kind::kArray:
      case Kind::kObject:
        v.type = f.kind == Kind::kArray ? Value::Type::kArray : Value::Type::kObject;
        read_entries(r, v, false);
        break;
      case Kind::kGroup: {
        Record::Reader g(f.group->fields().encoded());
        if (top) {  // its fields stand here, as if added one by one
          read_entries(g, into, true);
          continue;
        }
        v.type = Value::Type::kObject;
        read_entries(g, v, false);
        break;
      }
    }
    into.items.emplace_back(std::string(f.key), std::move(v));
  }
}

}  // namespace detail

/// A whole record as an object: its top-level fields (a group's fields among them) in order.
inline Value decoded(const Record& record) {
  Value v;
  v.type = Value::Type::kObject;
  Record::Reader r(record.encoded());
  detail::read_entries(r, v, true);
  return v;
}

}  // namespace tcpdp::test

#include "records/catalogue.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace tcpdp;

namespace {

Record gap(const char* direction) {
  Record r;
  r.add("ts", Timestamp{1});
  r.add("event", "gap");
  r.add("conn_id", "c");
  r.add("direction", direction);
  r.add("gap_bytes", 7);
  return r;
}

}  // namespace

TEST_CASE("every kind is found by its name and each name is one kind's") {
  std::set<std::string_view> names;
  for (const KindDef& k : record_kinds()) {
    CHECK(kind_named(k.name) == k.kind);
    CHECK(&kind_def(k.kind) == &k);
    names.insert(k.name);
  }
  CHECK(names.size() == kRecordKinds);
  CHECK_FALSE(kind_named("nothing"));
}

TEST_CASE("a kind's keys are each named once, its event naming the kind") {
  for (const KindDef& k : record_kinds()) {
    std::set<std::string_view> keys;
    for (const KeyDef& key : k.keys) {
      CHECK_MESSAGE(keys.insert(key.name).second, k.name, " repeats ", key.name);
      if (key.name == "event") CHECK(key.values == std::vector<std::string_view>{k.name});
    }
    CHECK(keys.count("ts") == 1);
  }
}

TEST_CASE("a record that fits has no mismatch; each way of not fitting is named") {
  CHECK(catalogue_mismatches(gap("->")).empty());
  CHECK(catalogue_mismatches(gap("sideways")) ==
        std::vector<std::string>{"gap record: key 'direction' has the value 'sideways', not in its set"});
  Record stray = gap("<-");
  stray.add("ascii", "x");
  CHECK(catalogue_mismatches(stray) ==
        std::vector<std::string>{"gap record: key 'ascii' is not in the catalogue"});
  Record typed = gap("<-");
  typed.add("gap_bytes", "7");  // a second gap_bytes, as text
  CHECK(catalogue_mismatches(typed) ==
        std::vector<std::string>{"gap record: key 'gap_bytes' is not of type integer"});
  Record null = gap("<-");
  null.add("conn_id", nullptr);
  CHECK(catalogue_mismatches(null) ==
        std::vector<std::string>{"gap record: key 'conn_id' is not nullable"});
  Record none;
  none.add("ts", Timestamp{1});
  CHECK(catalogue_mismatches(none) == std::vector<std::string>{"no event key"});
}

TEST_CASE("keys inside a group are checked as the record's own") {
  Record fields;
  fields.add("conn_id", "c");
  fields.add("src_ip", "10.0.0.1");  // a lifecycle key, not a payload record's
  Record r;
  r.add("ts", Timestamp{1});
  r.add("event", "hex");
  r.add_group(std::make_shared<const FieldGroup>(std::move(fields)));
  CHECK(catalogue_mismatches(r) ==
        std::vector<std::string>{"hex record: key 'src_ip' is not in the catalogue"});
}

#include "common/record.h"

namespace tcpdp {

namespace {
const Value* find_in(const std::vector<Field>& fields, std::string_view key) {
  for (const Field& f : fields) {
    if (const auto* group = std::get_if<GroupRef>(&f.value.v)) {
      if (const Value* v = find_in((*group)->fields(), key)) return v;
    } else if (f.key == key) {
      return &f.value;
    }
  }
  return nullptr;
}
}  // namespace

const Value* Record::find(std::string_view key) const { return find_in(fields_, key); }

}  // namespace tcpdp

#include "common/record.h"

namespace tcpdp {

const Value* Record::find(std::string_view key) const {
  for (const Field& f : fields_) {
    if (f.key == key) return &f.value;
  }
  return nullptr;
}

}  // namespace tcpdp

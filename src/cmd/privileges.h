/// tcpdump's -Z: give up root once what needs it is open.
#pragma once

#include <string>

namespace tcpdp {

/// Becomes `user` (its uid, its primary group and its supplementary groups) for good; false and
/// a sentence in *error when there is no such user or the change fails.
bool drop_privileges(const std::string& user, std::string* error);

}  // namespace tcpdp

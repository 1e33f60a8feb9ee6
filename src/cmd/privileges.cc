#include "cmd/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tcpdp {

bool drop_privileges(const std::string& user, std::string* error) {
  errno = 0;
  const passwd* pw = getpwnam(user.c_str());
  if (!pw) {
    *error = "-Z " + user + ": no such user";
    return false;
  }
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  if (initgroups(user.c_str(), gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
    *error = "-Z " + user + ": cannot become that user: " + std::strerror(errno);
    return false;
  }
  // For good: root must not be reachable again.
  if (uid != 0 && setuid(0) == 0) {
    *error = "-Z " + user + ": root could be taken back";
    return false;
  }
  return true;
}

}  // namespace tcpdp

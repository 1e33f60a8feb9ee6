/// The process id file of the long-running modes: made atomically (a complete file or none),
/// refused while another live process is named in it, replaced when the process it names is
/// gone, removed at exit if it still names this process.
#pragma once

#include <string>

namespace tcpdp {

class Pidfile {
 public:
  /// Writes this process's id to path; false with a sentence in *error when it cannot, or when
  /// a live process holds it. With `take_over`, it replaces whatever the file says (under
  /// start_server, the next generation starts while the previous one still runs).
  bool create(const std::string& path, std::string* error, bool take_over = false);
  ~Pidfile();

 private:
  std::string path_;
};

}  // namespace tcpdp

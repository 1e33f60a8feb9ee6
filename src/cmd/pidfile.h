/// The process id file of the long-running modes: made atomically (a complete file or none),
/// refused while another live process is named in it, replaced when the process it names is
/// gone, removed at exit if it still names this process.
#pragma once

#include <string>

namespace tcpdp {

class Pidfile {
 public:
  /// Writes this process's id to path; false with a sentence in *error when it cannot, or when
  /// a live process holds it.
  bool create(const std::string& path, std::string* error);
  ~Pidfile();

 private:
  std::string path_;
};

}  // namespace tcpdp

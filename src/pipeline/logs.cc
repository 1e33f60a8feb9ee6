#include "pipeline/logs.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

#include "sinks/rotating_file.h"

namespace tcpdp {

namespace {

RotationSettings rotation_of(const LogSettings& log, std::chrono::milliseconds hook_wait) {
  RotationSettings r;
  r.dir = log.dir;
  r.file_name = log.file_name;
  r.rotate = log.rotate_enable;
  r.period = log.rotation_time;
  r.keep = log.rotation_count;
  r.hook = log.rotation_hook;
  r.max_size = log.rotation_size;
  r.hook_wait = hook_wait;
  return r;
}

}  // namespace

bool check_log_dir(const LogSettings& log, const char* section, std::string* error) {
  struct stat st {};
  const int rc = stat(log.dir.c_str(), &st);
  if (rc == 0 && S_ISDIR(st.st_mode)) return true;
  if (rc != 0 && errno != ENOTDIR) return true;  // not there yet (made at the first write)
  *error = std::string("[") + section + "] dir " + log.dir + ": " +
           (rc == 0 ? "not a directory" : "a part of it is a file, not a directory");
  return false;
}

bool check_log_dirs(const Config& config, std::string* error) {
  return ((!config.log.enable && !config.pg.enable) || check_log_dir(config.log, "log", error)) &&
         (!config.dump_log.enable || check_log_dir(config.dump_log, "dumpLog", error)) &&
         (!config.conn_log.enable || check_log_dir(config.conn_log, "connLog", error));
}

std::unique_ptr<ProgramLog> make_program_log(const LogSettings& log,
                                             std::chrono::milliseconds hook_wait) {
  std::vector<std::unique_ptr<Output>> outputs;
  if (log.enable) {
    auto report = [](const std::string& what) {
      std::fprintf(stderr, "tcpdp: %s\n", what.c_str());
    };
    outputs.push_back(std::make_unique<FileOutput>(
        std::make_unique<RotatingFile>(rotation_of(log, hook_wait), report)));
  }
  if (log.to_stdout) outputs.push_back(std::make_unique<StdioOutput>(stdout));
  return std::make_unique<ProgramLog>(std::make_unique<StreamSink>(
      std::move(outputs), *parse_format(log.format), /*background=*/false));
}

std::unique_ptr<StreamSink> make_record_log(const LogSettings& log, bool to_stdout,
                                            ProgramLog& program, RecordTap* tap,
                                            std::chrono::milliseconds hook_wait) {
  std::vector<std::unique_ptr<Output>> outputs;
  if (log.enable) {
    auto report = [&program](const std::string& what) { program.log("warn", what); };
    outputs.push_back(std::make_unique<FileOutput>(
        std::make_unique<RotatingFile>(rotation_of(log, hook_wait), report)));
  }
  if (log.to_stdout || to_stdout) outputs.push_back(std::make_unique<StdioOutput>(stdout));
  if (outputs.empty() && !tap) return nullptr;
  auto sink = std::make_unique<StreamSink>(std::move(outputs), *parse_format(log.format),
                                           /*background=*/true);
  if (tap) sink->add_tap(tap);
  return sink;
}

}  // namespace tcpdp

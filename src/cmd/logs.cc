#include "cmd/logs.h"

#include <cstdio>

#include "sinks/rotating_file.h"

namespace tcpdp {

namespace {

RotationSettings rotation_of(const LogSettings& log) {
  RotationSettings r;
  r.dir = log.dir;
  r.file_name = log.file_name;
  r.rotate = log.rotate_enable;
  r.period = log.rotation_time;
  r.keep = log.rotation_count;
  r.hook = log.rotation_hook;
  r.max_size = log.rotation_size;
  return r;
}

}  // namespace

std::unique_ptr<ProgramLog> make_program_log(const LogSettings& log) {
  std::vector<std::unique_ptr<Output>> outputs;
  if (log.enable) {
    auto report = [](const std::string& what) { std::fprintf(stderr, "tcpdp: %s\n", what.c_str()); };
    outputs.push_back(
        std::make_unique<FileOutput>(std::make_unique<RotatingFile>(rotation_of(log), report)));
  }
  if (log.to_stdout) outputs.push_back(std::make_unique<StdioOutput>(stdout));
  return std::make_unique<ProgramLog>(std::make_unique<StreamSink>(
      std::move(outputs), *parse_format(log.format), /*background=*/false));
}

std::unique_ptr<StreamSink> make_record_log(const LogSettings& log, bool to_stdout,
                                            ProgramLog& program, RecordTap* tap) {
  std::vector<std::unique_ptr<Output>> outputs;
  if (log.enable) {
    auto report = [&program](const std::string& what) { program.log("warn", what); };
    outputs.push_back(
        std::make_unique<FileOutput>(std::make_unique<RotatingFile>(rotation_of(log), report)));
  }
  if (log.to_stdout || to_stdout) outputs.push_back(std::make_unique<StdioOutput>(stdout));
  if (outputs.empty() && !tap) return nullptr;
  auto sink = std::make_unique<StreamSink>(std::move(outputs), *parse_format(log.format),
                                           /*background=*/true);
  if (tap) sink->add_tap(tap);
  return sink;
}

}  // namespace tcpdp

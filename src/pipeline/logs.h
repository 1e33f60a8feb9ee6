/// The logs of the long-running commands (probe, proxy), made from their configuration:
/// tcpdp.log, and dump.log and conn.log with their copies on standard output.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "pipeline/settings.h"
#include "sinks/program_log.h"
#include "sinks/stream_sink.h"

namespace tcpdp {

/// How long a log waits, as it is closed at exit, for rotation hooks still running (the proxy
/// passes its shutdownTimeout); the ones left running then are named.
inline constexpr std::chrono::milliseconds kDefaultHookWait{2000};

/// `[SECTION] dir` (log, dumpLog, connLog) of a log that is written: false, and a sentence
/// naming the key and the path, when it is a file or lies under one. A directory that does not
/// exist yet is fine: it is made at the first write.
bool check_log_dir(const LogSettings& log, const char* section, std::string* error);

/// check_log_dir for every log probe and proxy write: tcpdp.log (also the PostgreSQL sink's
/// spool file's place), dump.log and conn.log when enabled.
bool check_log_dirs(const Config& config, std::string* error);

/// tcpdp.log ([log]); trouble with its own file can only go to stderr.
std::unique_ptr<ProgramLog> make_program_log(
    const LogSettings& log, std::chrono::milliseconds hook_wait = kDefaultHookWait);

/// dump.log or conn.log (and stdout, with `to_stdout` or the section's stdout key), written by a
/// background thread; trouble with the file goes to `program`. Every record also goes to `tap`
/// when there is one (the PostgreSQL sink). nullptr when none of these is wanted.
std::unique_ptr<StreamSink> make_record_log(const LogSettings& log, bool to_stdout,
                                            ProgramLog& program, RecordTap* tap = nullptr,
                                            std::chrono::milliseconds hook_wait = kDefaultHookWait);

}  // namespace tcpdp

/// The logs of the long-running commands (probe, proxy), made from their configuration:
/// tcpdp.log, and dump.log and conn.log with their copies on standard output.
#pragma once

#include <memory>

#include "cmd/config.h"
#include "sinks/program_log.h"
#include "sinks/stream_sink.h"

namespace tcpdp {

/// tcpdp.log ([log]); trouble with its own file can only go to stderr.
std::unique_ptr<ProgramLog> make_program_log(const LogSettings& log);

/// dump.log or conn.log (and stdout, with `to_stdout` or the section's stdout key), written by a
/// background thread; trouble with the file goes to `program`. Every record also goes to `tap`
/// when there is one (the PostgreSQL sink). nullptr when none of these is wanted.
std::unique_ptr<StreamSink> make_record_log(const LogSettings& log, bool to_stdout,
                                            ProgramLog& program, RecordTap* tap = nullptr);

}  // namespace tcpdp

/// `tcpdp digest LOG...`: the query digest of `read --digest`, from tcpdp's own dump logs (JSON
/// or LTSV, rotated ones too, gzip'd or not).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "digest/digest.h"
#include "pipeline/digest_clock.h"
#include "sinks/stream_sink.h"

namespace tcpdp {

/// The report's flags, of tcpdp digest and read --digest.
struct DigestReportOptions {
  size_t top = 20;
  std::string format = "text";
  size_t max_classes = 10000;
};

/// --top, --digest-format and --digest-max-classes; `with` starts their help ("With --digest: ").
void add_digest_report_flags(CLI::App& command, DigestReportOptions& options,
                             const std::string& with);
/// The report on standard output; false when it could not be written.
bool write_digest_report(const Digest& digest, const DigestReportOptions& options);

struct DigestOptions {
  std::vector<std::string> files;  // "-": standard input
  DigestReportOptions report;
};

void add_digest_command(CLI::App& app, DigestOptions& options);

/// probe's and proxy's --digest-interval and --digest-max-classes.
struct DigestIntervalOptions {
  std::optional<std::string> interval;  // "60s": a digest record per class this often
  size_t max_classes = 10000;
};

void add_digest_interval_flags(CLI::App& command, DigestIntervalOptions& options);

/// Before anything starts: "" or why these options do not go with this dumper (an interval
/// that does not parse, a dumper of no SQL).
std::string digest_interval_error(const DigestIntervalOptions& options, const std::string& dumper);
/// For checked options; nullptr and *error when there is no dump log to write to.
std::unique_ptr<DigestClock> make_digest_clock(const DigestIntervalOptions& options,
                                               StreamSink* dump, std::string* error);

int run_digest(const DigestOptions& options);

}  // namespace tcpdp

#include "cmd/digest_cmd.h"

#include <unistd.h>
#include <zlib.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "cmd/config.h"
#include "cmd/config_cmd.h"
#include "digest/digest.h"
#include "sinks/record_parse.h"

namespace tcpdp {
namespace {

// CLI11's PositiveNumber takes a double and answers 0 with "not in range 0.000000 to 1797...":
// this says what a count takes.
CLI::Validator whole_number_from_one() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        size_t n = 0;
        const char* end = value.data() + value.size();
        const auto [stop, error] = std::from_chars(value.data(), end, n);
        if (error == std::errc::result_out_of_range) {
          return "'" + value + "' is too large: at most " + std::to_string(SIZE_MAX);
        }
        if (error != std::errc() || stop != end || n == 0) {
          return "'" + value + "' is not a whole number of 1 or more";
        }
        return "";
      },
      ">= 1");
}

}  // namespace

void add_digest_command(CLI::App& app, DigestOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "digest",
      "The query digest of read --digest, from tcpdp's dump logs (JSON or LTSV, gzip'd too)");
  cmd->footer(
      "Examples:\n"
      "  tcpdp digest /var/log/tcpdp/dump.log\n"
      "  tcpdp digest dump.log.2026120510 dump.log.2026120511.gz --top 5\n"
      "  zcat dump.log.*.gz | tcpdp digest - --digest-format json");
  cmd->add_option("files", o.files, "Dump logs, in any order; - for standard input")->required();
  add_digest_report_flags(*cmd, o.report, "");
}

void add_digest_report_flags(CLI::App& command, DigestReportOptions& o, const std::string& with) {
  const auto help = [&](std::string text) {
    if (with.empty())
      text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    return with + text;
  };
  command.add_option("--top", o.top, help("classes reported"))
      ->capture_default_str()
      ->check(whole_number_from_one());
  command.add_option("--digest-format", o.format, help("text or json"))
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  command
      .add_option("--digest-max-classes", o.max_classes,
                  help("classes kept apart at most; further ones are counted as other"))
      ->capture_default_str()
      ->check(whole_number_from_one());
}

bool write_digest_report(const Digest& digest, const DigestReportOptions& o) {
  const std::string report =
      digest.report(o.top, o.format == "json" ? Digest::Format::kJson : Digest::Format::kText);
  return std::fwrite(report.data(), 1, report.size(), stdout) == report.size() &&
         std::fflush(stdout) == 0;
}

void add_digest_interval_flags(CLI::App& command, DigestIntervalOptions& o) {
  command.add_option("--digest-interval", o.interval,
                     "Every this many seconds (60, 60s, 5m) one digest record per statement class "
                     "to dump.log (pg, mysql)");
  command
      .add_option("--digest-max-classes", o.max_classes,
                  "With --digest-interval: classes kept apart in an interval at most; further "
                  "ones are counted as other")
      ->capture_default_str()
      ->check(whole_number_from_one());
}

std::string digest_interval_error(const DigestIntervalOptions& options, const std::string& dumper) {
  if (!options.interval) return "";
  double seconds = 0;
  if (!parse_seconds(*options.interval, seconds) || seconds > 7 * 86400) {
    return "--digest-interval " + *options.interval +
           ": seconds above 0 are wanted, such as 60, 60s or 5m (a week at most)";
  }
  if (dumper != "pg" && dumper != "mysql" && dumper != "auto") {
    return "--digest-interval digests SQL statements: use -d pg, mysql or auto";
  }
  return "";
}

std::unique_ptr<DigestClock> make_digest_clock(const DigestIntervalOptions& options,
                                               StreamSink* dump, std::string* error) {
  double seconds = 0;
  parse_seconds(*options.interval, seconds);
  if (!dump) {
    *error = "--digest-interval writes to dump.log: enable [dumpLog] or add --stdout";
    return nullptr;
  }
  return std::make_unique<DigestClock>(
      std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)), options.max_classes, *dump);
}

namespace {

// A line longer than this is not a record of tcpdp's: its longest query is 64 MiB (the
// decoders' limit), and this leaves room for the query's escapes and the other fields. Longer
// lines are skipped and counted as they stream by, never held whole.
constexpr size_t kLineMax = 72u << 20;
constexpr const char* kLineMaxText = "72 MiB";
constexpr size_t kChunk = 1 << 16;
// A line that filled more than this gives its memory back once taken.
constexpr size_t kLineKeep = 1 << 20;

// Dump logs' lines into the digest, bad and over-long ones counted.
struct LogReader {
  explicit LogReader(Digest& d) : digest(d) {}

  Digest& digest;
  uint64_t parsed = 0, bad = 0, overlong_lines = 0;
  std::string first_bad, first_overlong;
  Record record;
  std::string line, error;

  // Room for the longest line is reserved once as address space: only the pages a line fills
  // are memory, and it never grows by copying (which would hold it twice).
  void hold(std::string_view part) {
    if (line.capacity() < kLineMax + kChunk) line.reserve(kLineMax + kChunk);
    line.append(part);
  }
  void next_line() {
    if (line.size() > kLineKeep) {
      std::string().swap(line);
    } else {
      line.clear();
    }
  }

  void take_line(const std::string& path, uint64_t number, bool overlong) {
    const auto where = [&] { return path + ":" + std::to_string(number); };
    if (overlong || line.size() > kLineMax) {
      if (overlong_lines++ == 0) first_overlong = where();
      return;
    }
    if (line.empty()) return;
    const bool ok = line.front() == '{' ? parse_json_record(line, record, &error)
                                        : parse_ltsv_record(line, record, &error);
    if (ok) {
      ++parsed;
      digest.take(record.encoded());
    } else if (bad++ == 0) {
      first_bad = where() + ": " + error;
    }
  }

  // One file: "" or, for one damaged part-way, what went wrong (its lines before that are in
  // the digest).
  std::string read(const std::string& path, gzFile in) {
    uint64_t number = 0;
    bool overlong = false;
    char chunk[kChunk];
    next_line();
    for (;;) {
      const int n = gzread(in, chunk, sizeof chunk);
      int z = Z_OK;
      const char* why = n <= 0 ? gzerror(in, &z) : "";
      if (n < 0 || (n == 0 && z != Z_OK)) {
        // A data error, or (Z_BUF_ERROR) compressed data cut short; a line it cut is dropped.
        std::string_view what = z == Z_ERRNO ? std::strerror(errno) : why;
        if (what.starts_with(path + ": ")) what.remove_prefix(path.size() + 2);  // zlib's own
        return path + ": " + std::string(what) + " after line " + std::to_string(number);
      }
      if (n == 0) {
        take_line(path, number + 1, overlong);
        return "";
      }
      std::string_view got(chunk, static_cast<size_t>(n));
      for (size_t nl; (nl = got.find('\n')) != std::string_view::npos; got.remove_prefix(nl + 1)) {
        if (!overlong) hold(got.substr(0, nl));
        take_line(path, ++number, overlong);
        next_line();
        overlong = false;
      }
      if (!overlong) hold(got);
      if (line.size() > kLineMax) {
        overlong = true;
        std::string().swap(line);
      }
    }
  }
};

}  // namespace

int run_digest(const DigestOptions& o) {
  Digest digest(o.report.max_classes);
  LogReader reader(digest);
  std::string damaged;
  for (const std::string& path : o.files) {
    if (path == "-" && isatty(STDIN_FILENO)) {
      return fail("standard input is a terminal: name a dump log or pipe one in");
    }
    gzFile in = path == "-" ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(path.c_str(), "rb");
    if (!in) return fail(path + ": cannot open it: " + std::strerror(errno ? errno : ENOMEM));
    gzbuffer(in, 1 << 17);
    std::string why = reader.read(path, in);
    gzclose(in);
    if (!why.empty()) {
      std::fprintf(stderr, "tcpdp: %s (the lines before it are in the digest)\n", why.c_str());
      if (damaged.empty()) damaged = std::move(why);
    }
  }
  if (reader.overlong_lines > 0) {
    std::fprintf(stderr,
                 "tcpdp: warning: %llu lines over %s were skipped: too long for tcpdp records "
                 "(the first: %s)\n",
                 static_cast<unsigned long long>(reader.overlong_lines), kLineMaxText,
                 reader.first_overlong.c_str());
  }
  if (reader.bad > 0) {
    std::fprintf(
        stderr,
        "tcpdp: warning: %llu lines that are not tcpdp records were skipped (the first: %s)\n",
        static_cast<unsigned long long>(reader.bad), reader.first_bad.c_str());
  }
  if (reader.parsed == 0) {
    return fail("no tcpdp records in " + std::to_string(o.files.size()) + " file(s)");
  }
  if (!write_digest_report(digest, o.report)) return fail("cannot write to standard output");
  return damaged.empty() ? 0 : 1;
}

}  // namespace tcpdp

/// The query digest: the pg and mysql dumpers' records grouped by fingerprint, with counts,
/// time, percentiles, rows, errors, who and from where, and a report ranked by total time.
///
/// A statement execution is a pg `Q` (its query) or `E` (the SQL of the portal it runs), or a
/// MySQL COM_QUERY or COM_STMT_EXECUTE (the prepared SQL); prepared statements are classed by
/// their SQL text. An Execute the server skipped because its Bind failed counts with the Bind's
/// error. Other records are not executions and are left out.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/timestamp.h"
#include "digest/fingerprint.h"
#include "digest/histogram.h"
#include "sinks/stream_sink.h"

namespace tcpdp {

class Digest : public RecordTap {
 public:
  /// The class of the executions of prepared statements whose SQL text the capture never had
  /// (prepared before it began).
  static constexpr std::string_view kUnseenText = "(prepared statement, text not seen)";

  /// At most max_classes classes; executions of further ones are counted in one "other" class.
  explicit Digest(size_t max_classes) : max_classes_(max_classes) {}

  /// A record as a log writer has it (Record::encoded()). Thread-safe.
  void take(std::string_view encoded) override;

  enum class Format { kText, kJson };
  /// The report of the `top` classes with the most total time.
  std::string report(size_t top, Format format) const;

  uint64_t executions() const;
  size_t classes() const;

  /// One record per class (`event: digest`, the report's keys, times as durations) for the
  /// interval [from, to) to `out`, then starts afresh. For probe's and proxy's
  /// --digest-interval; nothing is written when nothing ran.
  void emit(RecordSink& out, Timestamp from, Timestamp to);

 private:
  // Up to kNamesKept distinct names with their counts; the rest counted together.
  struct Names {
    std::map<std::string, uint64_t> counts;
    uint64_t others = 0;
    void add(std::string_view name);
  };
  struct Class {
    std::string fingerprint;
    std::string id;
    uint64_t count = 0;
    uint64_t timed = 0;  // executions with a duration (their answer seen)
    int64_t total_usec = 0;
    int64_t max_usec = -1;
    LogHistogram durations;
    uint64_t rows = 0;
    std::map<std::string, uint64_t> errors;  // by SQLSTATE or MySQL error code
    Names users, databases, clients;
    Timestamp first_seen, last_seen;
    std::string example;  // the slowest execution's text (the first, when none was timed)
  };
  // By fingerprint: the key is the class's own fingerprint.
  using Classes = std::unordered_map<std::string_view, std::unique_ptr<Class>>;

  // The class of an execution's SQL text (under mutex_); without text_seen, `sql` is
  // kUnseenText, the class's fingerprint as it is.
  Class* class_of(std::string_view sql, SqlDialect dialect, bool text_seen);

  // The class's keys (with time_share, its fraction of the total time, when given).
  static void fill(Record& r, const Class& c, std::optional<double> time_share = std::nullopt);
  // The `top` classes with the most total time, most first (then by calls, then by id), and
  // `other` last when there is one: the order of the report and of the --digest-interval records.
  static std::vector<const Class*> rank(const Classes& classes, const Class* other, size_t top);

  mutable std::mutex mutex_;
  size_t max_classes_;
  // SQL texts already classed, by dialect; emptied when they would take more than 16 MiB.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, Class*, TextHash, std::equal_to<>> seen_[2];
  size_t seen_bytes_ = 0;
  Classes classes_;
  std::unique_ptr<Class> other_;
  uint64_t executions_ = 0;
  // A pg Bind refused (by conn_id): the Execute after it, skipped, failed with that error.
  std::unordered_map<std::string, std::string> bind_errors_;
};

}  // namespace tcpdp

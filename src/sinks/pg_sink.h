/// The PostgreSQL sink: lifecycle records (state changes, summaries) and, optionally, the pg and
/// mysql dumpers' records, stored through libpq in the tables of config/schema.sql.
///
/// Records arrive on the log writers' threads (StreamSink taps), are formatted as JSON once and
/// queued; a thread of the sink's own sends them in batches to the server-side function
/// tcpdp_insert(). Nothing is lost while bounds hold: when the queue is full (PostgreSQL down or
/// slow) records go to an append-only spool file, replayed in order once the database takes
/// them again (and at the next start, if tcpdp stopped first); only past the spool's bound are
/// records dropped, and then counted and reported. The connection is made again with a growing
/// wait after every failure.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sinks/stream_sink.h"

namespace tcpdp {

/// The DDL of config/schema.sql; with a schema name, preceded by the statements that create the
/// schema and put it first on the search path.
std::string pg_schema_sql(const std::string& schema);

struct PgSinkSettings {
  std::string conninfo;  // libpq's keywords or URI; empty: libpq's defaults and PG* variables
  std::string schema;    // where the tables are; empty: the connection's search_path
  bool create_schema = true;
  bool dumps = false;  // also the dumpers' records (else only lifecycle records)
  // A full queue makes take() wait while the database is reachable (for `read`: a file can
  // wait, live traffic cannot); else, and while it is not, records go to the spool file.
  bool wait_when_full = false;
  std::string host;  // the sensor's name in every row
  size_t batch_size = 1000;
  std::chrono::milliseconds batch_latency{1000};
  // Queue slots: min allocated at start, grown by delta up to max; and a bound in bytes.
  size_t queue_min = 1024;
  size_t queue_delta = 1024;
  size_t queue_max = 65536;
  size_t queue_max_bytes = 64 << 20;
  std::string spool_file;
  uint64_t spool_max_size = 1ULL << 30;
  // Reconnecting: wait retry_min, for retry_grow_threshold tries; then longer by retry_delta at
  // each try, up to retry_max.
  std::chrono::milliseconds retry_min{1000};
  std::chrono::milliseconds retry_max{60000};
  std::chrono::milliseconds retry_delta{5000};
  unsigned retry_grow_threshold = 4;
};

class PgSink : public RecordTap {
 public:
  /// level ("info", "warn", "error") and message.
  using Report = std::function<void(const char* level, const std::string& message)>;

  PgSink(PgSinkSettings settings, Report report);
  ~PgSink() override;

  /// Opens the spool file (sending what an earlier run left in it first), connects, creates or
  /// checks the schema and starts the sending thread. False (and *error, one line) when the
  /// first connection or the schema fails; the thread then keeps trying all the same (records
  /// are queued and spooled meanwhile), unless the spool file could not be opened (running()
  /// is false then).
  bool start(std::string* error);

  /// A record as a log writer has it (Record::encoded()). Thread-safe.
  void take(std::string_view encoded) override;

  /// Sends what is queued and spooled, for at most `timeout` (a connection attempt or a call
  /// still going then is given up); what is left goes to the spool file, for the next start.
  /// Stops the thread.
  void finish(std::chrono::milliseconds timeout);
  /// Started and not finished.
  bool running() const { return thread_.joinable(); }

  struct Stats {
    uint64_t received = 0;  // records taken
    uint64_t sent = 0;      // records the database accepted (rows added, or already there)
    uint64_t spooled = 0;   // records written to the spool file
    uint64_t dropped = 0;   // past both bounds, or lost with the spool file: not stored
    uint64_t rejected = 0;  // refused by the database one by one for their data
    uint64_t left = 0;      // at finish(): kept in the spool file for the next start
  };
  Stats stats() const;

 private:
  class Connection;
  void run();
  bool give_up() const;  // stopping, and the deadline has passed
  bool connect(std::string* error);
  bool fill_batch();
  uint64_t read_spool(uint64_t at, uint64_t to);
  bool send_batch();
  void wait_before_retry();
  void set_up(bool up);
  bool enqueue(const std::string& row);    // under mutex_
  bool spool_append(std::string_view row);  // under mutex_
  bool settle_spool();                      // under mutex_
  void shrink_queue();                      // under mutex_
  void cut_torn_line();
  void save_leftovers();

  PgSinkSettings settings_;
  Report report_;
  std::unique_ptr<Connection> conn_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;  // records queued, spooled, or stopping
  std::condition_variable room_;  // the queue has room, or the database went away
  bool up_ = false;               // connected, and the last batch went through
  // The queue: a ring of reusable slots, and when each record came.
  std::vector<std::string> slots_;
  std::vector<std::chrono::steady_clock::time_point> arrived_;
  size_t head_ = 0;
  size_t count_ = 0;
  size_t queued_bytes_ = 0;
  // The spool: while spooling_, every new record goes to it (so order is kept); the sender
  // reads it from spool_read_ and empties it once everything in it is stored.
  int spool_fd_ = -1;
  uint64_t spool_size_ = 0;
  uint64_t spool_read_ = 0;
  bool spooling_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_;
  Stats stats_;
  std::chrono::steady_clock::time_point last_spool_report_{};
  std::chrono::steady_clock::time_point last_drop_report_{};
  uint64_t dropped_reported_ = 0;

  // The sending thread's own.
  std::vector<std::string> batch_;  // rows in order, not yet stored
  bool batch_from_spool_ = false;
  std::string batch_text_;
  std::string spool_chunk_;
  unsigned failures_ = 0;  // attempts in a row that failed
  bool connected_ = false;
  bool schema_ready_ = false;  // the DDL ran on some connection of this run
  bool reported_down_ = false;
  std::thread thread_;
};

}  // namespace tcpdp

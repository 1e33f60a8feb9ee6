#include "sinks/pg_sink.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/record.h"
#include "sinks/format.h"

namespace tcpdp {

extern const char* const kPgSchemaSql;  // config/schema.sql, built in

namespace {

// A slot whose string grew past this for a large record gives the room back once sent.
constexpr size_t kSlotKeep = 64 * 1024;
// Spool lines read for one batch, at most this many bytes at a time.
constexpr size_t kSpoolChunk = 1 << 20;

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// libpq's messages end with a newline and may span lines (a hint after a tab): one line.
std::string one_line(const char* message) {
  std::string out;
  for (const char* p = message ? message : ""; *p; ++p) {
    if (*p == '\n' || *p == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += *p;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}


bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

std::string pg_schema_sql(const std::string& schema) {
  if (schema.empty()) return kPgSchemaSql;
  const std::string name = quote_ident(schema);
  return "CREATE SCHEMA IF NOT EXISTS " + name + ";\nSET search_path TO " + name + ";\n\n" +
         kPgSchemaSql;
}

class PgSink::Connection {
 public:
  ~Connection() { close(); }
  void close() {
    if (pg_) PQfinish(pg_);
    pg_ = nullptr;
  }
  bool open(const std::string& conninfo, std::string* error) {
    close();
    pg_ = PQconnectdb(conninfo.c_str());
    if (PQstatus(pg_) != CONNECTION_OK) {
      *error = one_line(PQerrorMessage(pg_));
      close();
      return false;
    }
    PQsetNoticeProcessor(pg_, [](void*, const char*) {}, nullptr);
    return true;
  }
  bool ok() const { return pg_ && PQstatus(pg_) == CONNECTION_OK; }
  std::string where() const {
    if (!pg_) return "";
    std::string s = "host=";
    s += PQhost(pg_);
    s += " port=";
    s += PQport(pg_);
    s += " dbname=";
    s += PQdb(pg_);
    s += " user=";
    s += PQuser(pg_);
    return s;
  }

  struct Outcome {
    bool ok = false;
    std::string sqlstate;  // of an error
    std::string message;
    std::string value;  // first column of the first row
  };
  Outcome exec(const char* sql, const std::vector<const char*>& params = {}) {
    Outcome out;
    PGresult* r = PQexecParams(pg_, sql, static_cast<int>(params.size()), nullptr, params.data(),
                               nullptr, nullptr, 0);
    const ExecStatusType st = PQresultStatus(r);
    out.ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (out.ok) {
      if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
        out.value = PQgetvalue(r, 0, 0);
      }
    } else {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      out.sqlstate = state ? state : "";
      out.message = one_line(PQresultErrorMessage(r));
      if (out.message.empty()) out.message = one_line(PQerrorMessage(pg_));
    }
    PQclear(r);
    return out;
  }
  // Several statements (the DDL), in the simple protocol.
  Outcome exec_script(const std::string& sql) {
    Outcome out;
    PGresult* r = PQexec(pg_, sql.c_str());
    out.ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!out.ok) out.message = one_line(PQresultErrorMessage(r));
    PQclear(r);
    return out;
  }

 private:
  PGconn* pg_ = nullptr;
};

PgSink::PgSink(PgSinkSettings settings, Report report)
    : settings_(std::move(settings)), report_(std::move(report)), conn_(new Connection) {
  settings_.queue_max = std::max<size_t>(settings_.queue_max, 1);
  settings_.queue_min = std::clamp<size_t>(settings_.queue_min, 1, settings_.queue_max);
  settings_.queue_delta = std::max<size_t>(settings_.queue_delta, 1);
  settings_.batch_size = std::max<size_t>(settings_.batch_size, 1);
  slots_.resize(settings_.queue_min);
}

PgSink::~PgSink() {
  if (thread_.joinable()) finish(std::chrono::milliseconds(0));
  if (spool_fd_ >= 0) ::close(spool_fd_);
}

bool PgSink::connect(std::string* error) {
  if (!conn_->open(settings_.conninfo, error)) {
    *error = "cannot connect to PostgreSQL: " + *error;
    return false;
  }
  const std::string where = conn_->where();
  const auto fail = [&](const std::string& what) {
    *error = "PostgreSQL (" + where + "): " + what;
    conn_->close();
    return false;
  };
  if (settings_.create_schema) {
    // One sensor at a time creates or updates the schema.
    const std::string sql = "BEGIN;\nSELECT pg_advisory_xact_lock(7627478352);\n" +
                            pg_schema_sql(settings_.schema) + "\nCOMMIT;";
    Connection::Outcome o = conn_->exec_script(sql);
    if (!o.ok) {
      conn_->exec_script("ROLLBACK");
      return fail("cannot create the schema: " + o.message);
    }
  } else if (!settings_.schema.empty()) {
    Connection::Outcome o = conn_->exec_script("SET search_path TO " + quote_ident(settings_.schema));
    if (!o.ok) return fail(o.message);
  }
  Connection::Outcome o = conn_->exec("SELECT to_regprocedure('tcpdp_insert(text,jsonb)')");
  if (!o.ok) return fail(o.message);
  if (o.value.empty()) {
    return fail("tcpdp's tables are not there" +
                (settings_.schema.empty() ? std::string() : " in schema " + settings_.schema) +
                ": create them with `tcpdp pg-schema | psql` or set [pg] createSchema = true");
  }
  return true;
}

bool PgSink::start(std::string* error) {
  if (!settings_.spool_file.empty()) {
    // Its directory (the log directory) may not be made yet.
    for (size_t slash = settings_.spool_file.find('/', 1); slash != std::string::npos;
         slash = settings_.spool_file.find('/', slash + 1)) {
      ::mkdir(settings_.spool_file.substr(0, slash).c_str(), 0755);
    }
    spool_fd_ = ::open(settings_.spool_file.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (spool_fd_ < 0) {
      *error = "spool file " + settings_.spool_file + ": " + std::strerror(errno);
      return false;
    }
    const off_t size = ::lseek(spool_fd_, 0, SEEK_END);
    spool_size_ = size > 0 ? static_cast<uint64_t>(size) : 0;
    if (spool_size_ > 0) {
      spooling_ = true;  // left by an earlier run: sent first
      report_("info", "the spool file " + settings_.spool_file + " holds " +
                          std::to_string(spool_size_) + " bytes of records from an earlier run; " +
                          "they are sent first");
    }
  }
  connected_ = connect(error);
  if (connected_) {
    report_("info", "PostgreSQL sink connected (" + conn_->where() + ")");
  } else {
    reported_down_ = true;
    failures_ = 1;
  }
  thread_ = std::thread([this] { run(); });
  return connected_;
}

void PgSink::take(std::string_view encoded) {
  // Lifecycle records have an event; of the dumpers' records, the hex dumper's (ascii,
  // gap_bytes) are not database traffic and are never stored.
  if (!Record::find(encoded, "event") &&
      (!settings_.dumps || Record::find(encoded, "ascii") || Record::find(encoded, "gap_bytes"))) {
    return;
  }
  thread_local std::string row;
  row.resize(json_bound(encoded));
  char* end = write_json(encoded, row.data());
  row.resize(static_cast<size_t>(end - row.data()));
  while (!row.empty() && row.back() == '\n') row.pop_back();

  std::lock_guard lock(mutex_);
  ++stats_.received;
  if (!spooling_) {
    if (count_ == slots_.size() && slots_.size() < settings_.queue_max) {
      // Grow the ring by delta slots, oldest first again.
      std::vector<std::string> grown(std::min(slots_.size() + settings_.queue_delta,
                                              settings_.queue_max));
      for (size_t i = 0; i < count_; ++i) grown[i] = std::move(slots_[(head_ + i) % slots_.size()]);
      slots_ = std::move(grown);
      head_ = 0;
    }
    if (count_ < slots_.size() && queued_bytes_ + row.size() <= settings_.queue_max_bytes) {
      if (count_ == 0) oldest_ = std::chrono::steady_clock::now();
      slots_[(head_ + count_) % slots_.size()].assign(row);
      ++count_;
      queued_bytes_ += row.size();
      // The sender wakes for the first record (to time the batch latency) and a full batch.
      if (count_ == 1 || count_ >= settings_.batch_size) wake_.notify_all();
      return;
    }
    if (spool_fd_ < 0) {
      ++stats_.dropped;
    } else {
      spooling_ = true;
      report_("warn", "PostgreSQL sink: the queue is full (" + std::to_string(count_) +
                          " records); records go to the spool file " + settings_.spool_file +
                          " until the database takes them");
      wake_.notify_all();
      spool_append(row);
    }
  } else {
    spool_append(row);
  }
  if (stats_.dropped > dropped_reported_ &&
      std::chrono::steady_clock::now() - last_drop_report_ >= std::chrono::seconds(10)) {
    last_drop_report_ = std::chrono::steady_clock::now();
    report_("warn", "PostgreSQL sink: " + std::to_string(stats_.dropped - dropped_reported_) +
                        " records dropped: the queue and the spool file are full");
    dropped_reported_ = stats_.dropped;
  }
}

void PgSink::spool_append(std::string_view row) {
  if (spool_fd_ < 0 || spool_size_ + row.size() + 1 > settings_.spool_max_size) {
    ++stats_.dropped;
    return;
  }
  std::string line;
  line.reserve(row.size() + 1);
  line.append(row).push_back('\n');
  if (!write_all(spool_fd_, line.data(), line.size())) {
    ++stats_.dropped;
    // A partial line would spoil the rest: cut the file back to its last whole line.
    if (ftruncate(spool_fd_, static_cast<off_t>(spool_size_)) != 0) {
      report_("error", "spool file " + settings_.spool_file + ": " + std::strerror(errno));
    }
    return;
  }
  spool_size_ += line.size();
  ++stats_.spooled;
}

// Takes the next batch: queued records first (they are older than anything spooled), then
// spooled ones. Waits for a full batch, the batch latency, or a stop. False: nothing to send and
// time to go.
bool PgSink::fill_batch(std::unique_lock<std::mutex>& lock) {
  for (;;) {
    const bool spool_waiting = spooling_ && spool_read_ < spool_size_;
    if (count_ >= settings_.batch_size || spool_waiting || (count_ > 0 && stopping_)) break;
    if (count_ > 0 && std::chrono::steady_clock::now() - oldest_ >= settings_.batch_latency) break;
    if (stopping_) return false;
    if (count_ > 0) {
      wake_.wait_until(lock, oldest_ + settings_.batch_latency);
    } else {
      wake_.wait(lock);
    }
  }
  batch_from_spool_ = false;
  if (count_ > 0) {
    const size_t n = std::min(count_, settings_.batch_size);
    batch_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      std::string& slot = slots_[head_];
      batch_[i].swap(slot);
      slot.clear();
      if (slot.capacity() > kSlotKeep) slot.shrink_to_fit();
      queued_bytes_ -= batch_[i].size();
      head_ = (head_ + 1) % slots_.size();
    }
    count_ -= n;
    oldest_ = std::chrono::steady_clock::now();
    return true;
  }
  // From the spool: whole lines from where the last batch stopped.
  batch_.clear();
  batch_from_spool_ = true;
  uint64_t at = spool_read_;
  while (batch_.size() < settings_.batch_size && at < spool_size_) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kSpoolChunk, spool_size_ - at));
    spool_chunk_.resize(want);
    const ssize_t got = pread(spool_fd_, spool_chunk_.data(), want, static_cast<off_t>(at));
    if (got <= 0) break;
    spool_chunk_.resize(static_cast<size_t>(got));
    size_t from = 0;
    for (size_t nl; batch_.size() < settings_.batch_size &&
                    (nl = spool_chunk_.find('\n', from)) != std::string::npos;
         from = nl + 1) {
      batch_.emplace_back(spool_chunk_, from, nl - from);
    }
    if (from == 0) {
      // A line longer than a chunk: read it whole.
      size_t len = 0;
      std::string line;
      for (;;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kSpoolChunk, spool_size_ - at - len));
        if (n == 0) break;
        const size_t old = line.size();
        line.resize(old + n);
        if (pread(spool_fd_, line.data() + old, n, static_cast<off_t>(at + len)) != static_cast<ssize_t>(n)) break;
        const size_t nl = line.find('\n', old);
        if (nl != std::string::npos) {
          line.resize(nl);
          break;
        }
        len += n;
      }
      from = line.size() + 1;
      batch_.push_back(std::move(line));
    }
    at += from;
  }
  spool_read_ = std::min(at, spool_size_);
  if (batch_.empty()) {
    // Nothing readable (a torn last line): start over.
    spool_read_ = spool_size_;
    settle_spool();
    return !stopping_ || count_ > 0;
  }
  return true;
}

void PgSink::settle_spool() {
  if (spooling_ && spool_read_ >= spool_size_) {
    if (ftruncate(spool_fd_, 0) != 0) {
      report_("error", "spool file " + settings_.spool_file + ": " + std::strerror(errno));
    }
    spool_size_ = spool_read_ = 0;
    spooling_ = false;
    report_("info", "PostgreSQL sink: the spool file is sent; records are queued again");
  }
}

// Sends batch_; true when the database has it (or refused some rows for good), false when it
// is to be tried again on a new connection.
bool PgSink::send_batch() {
  const auto call = [&](size_t from, size_t n) {
    batch_text_.clear();
    batch_text_ += '[';
    for (size_t i = from; i < from + n; ++i) {
      if (i > from) batch_text_ += ',';
      batch_text_ += batch_[i];
    }
    batch_text_ += ']';
    return conn_->exec("SELECT tcpdp_insert($1, $2::jsonb)",
                       {settings_.host.c_str(), batch_text_.c_str()});
  };
  Connection::Outcome o = call(0, batch_.size());
  if (o.ok) {
    std::lock_guard lock(mutex_);
    stats_.sent += batch_.size();
    return true;
  }
  if (!conn_->ok()) return false;
  // Data the database cannot take (class 22: a NUL character, a value out of range) spoils one
  // record, not the batch: each is tried alone, and those refused are counted and reported.
  if (o.sqlstate.rfind("22", 0) != 0) {
    report_("warn", "PostgreSQL sink: the batch was refused, tried again after a wait: " +
                        o.message);
    return false;
  }
  uint64_t sent = 0, rejected = 0;
  std::string first;
  for (size_t i = 0; i < batch_.size(); ++i) {
    Connection::Outcome one = call(i, 1);
    if (one.ok) {
      ++sent;
    } else if (!conn_->ok()) {
      batch_.erase(batch_.begin(), batch_.begin() + static_cast<std::ptrdiff_t>(i));
      std::lock_guard lock(mutex_);
      stats_.sent += sent;
      stats_.rejected += rejected;
      return false;
    } else {
      ++rejected;
      if (first.empty()) first = one.message + ": " + batch_[i].substr(0, 200);
    }
  }
  report_("warn", "PostgreSQL sink: " + std::to_string(rejected) +
                      " records refused by the database and not stored (they are in the logs): " +
                      first);
  std::lock_guard lock(mutex_);
  stats_.sent += sent;
  stats_.rejected += rejected;
  return true;
}

void PgSink::wait_before_retry() {
  ++failures_;
  auto wait = settings_.retry_min;
  if (failures_ > settings_.retry_grow_threshold) {
    wait += settings_.retry_delta * (failures_ - settings_.retry_grow_threshold);
  }
  wait = std::min(wait, std::max(settings_.retry_max, settings_.retry_min));
  std::unique_lock lock(mutex_);
  const auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until || (stopping_ && now >= deadline_)) return;
    wake_.wait_until(lock, stopping_ ? std::min(until, deadline_) : until);
  }
}

bool PgSink::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void PgSink::run() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ && std::chrono::steady_clock::now() >= deadline_) return;
    }
    if (!connected_) {
      std::string error;
      connected_ = connect(&error);
      if (!connected_) {
        if (!reported_down_) report_("warn", "PostgreSQL sink: " + error + "; trying again");
        reported_down_ = true;
        if (stopping()) return;  // what is left goes to the spool file
        wait_before_retry();
        continue;
      }
      failures_ = 0;
      if (reported_down_) {
        report_("info", "PostgreSQL sink connected again (" + conn_->where() + ")");
      }
      reported_down_ = false;
    }
    if (batch_.empty()) {
      std::unique_lock lock(mutex_);
      if (!fill_batch(lock)) return;
      if (batch_.empty()) continue;
    }
    if (!send_batch()) {
      if (!conn_->ok()) {
        connected_ = false;
        conn_->close();
        report_("warn", "PostgreSQL sink: the connection was lost; records are kept and sent "
                        "once it is back");
        reported_down_ = true;
      }
      wait_before_retry();
      continue;
    }
    failures_ = 0;
    batch_.clear();
    if (batch_from_spool_) {
      std::lock_guard lock(mutex_);
      settle_spool();
    }
  }
}

bool PgSink::finish(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return true;
    stopping_ = true;
    deadline_ = std::chrono::steady_clock::now() + timeout;
  }
  wake_.notify_all();
  thread_.join();
  save_leftovers();
  conn_->close();
  std::lock_guard lock(mutex_);
  return stats_.left == 0;
}

// After the thread stopped: the unsent batch, the queue and the unread spool, in that order,
// become the spool file the next start sends first.
void PgSink::save_leftovers() {
  std::lock_guard lock(mutex_);
  const bool unread_spool = spooling_ && spool_read_ < spool_size_;
  if (batch_.empty() && count_ == 0 && !unread_spool) return;
  // Lines the unsent batch took from the spool are still in it, from where they were read.
  uint64_t keep_from = spool_read_;
  if (batch_from_spool_) {
    uint64_t taken = 0;
    for (const std::string& row : batch_) taken += row.size() + 1;
    keep_from -= std::min(keep_from, taken);
  }
  uint64_t left = 0;
  if (spool_fd_ < 0) {
    stats_.dropped += (batch_from_spool_ ? 0 : batch_.size()) + count_;
    report_("warn", "PostgreSQL sink: " +
                        std::to_string((batch_from_spool_ ? 0 : batch_.size()) + count_) +
                        " records not stored (no spool file)");
    return;
  }
  const std::string tmp = settings_.spool_file + ".new";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  const auto put = [&](std::string_view row) {
    ok = ok && write_all(fd, row.data(), row.size()) && write_all(fd, "\n", 1);
    ++left;
  };
  if (!batch_from_spool_) {
    for (const std::string& row : batch_) put(row);
  }
  for (size_t i = 0; i < count_; ++i) put(slots_[(head_ + i) % slots_.size()]);
  if (spooling_) {
    std::string chunk;
    for (uint64_t at = keep_from; ok && at < spool_size_;) {
      chunk.resize(static_cast<size_t>(std::min<uint64_t>(kSpoolChunk, spool_size_ - at)));
      const ssize_t got = pread(spool_fd_, chunk.data(), chunk.size(), static_cast<off_t>(at));
      if (got <= 0) break;
      ok = write_all(fd, chunk.data(), static_cast<size_t>(got));
      left += static_cast<uint64_t>(std::count(chunk.begin(), chunk.begin() + got, '\n'));
      at += static_cast<uint64_t>(got);
    }
  }
  if (fd >= 0) ok = (fsync(fd) == 0) && ok && (::close(fd) == 0);
  if (ok && std::rename(tmp.c_str(), settings_.spool_file.c_str()) == 0) {
    stats_.left = left;
    report_("warn", "PostgreSQL sink: " + std::to_string(left) + " records not yet stored are " +
                        "kept in " + settings_.spool_file + " and sent at the next start");
  } else {
    report_("error", "PostgreSQL sink: cannot keep the records not yet stored in " + tmp + ": " +
                         std::strerror(errno));
    stats_.dropped += left;
  }
  count_ = 0;
  batch_.clear();
}

PgSink::Stats PgSink::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace tcpdp

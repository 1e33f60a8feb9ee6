#include "sinks/pg_sink.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/record.h"
#include "records/catalogue.h"
#include "sinks/format.h"
#include "sinks/pg_redact.h"

namespace tcpdp {

extern const char* const kPgSchemaSql;  // config/schema.sql, built in

namespace {

// A queue slot or a formatting buffer that grew past this for a large record gives the room
// back once it is done with it.
constexpr size_t kSlotKeep = 4 * 1024;
constexpr size_t kBufferKeep = 4 << 20;

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

// SQLSTATE classes of errors that belong to the data sent (a value PostgreSQL cannot take, a
// constraint, a limit such as the size of a jsonb array): a row is refused, not the database.
bool is_data_error(const std::string& sqlstate) {
  return sqlstate.rfind("22", 0) == 0 || sqlstate.rfind("23", 0) == 0 ||
         sqlstate.rfind("54", 0) == 0;
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
  /// give_up: asked while waiting on the server; true ends the wait (and the connection).
  explicit Connection(std::function<bool()> give_up) : give_up_(std::move(give_up)) {}
  ~Connection() { close(); }
  void close() {
    if (pg_) PQfinish(pg_);
    pg_ = nullptr;
  }

  /// Connects without blocking past give_up or the connect timeout (the connection's
  /// connect_timeout, PGCONNECT_TIMEOUT, else 10 s). The connection string may override the
  /// defaults before it, not the encoding after it (records are UTF-8).
  bool open(const std::string& conninfo, std::string* error) {
    close();
    const char* keys[] = {"fallback_application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "dbname",
                          "client_encoding",
                          nullptr};
    const char* values[] = {"tcpdp",          "1",    "30",   "10", "3", "30000",
                            conninfo.c_str(), "UTF8", nullptr};
    pg_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
    if (!pg_ || PQstatus(pg_) == CONNECTION_BAD) return failed(error);
    const auto until = std::chrono::steady_clock::now() + connect_timeout();
    for (PostgresPollingStatusType st = PGRES_POLLING_WRITING; st != PGRES_POLLING_OK;) {
      if (st == PGRES_POLLING_FAILED) return failed(error);
      if (!wait(st == PGRES_POLLING_READING ? POLLIN : POLLOUT, until)) {
        *error =
            std::chrono::steady_clock::now() >= until ? "timeout expired" : "given up at the stop";
        close();
        return false;
      }
      st = PQconnectPoll(pg_);
    }
    PQsetNoticeProcessor(
        pg_, [](void*, const char*) {}, nullptr);
    return true;
  }
  bool ok() const { return pg_ && PQstatus(pg_) == CONNECTION_OK; }
  std::string where() const {
    if (!pg_) return "";
    return std::string("host=") + PQhost(pg_) + " port=" + PQport(pg_) + " dbname=" + PQdb(pg_) +
           " user=" + PQuser(pg_);
  }

  struct Outcome {
    bool ok = false;
    std::string sqlstate;  // of an error
    std::string message;
    std::string value;  // first column of the first row
  };
  /// One statement with text parameters (extended protocol), or with none a script of several
  /// (simple protocol). A wait given up closes the connection (its outcome is unknown).
  Outcome exec(const std::string& sql, const std::vector<const char*>& params = {},
               bool script = false) {
    Outcome out;
    const int sent = script ? PQsendQuery(pg_, sql.c_str())
                            : PQsendQueryParams(pg_, sql.c_str(), static_cast<int>(params.size()),
                                                nullptr, params.data(), nullptr, nullptr, 0);
    if (!sent) return lost(out);
    const auto never = std::chrono::steady_clock::time_point::max();
    for (int f; (f = PQflush(pg_)) != 0;) {
      if (f < 0 || !wait(POLLIN | POLLOUT, never) || !PQconsumeInput(pg_)) return lost(out);
    }
    while (PQisBusy(pg_)) {
      if (!wait(POLLIN, never) || !PQconsumeInput(pg_)) return lost(out);
    }
    out.ok = true;
    while (PGresult* r = PQgetResult(pg_)) {
      const ExecStatusType st = PQresultStatus(r);
      if (out.ok && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        out.ok = false;
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        out.sqlstate = state ? state : "";
        out.message = one_line(PQresultErrorMessage(r));
      } else if (out.ok && st == PGRES_TUPLES_OK && out.value.empty() && PQntuples(r) > 0 &&
                 !PQgetisnull(r, 0, 0)) {
        out.value = PQgetvalue(r, 0, 0);
      }
      PQclear(r);
    }
    if (!out.ok && out.message.empty()) out.message = one_line(PQerrorMessage(pg_));
    return out;
  }

 private:
  bool failed(std::string* error) {
    *error = pg_ ? one_line(PQerrorMessage(pg_)) : "out of memory";
    close();
    return false;
  }
  Outcome& lost(Outcome& out) {
    out.ok = false;
    out.message = pg_ ? one_line(PQerrorMessage(pg_)) : "";
    if (out.message.empty()) out.message = "the call was given up at the stop";
    close();
    return out;
  }
  std::chrono::seconds connect_timeout() const {
    long seconds = 10;
    if (PQconninfoOption* options = PQconninfo(pg_)) {
      for (PQconninfoOption* o = options; o->keyword; ++o) {
        if (std::strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val) {
          seconds = std::max(std::strtol(o->val, nullptr, 10), 2L);
        }
      }
      PQconninfoFree(options);
    }
    return std::chrono::seconds(seconds);
  }
  // Until the socket is ready for `events`; false past `until` or when give_up_ says so.
  bool wait(short events, std::chrono::steady_clock::time_point until) {
    for (;;) {
      if (give_up_() || std::chrono::steady_clock::now() >= until) return false;
      pollfd p{PQsocket(pg_), events, 0};
      const int n = poll(&p, 1, 100);
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
  }

  PGconn* pg_ = nullptr;
  std::function<bool()> give_up_;
};

PgSink::PgSink(PgSinkSettings settings, Report report)
    : settings_(std::move(settings)),
      // Every message, libpq's above all, is cleaned of the connection string's passwords.
      report_([report = std::move(report), conninfo = settings_.conninfo](
                  const char* level, const std::string& message) {
        report(level, redact_secrets(message, conninfo));
      }),
      conn_(new Connection([this] { return give_up(); })) {
  settings_.queue_max = std::max<size_t>(settings_.queue_max, 1);
  settings_.queue_min = std::clamp<size_t>(settings_.queue_min, 1, settings_.queue_max);
  settings_.queue_delta = std::max<size_t>(settings_.queue_delta, 1);
  settings_.batch_size = std::max<size_t>(settings_.batch_size, 1);
  slots_.resize(settings_.queue_min);
  arrived_.resize(settings_.queue_min);
}

PgSink::~PgSink() {
  if (thread_.joinable()) finish(std::chrono::milliseconds(0));
  if (spool_fd_ >= 0) ::close(spool_fd_);
}

bool PgSink::give_up() const {
  std::lock_guard lock(mutex_);
  return stopping_ && std::chrono::steady_clock::now() >= deadline_;
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
  if (settings_.create_schema && !schema_ready_) {
    // One sensor at a time creates or updates the schema.
    const std::string sql = "BEGIN;\nSELECT pg_advisory_xact_lock(7627478352);\n" +
                            pg_schema_sql(settings_.schema) + "\nCOMMIT;";
    Connection::Outcome o = conn_->exec(sql, {}, /*script=*/true);
    if (!o.ok) return fail("cannot create the schema: " + o.message);
  } else if (!settings_.schema.empty()) {
    Connection::Outcome o =
        conn_->exec("SET search_path TO " + quote_ident(settings_.schema), {}, /*script=*/true);
    if (!o.ok) return fail(o.message);
  }
  Connection::Outcome o = conn_->exec("SELECT to_regprocedure('tcpdp_insert(text,jsonb)')");
  if (!o.ok) return fail(o.message);
  if (o.value.empty()) {
    return fail("tcpdp's tables are not there" +
                (settings_.schema.empty() ? std::string() : " in schema " + settings_.schema) +
                ": create them with `tcpdp pg-schema | psql` or set [pg] createSchema = true");
  }
  schema_ready_ = true;
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
    cut_torn_line();
    if (spool_size_ > 0) {
      spooling_ = true;  // left by an earlier run: sent first
      report_("info", "the spool file " + settings_.spool_file + " holds " +
                          std::to_string(spool_size_) + " bytes of records from an earlier run; " +
                          "they are sent first");
    }
  }
  connected_ = connect(error);
  if (!connected_) *error = redact_secrets(*error, settings_.conninfo);
  set_up(connected_);
  if (connected_) {
    report_("info", "PostgreSQL sink connected (" + conn_->where() + ")");
  } else {
    reported_down_ = true;
    failures_ = 1;
  }
  thread_ = std::thread([this] { run(); });
  return connected_;
}

bool PgSink::enqueue(const std::string& row) {
  if (count_ == slots_.size() && slots_.size() < settings_.queue_max) {
    // Grow the ring by delta slots, oldest first again.
    const size_t n = std::min(slots_.size() + settings_.queue_delta, settings_.queue_max);
    std::vector<std::string> grown(n);
    std::vector<std::chrono::steady_clock::time_point> when(n);
    for (size_t i = 0; i < count_; ++i) {
      grown[i] = std::move(slots_[(head_ + i) % slots_.size()]);
      when[i] = arrived_[(head_ + i) % slots_.size()];
    }
    slots_ = std::move(grown);
    arrived_ = std::move(when);
    head_ = 0;
  }
  if (count_ == slots_.size() || queued_bytes_ + row.size() > settings_.queue_max_bytes) {
    return false;
  }
  const size_t at = (head_ + count_) % slots_.size();
  slots_[at].assign(row);
  arrived_[at] = std::chrono::steady_clock::now();
  ++count_;
  queued_bytes_ += row.size();
  // The sender wakes for the first record (to time the batch latency) and a full batch.
  if (count_ == 1 || count_ == settings_.batch_size) wake_.notify_all();
  return true;
}

// After the queue emptied: the room grown for a burst or an outage is given back.
void PgSink::shrink_queue() {
  if (count_ > 0 || slots_.size() <= settings_.queue_min) return;
  slots_.resize(settings_.queue_min);
  slots_.shrink_to_fit();
  arrived_.resize(settings_.queue_min);
  arrived_.shrink_to_fit();
  head_ = 0;
}

void PgSink::take(std::string_view encoded) {
  // Lifecycle records always; the protocol decoders' records and the query digests with dumps;
  // hex chunks and gaps never (not database traffic), nor the TLS notice (the request before it
  // and the summary's decoder_state say it).
  const auto event = Record::find(encoded, "event");
  const auto kind = event ? kind_named(event->s) : std::nullopt;
  using K = RecordKind;
  if (!kind || *kind == K::kHex || *kind == K::kGap || *kind == K::kEncrypted) return;
  if (!settings_.dumps && *kind != RecordKind::kState && *kind != RecordKind::kSummary) return;
  thread_local std::string row;
  row.resize(json_bound(encoded));
  char* end = write_json(encoded, row.data());
  row.resize(static_cast<size_t>(end - row.data()));
  while (!row.empty() && row.back() == '\n') row.pop_back();

  std::string spool_message, drop_message;
  {
    std::unique_lock lock(mutex_);
    ++stats_.received;
    if (settings_.wait_when_full) {
      room_.wait(lock, [&] {
        return spooling_ || !up_ || stopping_ || count_ == 0 ||
               (count_ < settings_.queue_max &&
                queued_bytes_ + row.size() <= settings_.queue_max_bytes);
      });
    }
    if (!spooling_ && enqueue(row)) {
      if (row.capacity() > kSlotKeep) row.shrink_to_fit();
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (spool_append(row)) {
      if (!spooling_ && now - last_spool_report_ >= std::chrono::seconds(10)) {
        last_spool_report_ = now;
        spool_message = "PostgreSQL sink: the queue is full (" + std::to_string(count_) +
                        " records); records go to the spool file " + settings_.spool_file +
                        " until the database takes them";
      }
      spooling_ = true;
    } else {
      ++stats_.dropped;
    }
    if (stats_.dropped > dropped_reported_ && now - last_drop_report_ >= std::chrono::seconds(10)) {
      last_drop_report_ = now;
      drop_message = "PostgreSQL sink: " + std::to_string(stats_.dropped - dropped_reported_) +
                     " records dropped: the queue and the spool file are full";
      dropped_reported_ = stats_.dropped;
    }
  }
  if (row.capacity() > kSlotKeep) row.shrink_to_fit();
  if (!spool_message.empty()) report_("warn", spool_message);
  if (!drop_message.empty()) report_("warn", drop_message);
}

// Takes the next batch: queued records first (they are older than anything spooled), then
// spooled ones. Waits for a full batch, the batch latency, or a stop. False: nothing to send
// and time to go.
bool PgSink::fill_batch() {
  std::unique_lock lock(mutex_);
  for (;;) {
    const bool spool_waiting = spool_read_ < spool_size_ && (spooling_ || count_ == 0);
    if (count_ >= settings_.batch_size || spool_waiting || (count_ > 0 && stopping_)) break;
    const auto due = count_ > 0 ? arrived_[head_] + settings_.batch_latency
                                : std::chrono::steady_clock::time_point::max();
    if (count_ > 0 && std::chrono::steady_clock::now() >= due) break;
    if (stopping_) return false;
    if (count_ > 0) {
      wake_.wait_until(lock, due);
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
    shrink_queue();
    room_.notify_all();
    return true;
  }
  const uint64_t from = spool_read_, to = spool_size_;
  lock.unlock();
  batch_.clear();
  batch_from_spool_ = true;
  const uint64_t next = read_spool(from, to);
  std::string trouble;
  lock.lock();
  if (next == from) {
    // Unreadable: what is left of the file is given up, said once.
    trouble = "spool file " + settings_.spool_file + ": cannot read " + std::to_string(to - from) +
              " bytes of records at " + std::to_string(from) + " (" + std::strerror(errno) +
              "); they are lost";
    spool_read_ = to;
  } else {
    spool_read_ = next;
  }
  // At its end: new records are queued again (they come after these).
  if (spool_read_ >= spool_size_) spooling_ = false;
  const bool emptied = batch_.empty() && settle_spool();
  lock.unlock();
  if (!trouble.empty()) report_("error", trouble);
  if (emptied) report_("info", "PostgreSQL sink: the spool file is sent; records are queued again");
  return true;
}

// Sends batch_; true when the database has all of it (some rows perhaps refused for their
// data, counted); false when the rest is to be tried again (on a new connection if it was
// lost). Rows stored are taken out of batch_.
bool PgSink::send_batch() {
  const auto call = [&](size_t from, size_t n) {
    batch_text_.clear();
    batch_text_ += '[';
    for (size_t i = from; i < from + n; ++i) {
      if (i > from) batch_text_ += ',';
      batch_text_ += batch_[i];
    }
    batch_text_ += ']';
    Connection::Outcome o = conn_->exec("SELECT tcpdp_insert($1, $2::jsonb)",
                                        {settings_.host.c_str(), batch_text_.c_str()});
    if (batch_text_.capacity() > kBufferKeep) {
      batch_text_.clear();
      batch_text_.shrink_to_fit();
    }
    return o;
  };
  Connection::Outcome o = call(0, batch_.size());
  if (o.ok) {
    std::lock_guard lock(mutex_);
    stats_.sent += batch_.size();
    batch_.clear();
    return true;
  }
  if (!conn_->ok()) return false;
  // A refusal for the data spoils some rows, not the batch: each is tried alone. Any other
  // refusal (permissions, a statement timeout) is tried again a few times as it is first.
  if (!is_data_error(o.sqlstate) && failures_ < 3) {
    report_("warn", "PostgreSQL sink: a batch was refused, tried again after a wait: " + o.message);
    return false;
  }
  uint64_t sent = 0, rejected = 0;
  std::string first;
  size_t done = 0;
  for (; done < batch_.size(); ++done) {
    Connection::Outcome one = call(done, 1);
    if (one.ok) {
      ++sent;
    } else if (conn_->ok() && is_data_error(one.sqlstate)) {
      if (++rejected == 1) first = one.message + ": " + batch_[done].substr(0, 200);
    } else {
      break;  // the database, not the row: the rest waits
    }
  }
  batch_.erase(batch_.begin(), batch_.begin() + static_cast<std::ptrdiff_t>(done));
  if (rejected > 0) {
    report_("warn",
            "PostgreSQL sink: " + std::to_string(rejected) +
                " records refused by the database and not stored (they are in the logs): " + first);
  }
  std::lock_guard lock(mutex_);
  stats_.sent += sent;
  stats_.rejected += rejected;
  return batch_.empty();
}

void PgSink::wait_before_retry() {
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

void PgSink::run() {
  for (;;) {
    if (give_up()) return;
    if (!connected_) {
      if (failures_ > 0) {
        {
          std::lock_guard lock(mutex_);
          if (stopping_) return;  // down at the stop: what is left goes to the spool file
        }
        wait_before_retry();
        if (give_up()) return;
      }
      std::string error;
      connected_ = connect(&error);
      set_up(connected_);
      if (!connected_) {
        ++failures_;
        if (!reported_down_) report_("warn", "PostgreSQL sink: " + error + "; trying again");
        reported_down_ = true;
        continue;
      }
      failures_ = 0;
      if (reported_down_)
        report_("info", "PostgreSQL sink connected again (" + conn_->where() + ")");
      reported_down_ = false;
    }
    if (batch_.empty() && !fill_batch()) return;
    if (batch_.empty()) continue;
    if (!send_batch()) {
      ++failures_;
      set_up(false);  // a waiting `read` spools meanwhile
      if (!conn_->ok()) {
        connected_ = false;
        conn_->close();
        if (!give_up()) {
          report_("warn",
                  "PostgreSQL sink: the connection was lost; records are kept and sent "
                  "once it is back");
        }
        reported_down_ = true;
      } else {
        wait_before_retry();
      }
      continue;
    }
    if (failures_ > 0) set_up(true);
    failures_ = 0;
    if (batch_from_spool_) {
      std::unique_lock lock(mutex_);
      if (settle_spool()) {
        lock.unlock();
        report_("info", "PostgreSQL sink: the spool file is sent; records are queued again");
      }
    }
  }
}

void PgSink::set_up(bool up) {
  std::lock_guard lock(mutex_);
  up_ = up;
  if (!up) room_.notify_all();
}

void PgSink::finish(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    deadline_ = std::chrono::steady_clock::now() + timeout;
  }
  wake_.notify_all();
  room_.notify_all();
  thread_.join();
  save_leftovers();
  conn_->close();
}

PgSink::Stats PgSink::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace tcpdp

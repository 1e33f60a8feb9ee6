#include "digest/digest.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "common/record.h"
#include "digest/fingerprint.h"
#include "records/catalogue.h"
#include "sinks/format.h"

namespace tcpdp {
namespace {

constexpr size_t kNamesKept = 100;
constexpr size_t kExampleMax = 64 * 1024;
constexpr size_t kPendingMax = 100000;  // refused Binds waiting for their Execute
// SQL texts remembered with their class: their bytes and the hash table's own for each (its
// node, the string and the bucket), at most.
constexpr size_t kSeenBytes = 16 << 20;
constexpr size_t kSeenEntryBytes = 80;

// "127.0.0.1:5432" or "[::1]:5432": the address without the port.
std::string_view host_of(std::string_view addr) {
  if (!addr.empty() && addr.front() == '[') {
    const size_t end = addr.find(']');
    return end == std::string_view::npos ? addr : addr.substr(1, end - 1);
  }
  const size_t colon = addr.rfind(':');
  return colon == std::string_view::npos ? addr : addr.substr(0, colon);
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string ms(int64_t usec) { return fixed(static_cast<double>(usec) / 1000.0, 3); }
std::string seconds(int64_t usec) { return fixed(static_cast<double>(usec) / 1e6, 6); }

}  // namespace

void Digest::Names::add(std::string_view name) {
  if (name.empty()) return;
  auto it = counts.find(std::string(name));
  if (it != counts.end()) {
    ++it->second;
  } else if (counts.size() < kNamesKept) {
    counts.emplace(std::string(name), 1);
  } else {
    ++others;
  }
}

namespace {

// Whether key k is the literal: compared inline, with no call (every field of every record
// is compared to a few of these).
template <size_t N>
bool is(std::string_view k, const char (&literal)[N]) {
  return k.size() == N - 1 && std::memcmp(k.data(), literal, N - 1) == 0;
}

// The keys the digest reads, found in one pass over a record (groups included).
struct Fields {
  bool skipped = false;
  std::optional<std::string_view> event;
  std::string_view message_type, command, query, conn_id;
  std::optional<std::string_view> execute_query, stmt_prepare_query;  // absent: text not seen
  std::string_view username, database, client_addr, src_addr, dst_addr, direction;
  std::string error_code;  // mysql: the server's error number
  std::string_view sql_state;
  std::optional<int64_t> duration, rows;
  Timestamp ts;

  void take(const FieldView& f) {
    const std::string_view k = f.key;
    if (k.empty()) return;
    switch (k[0]) {
      case 'c':
        if (is(k, "command"))
          command = f.s;
        else if (is(k, "conn_id"))
          conn_id = f.s;
        else if (is(k, "client_addr"))
          client_addr = f.s;
        break;
      case 'd':
        if (is(k, "duration") && f.kind == Kind::kDuration)
          duration = f.i;
        else if (is(k, "database"))
          database = f.s;
        else if (is(k, "dst_addr"))
          dst_addr = f.s;
        else if (is(k, "direction"))
          direction = f.s;
        break;
      case 'e':
        if (is(k, "event"))
          event = f.s;
        else if (is(k, "execute_query"))
          execute_query = f.s;
        else if (is(k, "error_code"))
          error_code = f.kind == Kind::kInt ? std::to_string(f.i) : std::string(f.s);
        break;
      case 'm':
        if (is(k, "message_type")) message_type = f.s;
        break;
      case 'q':
        if (is(k, "query")) query = f.s;
        break;
      case 'r':
        if (is(k, "rows") && f.kind == Kind::kInt) rows = f.i;
        break;
      case 's':
        if (is(k, "stmt_prepare_query"))
          stmt_prepare_query = f.s;
        else if (is(k, "src_addr"))
          src_addr = f.s;
        else if (is(k, "sql_state"))
          sql_state = f.s;
        else if (is(k, "skipped"))
          skipped = true;
        break;
      case 't':
        if (is(k, "ts") && f.kind == Kind::kTimestamp) ts = f.ts;
        break;
      case 'u':
        if (is(k, "username")) username = f.s;
        break;
    }
  }
  // The error a class counts: pg's SQLSTATE, MySQL's error number. Dump logs written before
  // records said their kind had both in error_code.
  std::string error() const {
    if (event == kind_name(RecordKind::kPg) && !sql_state.empty()) return std::string(sql_state);
    return error_code;
  }

  void read(std::string_view encoded) {
    Record::Reader r(encoded);
    while (!r.done()) {
      const FieldView f = r.next();
      if (f.kind == Kind::kGroup) {
        read(f.group->fields().encoded());
        continue;
      }
      take(f);
      if (f.kind == Kind::kArray || f.kind == Kind::kObject) r.skip_container();
    }
  }
};

}  // namespace

Digest::Class* Digest::class_of(std::string_view sql, SqlDialect dialect, bool text_seen) {
  // Most executions repeat a text seen before (prepared statements always do).
  auto& cache = seen_[dialect == SqlDialect::kMySql ? 1 : 0];
  if (text_seen) {
    if (auto it = cache.find(sql); it != cache.end()) return it->second;
  }
  std::string fp = text_seen ? fingerprint(sql, dialect) : std::string(sql);
  Class* c = nullptr;
  if (auto it = classes_.find(fp); it != classes_.end()) {
    c = it->second.get();
  } else if (classes_.size() < max_classes_) {
    auto made = std::make_unique<Class>();
    made->id = fingerprint_id(fp);
    made->fingerprint = std::move(fp);
    c = made.get();
    classes_.emplace(c->fingerprint, std::move(made));
  } else {
    if (!other_) {
      other_ = std::make_unique<Class>();
      other_->fingerprint = "other";
      other_->id = "other";
    }
    c = other_.get();
  }
  if (!text_seen) return c;
  const size_t cost = sql.size() + kSeenEntryBytes;
  if (seen_bytes_ + cost > kSeenBytes) {
    seen_[0].clear();
    seen_[1].clear();
    seen_bytes_ = 0;
  }
  seen_bytes_ += cost;
  cache.emplace(std::string(sql), c);
  return c;
}

void Digest::take(std::string_view encoded) {
  Fields f;
  f.read(encoded);
  // Only protocol records are executions. Dump logs written before every record said its kind
  // (`event`) had it on lifecycle and digest records only: there, a record without one is a
  // protocol record.
  if (f.event && *f.event != kind_name(RecordKind::kPg) &&
      *f.event != kind_name(RecordKind::kMysql)) {
    return;
  }
  std::string_view sql;
  SqlDialect dialect = SqlDialect::kPostgres;
  if (f.message_type == "B") {
    if (std::string error = f.error(); !error.empty()) {
      std::lock_guard lock(mutex_);
      if (bind_errors_.size() >= kPendingMax) bind_errors_.clear();
      bind_errors_[std::string(f.conn_id)] = std::move(error);
    }
    return;
  }
  // An Execute or COM_STMT_EXECUTE whose statement was prepared before the capture began (or
  // forgotten past the dumper's bound) has no SQL text: such executions form a class of their
  // own, never mixed with the SQL that is known.
  bool text_seen = true;
  if (f.message_type == "Q") {
    sql = f.query;
  } else if (f.message_type == "E") {
    // In logs before "ErrorResponse", the server's ErrorResponse that answers no client message
    // (a FATAL at shutdown) was an "E" too: the direction tells them apart.
    if (f.direction == "<-") return;
    text_seen = f.execute_query.has_value();
    sql = f.execute_query.value_or(kUnseenText);
  } else if (f.command == "COM_QUERY") {
    sql = f.query;
    dialect = SqlDialect::kMySql;
  } else if (f.command == "COM_STMT_EXECUTE") {
    text_seen = f.stmt_prepare_query.has_value();
    sql = f.stmt_prepare_query.value_or(kUnseenText);
    dialect = SqlDialect::kMySql;
  } else {
    return;
  }

  std::lock_guard lock(mutex_);
  std::string error = f.error();
  if (f.message_type == "E" && !bind_errors_.empty()) {
    if (auto it = bind_errors_.find(std::string(f.conn_id)); it != bind_errors_.end()) {
      if (f.skipped && error.empty()) error = std::move(it->second);
      bind_errors_.erase(it);
    }
  }
  // An Execute the server skipped after an earlier error of its pipeline never ran; one whose
  // own Bind was refused counts, with the Bind's error.
  if (f.skipped && error.empty()) return;
  ++executions_;
  Class* c = class_of(sql, dialect, text_seen);
  if (c->count == 0 || f.ts < c->first_seen) c->first_seen = f.ts;
  if (c->count == 0 || f.ts > c->last_seen) c->last_seen = f.ts;
  ++c->count;
  bool slowest = c->count == 1;
  if (f.duration && *f.duration >= 0) {
    ++c->timed;
    c->total_usec += *f.duration;
    c->durations.add(*f.duration);
    if (*f.duration > c->max_usec) {
      c->max_usec = *f.duration;
      slowest = true;
    }
  }
  if (slowest) c->example.assign(sql.substr(0, kExampleMax));
  if (f.rows && *f.rows > 0) c->rows += static_cast<uint64_t>(*f.rows);
  if (!error.empty()) ++c->errors[error];
  c->users.add(f.username);
  c->databases.add(f.database);
  std::string_view client = f.client_addr;
  if (client.empty()) client = f.direction == "<-" ? f.dst_addr : f.src_addr;
  c->clients.add(host_of(client));
}

uint64_t Digest::executions() const {
  std::lock_guard lock(mutex_);
  return executions_;
}

size_t Digest::classes() const {
  std::lock_guard lock(mutex_);
  return classes_.size() + (other_ ? 1 : 0);
}

auto Digest::rank(const Classes& classes, const Class* other, size_t top)
    -> std::vector<const Class*> {
  std::vector<const Class*> all;
  all.reserve(classes.size() + 1);
  for (const auto& [fp, c] : classes) all.push_back(c.get());
  std::sort(all.begin(), all.end(), [](const Class* a, const Class* b) {
    if (a->total_usec != b->total_usec) return a->total_usec > b->total_usec;
    if (a->count != b->count) return a->count > b->count;
    return a->id < b->id;
  });
  if (all.size() > top) all.resize(top);
  if (other) all.push_back(other);
  return all;
}

std::string Digest::report(size_t top, Format format) const {
  std::lock_guard lock(mutex_);
  int64_t total = other_ ? other_->total_usec : 0;
  for (const auto& [fp, c] : classes_) total += c->total_usec;
  const std::vector<const Class*> ranked = rank(classes_, other_.get(), top);
  const auto share = [&](const Class& c) {
    return total > 0 ? 100.0 * static_cast<double>(c.total_usec) / static_cast<double>(total) : 0.0;
  };
  const auto avg = [](const Class& c) {
    return c.timed ? c.total_usec / static_cast<int64_t>(c.timed) : 0;
  };
  std::string out;
  if (format == Format::kJson) {
    out += "{\"executions\":" + std::to_string(executions_) +
           ",\"classes\":" + std::to_string(classes_.size() + (other_ ? 1 : 0)) +
           ",\"total_duration\":" + seconds(total) + ",\"top\":[";
    Record r;
    for (size_t i = 0; i < ranked.size(); ++i) {
      r.clear();
      r.add("rank", i + 1);
      fill(r, *ranked[i], share(*ranked[i]) / 100.0);
      if (i) out += ',';
      append_formatted(r, tcpdp::Format::kJson, out);
      out.pop_back();  // its newline
    }
    out += "]}\n";
    return out;
  }
  const auto names = [](const Names& n) {
    std::vector<std::pair<uint64_t, std::string>> by_count;
    for (const auto& [name, count] : n.counts) by_count.emplace_back(count, name);
    std::sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::string s;
    for (const auto& [count, name] : by_count)
      s += (s.empty() ? "" : ", ") + name + " " + std::to_string(count);
    if (n.others) s += (s.empty() ? "" : ", ") + std::string("others ") + std::to_string(n.others);
    return s.empty() ? std::string("-") : s;
  };
  out += "# tcpdp query digest: " + std::to_string(executions_) + " executions in " +
         std::to_string(classes_.size() + (other_ ? 1 : 0)) + " classes, " + seconds(total) +
         " s in all; the " + std::to_string(ranked.size()) + " with the most time:\n";
  char line[256];
  std::snprintf(line, sizeof line, "# %4s %-16s %8s %6s %11s %9s %9s %9s %9s %9s\n", "rank", "id",
                "calls", "time%", "total s", "avg ms", "p50 ms", "p95 ms", "p99 ms", "max ms");
  out += line;
  for (size_t i = 0; i < ranked.size(); ++i) {
    const Class& c = *ranked[i];
    std::snprintf(line, sizeof line, "# %4zu %-16s %8llu %6.2f %11s %9s %9s %9s %9s %9s\n", i + 1,
                  c.id.c_str(), static_cast<unsigned long long>(c.count), share(c),
                  seconds(c.total_usec).c_str(), ms(avg(c)).c_str(),
                  ms(c.durations.percentile(50)).c_str(), ms(c.durations.percentile(95)).c_str(),
                  ms(c.durations.percentile(99)).c_str(),
                  ms(std::max<int64_t>(c.max_usec, 0)).c_str());
    out += line;
  }
  for (size_t i = 0; i < ranked.size(); ++i) {
    const Class& c = *ranked[i];
    out += "\n# " + std::to_string(i + 1) + ". " + c.id + ": " + std::to_string(c.count) +
           " calls (" + std::to_string(c.timed) + " with their answer), " + fixed(share(c), 2) +
           "% of the time\n";
    out += "#   time: total " + seconds(c.total_usec) + " s, avg " + ms(avg(c)) + " ms, p50 " +
           ms(c.durations.percentile(50)) + ", p95 " + ms(c.durations.percentile(95)) + ", p99 " +
           ms(c.durations.percentile(99)) + ", max " + ms(std::max<int64_t>(c.max_usec, 0)) +
           " ms\n";
    std::string errors;
    for (const auto& [code, count] : c.errors) {
      errors += (errors.empty() ? "" : ", ") + code + " " + std::to_string(count);
    }
    out += "#   rows: " + std::to_string(c.rows) + "; errors: " + (errors.empty() ? "-" : errors) +
           "\n";
    out += "#   users: " + names(c.users) + "; databases: " + names(c.databases) +
           "; clients: " + names(c.clients) + "\n";
    out += "#   first seen " + to_rfc3339(c.first_seen) + ", last seen " + to_rfc3339(c.last_seen) +
           "\n";
    out += "#   fingerprint: " + c.fingerprint + "\n";
    // The example as sent, but for control characters (a NUL MySQL clients end a query with).
    for (const char ch : c.example) {
      const auto b = static_cast<unsigned char>(ch);
      if (b < 0x20 && ch != '\n' && ch != '\t') {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", b);
        out += hex;
      } else {
        out += ch;
      }
    }
    if (!c.example.empty()) out += "\n";
  }
  return out;
}

void Digest::fill(Record& r, const Class& c, std::optional<double> time_share) {
  r.add("id", c.id);
  r.add("fingerprint", c.fingerprint);
  r.add("count", c.count);
  r.add("timed", c.timed);
  if (time_share) r.add("time_share", *time_share);
  r.add("total_duration", Duration{c.total_usec});
  r.add("avg", Duration{c.timed ? c.total_usec / static_cast<int64_t>(c.timed) : 0});
  r.add("p50", Duration{c.durations.percentile(50)});
  r.add("p95", Duration{c.durations.percentile(95)});
  r.add("p99", Duration{c.durations.percentile(99)});
  r.add("max", Duration{std::max<int64_t>(c.max_usec, 0)});
  r.add("rows", c.rows);
  r.begin_object("errors");
  for (const auto& [code, count] : c.errors) r.add(code, count);
  r.end();
  const auto names = [&](const char* key, const Names& n) {
    r.begin_object(key);
    for (const auto& [name, count] : n.counts) r.add(name, count);
    r.end();
    if (n.others) r.add(std::string(key) + "_others", n.others);
  };
  names("users", c.users);
  names("databases", c.databases);
  names("clients", c.clients);
  r.add("first_seen", c.first_seen);
  r.add("last_seen", c.last_seen);
  r.add("example", c.example);
}

void Digest::emit(RecordSink& out, Timestamp from, Timestamp to) {
  decltype(classes_) classes;
  std::unique_ptr<Class> other;
  {
    std::lock_guard lock(mutex_);
    classes.swap(classes_);
    other.swap(other_);
    seen_[0].clear();
    seen_[1].clear();
    seen_bytes_ = 0;
    executions_ = 0;
  }
  // Written without the lock: the sink's writer may be handing this digest its next records.
  Record r;
  for (const Class* c : rank(classes, other.get(), classes.size())) {
    r.clear();
    r.add("ts", to);
    r.add("event", kind_name(RecordKind::kDigest));
    r.add("interval_start", from);
    r.add("interval_end", to);
    fill(r, *c);
    out.write(r);
  }
}

}  // namespace tcpdp

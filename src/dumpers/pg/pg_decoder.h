/// The decoder of one PostgreSQL connection, its state shared by three files: pg_framing.cc is
/// its side of each direction's Framer (which header comes next, what a header means, what a
/// boundary after a gap looks like); pg_session.cc
/// reads the session's start (startup packet, encryption requests, protocol negotiation,
/// authentication, what the server says about the session); pg_dumper.cc reads the requests and
/// their answers and makes the records.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dumpers/framer.h"
#include "dumpers/lru_table.h"
#include "dumpers/pg/pg_dumper.h"
#include "dumpers/pg/pg_messages.h"
#include "dumpers/request_queue.h"

namespace tcpdp::pg {

// Prepared statements or portals by name. The unnamed one, which most clients use for every
// query, has a place of its own; named ones are looked up by the names in messages without
// making strings of them, and kept up to a bound, past which the one used longest ago makes room.
template <typename T>
class NameTable {
 public:
  explicit NameTable(size_t max_named) : named_(max_named) {}
  T* find(std::string_view name) {
    if (name.empty()) return has_unnamed_ ? &unnamed_ : nullptr;
    return named_.find(name);
  }
  /// The entry for name, to be filled in place (reusing its room).
  T& remember(std::string_view name) {
    if (name.empty()) {
      has_unnamed_ = true;
      return unnamed_;
    }
    return named_.remember(name);
  }
  void erase(std::string_view name) {
    if (name.empty()) {
      has_unnamed_ = false;
    } else {
      named_.erase(name);
    }
  }

 private:
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  LruTable<std::string, T, NameHash, std::equal_to<>> named_;
  T unnamed_;
  bool has_unnamed_ = false;
};

class PgDecoder : public Decoder {
 public:
  PgDecoder(const ConnInfo& conn, RecordSink& sink, const PgOptions& options);

  void on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) override;
  void on_gap(Direction dir, Timestamp ts, uint64_t missed) override;
  void describe(Record& r) const override;
  void on_close(Timestamp ts, CloseReason reason) override;
  DecoderState state() const override {
    return decoder_state_of(client_.framer.state(), server_.framer.state(), encrypted_, closed_);
  }

 private:
  // What the next header of a direction is: the client's startup packet (a length), a typed
  // message (a type byte and a length), or the server's one-byte answer to an encryption request.
  enum class Phase { kStartup, kTyped, kSslAnswer };
  enum class Wait { kNone, kReady, kParse, kBind, kClose, kDescribe, kExecute, kSslAnswer };

  // One direction: its framer, and the decoder's side of the framing (pg_framing.cc).
  struct Side : Framer::Protocol {
    Side(PgDecoder& decoder, Direction dir, Phase phase, Framer::State state)
        : decoder(decoder), dir(dir), phase(phase), framer(state) {}
    size_t header_size() const override;
    Framer::Verdict on_header(std::span<const uint8_t> header) override;
    void on_message(std::span<const uint8_t> header, std::span<const uint8_t> body) override;
    const BoundaryRules& boundaries() const override;
    void on_resync(uint64_t skipped, Timestamp ts) override;
    Timestamp msg_ts() const { return framer.message_ts(); }

    PgDecoder& decoder;
    Direction dir;
    Phase phase;
    Framer framer;
    int error_records = 0;
  };

  // What only some requests need, kept apart so the common request stays small.
  struct Rare {
    std::string describe_name;
    std::string copy_fail;
    bool has_error = false;
    std::string error_severity, sql_state, error_message, error_detail, error_hint;
  };

  // A client message waiting for its answer; RequestQueue adds its record and done flag.
  struct RequestState {
    Timestamp start;
    uint8_t type = 0;
    Wait wait = Wait::kNone;
    char describe_kind = 0;
    bool have_tag_rows = false;
    bool empty_query = false;
    bool suspended = false;
    bool skipped = false;
    std::string tags;
    int64_t tag_rows = 0;
    int64_t data_rows = 0;
    uint64_t copy_bytes = 0;
    uint64_t copy_messages = 0;
    std::unique_ptr<Rare> rare;

    Rare& extra() {
      if (!rare) rare = std::make_unique<Rare>();
      return *rare;
    }
    bool has_error() const { return rare && rare->has_error; }
  };
  using Request = RequestQueue<RequestState>::Request;

  struct Statement {
    std::string query;
    std::vector<uint32_t> types;
  };
  struct Portal {
    std::string statement;
    std::string query;
    bool query_known = false;
  };

  Side& side(Direction d) { return d == Direction::kClientToServer ? client_ : server_; }

  // pg_framing.cc
  Framer::Verdict start_message(Side& s, uint8_t type, uint32_t len);
  void lose_sync(Side& s, const std::string& why);
  void skipped(Direction dir, Timestamp ts, uint64_t bytes, const char* why);
  void unfinished(Side& s, Timestamp ts);

  // pg_session.cc
  void client_startup(std::span<const uint8_t> body);
  void on_ssl_answer(uint8_t answer, Timestamp ts);
  void encrypted(Timestamp ts);
  void go_silent();
  void session_message(uint8_t type, std::span<const uint8_t> body);
  void authentication(std::span<const uint8_t> body);

  // pg_dumper.cc: records
  Record session() const;  // username, database, application_name when known
  const GroupRef& session_fields(Direction dir) const;
  Record record(RecordKind kind, Direction dir, Timestamp ts) const;
  void decode_error(Side& s, Direction dir, Timestamp ts, const std::string& what);
  void emit_now(Record r);
  Request& add_request(uint8_t type, const char* message_type, Wait wait);
  void complete(Request& r, Timestamp ts);
  void flush_done();
  void suspend_pairing();
  // The oldest request still waiting for its answer.
  Request* waiting() { return pending_.waiting(); }

  // pg_dumper.cc: requests and answers
  void client_message(uint8_t type, std::span<const uint8_t> body);
  void malformed(uint8_t type);
  void count_only(Direction dir, uint8_t type, uint32_t body_len);
  void server_message(uint8_t type, std::span<const uint8_t> body);
  void ready_for_query(uint8_t status, Timestamp ts);

  ConnInfo conn_;
  PgOptions options_;
  Side client_;
  Side server_;
  RequestQueue<RequestState> pending_;  // client messages in order; written once done
  NameTable<Statement> statements_;
  NameTable<Portal> portals_;
  ParseMsg parse_;  // the last Parse and Bind, kept for their vectors' room
  BindMsg bind_;
  std::string username_, database_, application_name_;
  mutable GroupRef session_[2];  // record() makes them from the three above
  std::string auth_method_;
  bool sasl_started_ = false;
  int32_t encryption_request_ = 0;
  Request* startup_ = nullptr;      // the StartupMessage record, until the first ReadyForQuery
  Request* copy_target_ = nullptr;  // the request a COPY's data belongs to
  bool pairing_ = true;
  bool pipeline_error_ = false;
  bool encrypted_ = false;
  bool closed_ = false;
};

/// The message type as it appears on the wire, for messages about a message.
std::string type_name(uint8_t type);

}  // namespace tcpdp::pg

/// The decoder of one MySQL/MariaDB connection, in three layers kept in their own files:
/// mysql_framing.cc is its side of each direction's Framer (packet headers, 16 MB payloads
/// joined, the compressed protocol under it, what a boundary after a gap looks like);
/// mysql_commands.cc reads what the client sends (handshake response, commands, their arguments and
/// parameters); mysql_answers.cc reads the server (greeting, authentication, answers) and completes
/// each command's record. This file's .cc holds what they share.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "dumpers/framer.h"
#include "dumpers/lru_table.h"
#include "dumpers/mysql/mysql_charset.h"
#include "dumpers/mysql/mysql_dumper.h"
#include "dumpers/mysql/mysql_protocol.h"
#include "dumpers/mysql/mysql_wire.h"
#include "dumpers/request_queue.h"

namespace tcpdp::mysql {

class MysqlDecoder : public Decoder {
 public:
  MysqlDecoder(const ConnInfo& conn, RecordSink& sink, const MysqlOptions& options);

  void on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) override;
  void on_gap(Direction dir, Timestamp ts, uint64_t missed) override;
  void describe(Record& r) const override;
  void on_close(Timestamp ts, CloseReason reason) override;
  DecoderState state() const override {
    return decoder_state_of(client_.framer.state(), server_.framer.state(), encrypted_, closed_);
  }

 private:
  enum class Phase { kGreeting, kHandshakeResponse, kAuth, kCommand };
  enum class Resp {
    kFirst,
    kColumnDefs,
    kColumnsEof,
    kRows,
    kFieldList,
    kPrepParams,
    kPrepParamsEof,
    kPrepCols,
    kPrepColsEof
  };

  // One direction: its framer, and the decoder's side of the framing (mysql_framing.cc): the
  // compressed protocol's packets under it, payloads of 16 MB or more joined over it.
  struct Side : Framer::Protocol {
    Side(MysqlDecoder& decoder, Direction dir, Framer::State state)
        : decoder(decoder), dir(dir), framer(state) {}
    size_t header_size() const override { return 4; }
    Framer::Verdict on_header(std::span<const uint8_t> header) override;
    void on_message(std::span<const uint8_t> header, std::span<const uint8_t> body) override;
    const BoundaryRules& boundaries() const override;
    void on_resync(uint64_t skipped, Timestamp ts) override;

    MysqlDecoder& decoder;
    Direction dir;
    Framer framer;
    bool compressed = false;
    bool heard = false;     // any byte of this direction seen
    std::string zbuf;       // a compressed packet being gathered
    std::string joined;     // the parts of a payload of 16 MB or more
    uint8_t first_seq = 0;  // the sequence number of the first piece of a joined payload
    Timestamp msg_ts;       // of the payload (its first piece)
    int error_records = 0;
  };

  // A command waiting for its answer; RequestQueue adds its record and done flag.
  struct RequestState {
    Timestamp start;
    uint8_t command = 0;  // 0 for the handshake
    bool has_outcome = false;
    uint64_t rows = 0;
    bool have_rows = false;
    uint64_t affected_rows = 0;
    uint64_t last_insert_id = 0;
    bool have_ok = false;
    uint32_t warnings = 0;
    uint32_t result_sets = 0;
    bool has_error = false;
    uint16_t error_code = 0;
    std::string sql_state;
    std::string error_message;
    std::string new_database;     // COM_INIT_DB, COM_CHANGE_USER: the session's on success
    std::string new_username;     // COM_CHANGE_USER
    std::string new_charset;      // SET NAMES, COM_CHANGE_USER
    bool resets_session = false;  // COM_CHANGE_USER, COM_RESET_CONNECTION
    uint32_t stmt_id = 0;
    uint16_t param_count = 0;
    bool prepared = false;
    std::string prepare_query;
    std::string local_infile;
    uint64_t local_infile_bytes = 0;
  };
  using Request = RequestQueue<RequestState>::Request;

  struct LongData {
    std::string bytes;   // the first kMaxLongData bytes, in the order the chunks came
    uint64_t total = 0;  // every chunk's bytes
  };

  struct Statement {
    std::string query;
    uint16_t params = 0;
    // From the last execute that sent types: type byte | unsigned flag << 8, and with query
    // attributes each value's name. There may be more than `params`: the rest are attributes.
    std::vector<uint16_t> types;
    std::vector<std::string> names;
    std::map<uint16_t, LongData> long_data;
  };

  // Values of the binary protocol with their types, as COM_STMT_EXECUTE and COM_QUERY with query
  // attributes send them.
  struct Values {
    std::span<const uint8_t> nulls;
    const std::vector<uint16_t>* types = nullptr;
    const std::vector<std::string>* names = nullptr;
  };

  Side& side(Direction d) { return d == Direction::kClientToServer ? client_ : server_; }

  // mysql_framing.cc
  void feed_compressed(Side& s, Timestamp ts, std::span<const uint8_t> data);
  void lose(Side& s);
  void skipped(Direction dir, Timestamp ts, uint64_t bytes, const char* why);
  void unfinished(Side& s, Timestamp ts);
  void first_client_bytes();
  void go_silent();

  // mysql_decoder.cc
  void feed_side(Side& s, Timestamp ts, std::span<const uint8_t> bytes);
  const GroupRef& session_fields(Direction dir) const;
  Record session(std::string_view database) const;
  Record record(RecordKind kind, Direction dir, Timestamp ts) const;
  std::string text(std::span<const uint8_t> bytes) const;
  void add_value(Record& r, std::string_view key, std::span<const uint8_t> bytes) const;
  void decode_error(Side& s, Direction dir, Timestamp ts, const std::string& what);
  void emit_now(Record r);
  Request& add_request(uint8_t command, uint8_t seq, bool waits, std::string_view database = {});
  void complete(Request& r, Timestamp ts);
  void flush_done();
  void suspend_pairing();
  Request* waiting() { return pending_.waiting(); }

  // mysql_commands.cc
  void packet(Direction dir, uint8_t seq, std::span<const uint8_t> payload);
  void client_packet(uint8_t seq, std::span<const uint8_t> payload);
  void handshake_response(uint8_t seq, std::span<const uint8_t> payload);
  void command(uint8_t seq, std::span<const uint8_t> payload);
  void query(Request& q, Reader& r);
  void change_user(Request& q, Reader& r);
  void send_long_data(Request& q, Reader& r);
  void execute(Request& q, Reader& r);
  bool read_types(Reader& r, uint64_t count, std::vector<uint16_t>& types,
                  std::vector<std::string>& names, bool with_names);
  bool read_values(Request& q, Reader& r, const Values& in, Statement* st);
  bool query_attributes() const { return client_caps_ & server_caps_ & cap::kQueryAttributes; }

  // mysql_answers.cc
  void server_packet(uint8_t seq, std::span<const uint8_t> payload);
  void greeting(std::span<const uint8_t> payload);
  void authentication(std::span<const uint8_t> payload, Timestamp ts);
  bool auth_step(Request& q, std::span<const uint8_t> payload);
  void login_outcome(std::span<const uint8_t> payload, Timestamp ts);
  void note_error(Request& q, std::span<const uint8_t> payload);
  void add_error(Record& rec, std::span<const uint8_t> payload);
  uint16_t note_ok(Request& q, std::span<const uint8_t> payload);
  bool is_eof(std::span<const uint8_t> payload) const {
    return payload[0] == 0xFE && payload.size() < 9;
  }
  void end_of_result(Request& q, uint16_t status, Timestamp ts);
  void apply_session(const Request& q);
  void response(Request& q, std::span<const uint8_t> payload, Timestamp ts);

  ConnInfo conn_;
  MysqlOptions options_;
  Side client_;
  Side server_;
  std::string early_;  // what the client said before the server's greeting, until judged
  Timestamp early_ts_;
  Phase phase_ = Phase::kGreeting;
  Resp resp_ = Resp::kFirst;
  uint64_t columns_left_ = 0;
  uint16_t prep_params_ = 0;
  uint16_t prep_columns_ = 0;
  RequestQueue<RequestState> pending_;        // commands in order; written once done
  LruTable<uint32_t, Statement> statements_;  // by id, the longest unused leaving first
  std::string username_, database_;
  mutable GroupRef session_[2];  // record() makes them from the two above
  Record values_;                // parameters, while they are decoded
  Record attributes_;            // query attributes, while they are decoded
  std::vector<uint16_t> attr_types_;
  std::vector<std::string> attr_names_;
  Charset charset_{"utf8mb4", nullptr};
  std::string server_version_;
  uint32_t connection_id_ = 0;
  std::string auth_plugin_;
  uint32_t server_caps_ = 0;
  uint32_t client_caps_ = 0;
  uint32_t server_ext_caps_ = 0;
  uint32_t client_ext_caps_ = 0;
  bool compress_ = false;
  Request* handshake_ = nullptr;
  bool pairing_ = true;
  bool encrypted_ = false;
  bool closed_ = false;
  enum class Known { kUnknown, kYes, kNo };
  Known midstream_attributes_ = Known::kUnknown;  // query attributes, handshake unseen
};

}  // namespace tcpdp::mysql

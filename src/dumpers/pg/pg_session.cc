#include <string>

#include "dumpers/pg/pg_decoder.h"
#include "dumpers/pg/pg_wire.h"

namespace tcpdp::pg {
namespace {

std::string version_text(int32_t version) {
  return std::to_string(version >> 16) + "." + std::to_string(version & 0xFFFF);
}

}  // namespace

void PgDecoder::client_startup(std::span<const uint8_t> body) {
  ByteReader r(body);
  int32_t code = 0;
  r.i32(code);
  if (code == kSslRequestCode || code == kGssEncRequestCode) {
    add_request(0, code == kSslRequestCode ? "SSLRequest" : "GSSENCRequest", Wait::kSslAnswer);
    encryption_request_ = code;
    server_.phase = Phase::kSslAnswer;
    return;
  }
  if (code == kCancelRequestCode) {
    Request& q = add_request(0, "CancelRequest", Wait::kNone);
    int32_t pid;
    if (r.i32(pid)) q.rec.add("backend_pid", pid);  // the secret key that follows is not logged
    go_silent();
    return;
  }
  if ((code >> 16) != 3) {
    decode_error(client_, Direction::kClientToServer, client_.msg_ts(),
                 "startup packet with unsupported protocol version " + version_text(code));
    go_silent();
    return;
  }
  StartupParams params;
  if (!parse_startup_params(r.rest(), params)) {
    lose_sync(client_, "malformed startup message");
    return;
  }
  for (const auto& [name, value] : params.params) {
    if (name == "user") username_ = value;
    if (name == "database") database_ = value;
    if (name == "application_name") application_name_ = value;
  }
  if (database_.empty()) database_ = username_;  // the server's default
  session_[0] = session_[1] = nullptr;
  Request& q = add_request(0, "StartupMessage", Wait::kReady);
  q.rec.add("protocol_version", version_text(code));
  q.rec.begin_object("parameters");
  for (const auto& [name, value] : params.params) q.rec.add(name, value);
  q.rec.end();
  startup_ = &q;
  client_.phase = Phase::kTyped;
}

void PgDecoder::on_ssl_answer(uint8_t answer, Timestamp ts) {
  server_.phase = Phase::kTyped;
  Request* q = waiting();
  if (q && q->wait != Wait::kSslAnswer) q = nullptr;
  const bool gssapi = encryption_request_ != kSslRequestCode;
  const bool accepted = gssapi ? answer == 'G' : answer == 'S';
  if (q) {
    q->rec.add("ssl_response", std::string(1, static_cast<char>(answer)));
    complete(*q, ts);
  }
  if (accepted) {
    Record r = record(RecordKind::kEncrypted, Direction::kServerToClient, ts);
    fill_encrypted(r, "pg", gssapi ? Negotiation::kGssencRequest : Negotiation::kSslRequest);
    emit_now(std::move(r));
    encrypted_ = true;
    go_silent();
    return;
  }
  // 'N': the client goes on with a plain startup message. Anything else is not PostgreSQL.
  client_.phase = Phase::kStartup;
  if (answer != 'N') go_silent();
}

// A TLS ClientHello where a startup packet belongs (direct SSL negotiation): say so once.
void PgDecoder::encrypted(Timestamp ts) {
  Record r = record(RecordKind::kEncrypted, Direction::kClientToServer, ts);
  fill_encrypted(r, "pg", Negotiation::kDirect);
  emit_now(std::move(r));
  encrypted_ = true;
  go_silent();
}

void PgDecoder::go_silent() {
  client_.framer.silence();
  server_.framer.silence();
}

// What the server says about the session while it starts. Authentication is followed all along;
// the rest belongs to the StartupMessage's record, which stays open until the first ReadyForQuery.
void PgDecoder::session_message(uint8_t type, std::span<const uint8_t> body) {
  if (type == 'R') return authentication(body);
  if (!startup_ || !pairing_) return;
  ByteReader r(body);
  switch (type) {
    case 'K': {
      int32_t pid = 0;
      r.i32(pid);
      startup_->rec.add("backend_pid", pid);  // the secret key that follows is never logged
      return;
    }
    case 'S': {
      std::string_view name, value;
      r.cstring(name);
      r.cstring(value);
      if (name == "server_version") startup_->rec.add("server_version", value);
      return;
    }
    case 'v': {
      NegotiateMsg m;
      parse_negotiate(body, m);  // whole: server_message checked it
      startup_->rec.add("negotiated_protocol_version", version_text(m.version));
      startup_->rec.begin_array("unrecognized_options");
      for (std::string_view option : m.unrecognized_options) startup_->rec.add({}, option);
      startup_->rec.end();
      return;
    }
    default:
      return;
  }
}

void PgDecoder::authentication(std::span<const uint8_t> body) {
  ByteReader r(body);
  int32_t code;
  if (!r.i32(code)) return;
  switch (code) {
    case 0:
      if (auth_method_.empty()) auth_method_ = "none";
      if (startup_ && pairing_) startup_->rec.add("auth_method", auth_method_);
      return;
    case 2:
      auth_method_ = "kerberos5";
      return;
    case 3:
      auth_method_ = "password";
      return;
    case 5:
      auth_method_ = "md5";
      return;
    case 7:
      auth_method_ = "gss";
      return;
    case 9:
      auth_method_ = "sspi";
      return;
    case 10: {
      auth_method_ = "SASL";
      std::string_view mechanism;
      std::string list;
      while (r.cstring(mechanism) && !mechanism.empty())
        list += (list.empty() ? " " : ",") + std::string(mechanism);
      auth_method_ += list;
      return;
    }
    default:
      return;  // GSS/SASL continuation steps
  }
}

}  // namespace tcpdp::pg

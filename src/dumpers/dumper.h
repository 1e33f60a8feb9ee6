/// The dumper interface. A Dumper is a factory of per-connection Decoders; a Decoder is fed each
/// direction's bytes in order, exactly once, with gaps where the capture missed bytes, and emits
/// Records. The same decoder serves read, probe and proxy: it never knows which fed it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/conn.h"
#include "common/record.h"
#include "common/timestamp.h"
#include "dumpers/framer.h"
#include "records/catalogue.h"

namespace tcpdp {

enum class CloseReason : uint8_t {
  kFin,           // both sides closed normally
  kReset,         // an RST ended it
  kIdle,          // nothing seen for the idle timeout
  kEndOfCapture,  // the capture ended while it was open
  kEvicted,       // dropped to keep the connection table within its bound
  kReused,        // a new SYN on its ports, with another sequence number, began a new one
};

const char* close_reason_name(CloseReason r);

/// Where a protocol decoder stands with its connection; it can be asked at any time.
enum class DecoderState : uint8_t {
  kInSync,           // each direction at a message boundary, or in a message whose header it read
  kResynchronising,  // a direction lost its place (bad bytes, a gap, a pickup mid-way) and is
                     // looking for the next message boundary
  kEncrypted,        // TLS or GSSAPI encryption began: nothing more is decoded
  kStopped,          // nothing more is decoded for another reason (not the protocol, a version
                     // it cannot read, a connection that only cancels a query)
  kClosed,           // on_close came
};

const char* decoder_state_name(DecoderState s);

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) = 0;
  /// `missed` bytes of this direction were never seen; what follows is after them. A decoder
  /// that writes records writes gap_record() here, after the records of what came before.
  virtual void on_gap(Direction dir, Timestamp ts, uint64_t missed) = 0;
  virtual void on_close(Timestamp ts, CloseReason reason) = 0;
  /// What the decoder learned about the session that belongs in the connection's summary
  /// (`username`, `database`, `decoder_state`), added to r. Called once, before on_close.
  virtual void describe(Record&) const {}
  /// A decoder that follows no protocol (hex) is always in sync.
  virtual DecoderState state() const { return DecoderState::kInSync; }
};

/// The state of a protocol decoder made of two directions' framers (pg, mysql), given what only
/// the decoder knows: whether encryption began, whether it was closed.
DecoderState decoder_state_of(Framer::State client, Framer::State server, bool encrypted,
                              bool closed);

class Dumper {
 public:
  virtual ~Dumper() = default;
  virtual std::unique_ptr<Decoder> open(const ConnInfo& conn, Timestamp ts) = 0;
  /// False for dumpers that never look at payload, so reassembly can skip copying it.
  virtual bool wants_data() const { return true; }
};

/// The fields the records of one kind (`event`) and one direction of a connection start with
/// after ts: event, conn_id, src_addr, dst_addr (through the proxy: client_addr,
/// proxy_listen_addr, proxy_client_addr, remote_addr), direction (and the addresses of its
/// PROXY protocol header when it had one), then `extra` (a dumper's session fields): one group,
/// made once and shared by all the records that carry it, written as text made once.
GroupRef connection_fields(RecordKind kind, const ConnInfo& conn, Direction dir,
                           const Record& extra = {});
/// Empties r (keeping its room) and starts it with ts and a group made by connection_fields.
void start_record(Record& r, const GroupRef& fields, Timestamp ts);
/// A record that starts with ts and a group made by connection_fields.
Record base_record(const GroupRef& fields, Timestamp ts);
/// The record of `missed` bytes of one direction that the capture never saw (`gap_bytes`).
Record gap_record(const ConnInfo& conn, Direction dir, Timestamp ts, uint64_t missed);

/// How a connection of a SQL protocol came to be encrypted.
enum class Negotiation : uint8_t {
  kSslRequest,     // the client asked for TLS (pg: the server answered S; mysql: at once)
  kGssencRequest,  // pg: the client asked for GSSAPI encryption, the server answered G
  kDirect,         // a TLS handshake where the protocol's first message belongs
};

/// The TLS notice, one record of kind `encrypted` (made by the decoder with its connection's
/// fields, in the direction of the message that began the encryption): which protocol, how it
/// was negotiated, which encryption. After it the decoder decodes nothing more of the
/// connection.
void fill_encrypted(Record& r, std::string_view protocol, Negotiation how);

/// What the protocol dumpers let a user choose.
struct DumperOptions {
  bool pair_responses = true;  // add the server's answer to each client message's record
};

/// The names `-d` accepts; `auto` picks by the server port: 5432 pg, 3306 and 33060 mysql, else
/// hex.
const std::vector<std::string>& dumper_names();
/// The same names joined by ", ", for help texts and messages.
std::string dumper_names_text();
/// A dumper writing to sink, or nullptr for an unknown name.
std::unique_ptr<Dumper> make_dumper(std::string_view name, RecordSink& sink,
                                    const DumperOptions& options = {});

}  // namespace tcpdp

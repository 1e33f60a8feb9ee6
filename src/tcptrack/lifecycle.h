/// The life of one TCP connection as the packets show it: both endpoints' TCP states (the
/// kernel's state machine, RFC 9293 section 3.3.2, inferred from what each side sent and what
/// reached it), and the counters of its summary (modelled on Zeek's conn.log).
///
/// A transition caused by sending (SYN, SYN-ACK, FIN, RST) happens at the capture time of the
/// packet sent. One caused by receiving a SYN-ACK, an ACK or an RST happens at the capture time
/// of the packet received. Receiving a FIN is taken to have happened when the receiver
/// acknowledges it, or when the FIN's sender later resets or acknowledges the receiver's own FIN
/// (segments arrive in order, so the FIN got there first): until then the receiver may still be
/// sending in its earlier state, which is how a simultaneous close (both FINs in flight at once,
/// CLOSING) is told from an ordinary one. A FIN that nothing acknowledges before the connection
/// is summed up is taken as received then.
///
/// A side first heard from without its SYN starts in the pseudo-state UNKNOWN (the whole
/// connection when its first packet is not the client's SYN) and is synchronized from its first
/// packet: SYN-RECV if that answers a SYN, CLOSED if it is a reset, else ESTABLISHED.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/conn.h"
#include "common/record.h"
#include "common/timestamp.h"
#include "packet/segment.h"

namespace tcpdp {

enum class TcpState : uint8_t {
  kUnknown,  // a connection picked up mid-way, before its first packet
  kClosed,
  kSynSent,
  kSynRecv,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};

/// As tcp-audit writes them: CLOSED, SYN-SENT, ..., TIME-WAIT; UNKNOWN for the pseudo-state.
const char* tcp_state_name(TcpState s);

struct StateChange {
  Timestamp ts;
  Direction side;  // kClientToServer: the client's state machine moved; else the server's
  TcpState from;
  TcpState to;
};

class ConnLifecycle {
 public:
  /// `mid_stream`: the client's SYN was not seen; both sides begin UNKNOWN.
  ConnLifecycle(Timestamp first_seen, bool mid_stream);

  /// A segment `from` one side (kClientToServer: sent by the client). State changes it causes
  /// are appended to `changes`, in the order they happened.
  void on_segment(const TcpSegment& seg, Direction from, std::vector<StateChange>& changes);
  /// The capture stops following the connection at `ts`: FINs nobody acknowledged are taken as
  /// received.
  void finish(Timestamp ts, std::vector<StateChange>& changes);

  /// Bytes of one direction's stream the capture never saw (reported by reassembly).
  void add_missed(Direction dir, uint64_t bytes);
  /// Stream bytes of one direction (delivered plus missed, each byte once).
  void set_stream_bytes(Direction dir, uint64_t bytes);

  TcpState state(Direction side) const { return side_[index(side)].state; }
  /// Zeek's conn_state: S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR or OTH.
  const char* conn_state() const;
  /// Zeek's history letters, the client's in upper case, the server's in lower case.
  const std::string& history() const { return history_; }
  /// Who sent the first FIN or RST ("client" or "server"), or nullptr when neither did.
  const char* closed_by() const;

  /// The summary's counters, added to r after the connection's identity.
  void add_summary(Record& r) const;

 private:
  // What an endpoint has sent, for conn_state (Zeek's endpoint states).
  enum class Sent : uint8_t { kNothing, kSyn, kSynAck, kPartial, kEstablished, kFin, kRst };

  struct Side {
    TcpState state = TcpState::kClosed;
    Sent sent = Sent::kNothing;
    bool syn_seen = false;  // a SYN or SYN-ACK
    bool sent_syn = false;  // a SYN without ACK: it opened the connection
    uint32_t isn = 0;
    bool fin_seen = false;
    uint32_t fin_seq = 0;  // the sequence number the FIN takes
    bool fin_acked = false;
    bool fin_received = false;  // the peer acknowledged (or is taken to have received) the FIN
    bool seq_known = false;
    uint32_t max_end = 0;  // highest sequence number past payload sent so far
    uint64_t packets = 0;
    uint64_t ip_bytes = 0;
    uint64_t stream_bytes = 0;
    uint64_t missed = 0;
    uint64_t retransmits = 0;
    uint64_t zero_windows = 0;
    uint64_t gaps = 0;
    std::string letters;  // history letters already written (the once-only ones)
  };

  static size_t index(Direction d) { return d == Direction::kClientToServer ? 0 : 1; }
  void move(Direction side, TcpState to, Timestamp ts, std::vector<StateChange>& changes);
  void receive_fin(Direction side, Timestamp ts, std::vector<StateChange>& changes);
  void ack_received(Direction side, uint32_t ack, Timestamp ts, std::vector<StateChange>& changes);
  void note(Direction dir, char letter);
  void note_counted(Direction dir, char letter, uint64_t count);
  bool syn_then_reset() const;

  Side side_[2];
  Timestamp first_;
  Timestamp last_;
  bool mid_stream_;
  bool handshake_done_ = false;
  Timestamp syn_ts_;
  int64_t handshake_rtt_usec_ = -1;
  int closer_ = -1;  // index of the side that sent the first FIN or RST
  std::string history_;
};

}  // namespace tcpdp

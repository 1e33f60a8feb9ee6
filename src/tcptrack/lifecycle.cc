#include "tcptrack/lifecycle.h"

#include <algorithm>
#include <string_view>

namespace tcpdp {

namespace {

// RFC 1982 serial number arithmetic on 32-bit sequence numbers.
bool seq_before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
bool seq_at_or_after(uint32_t a, uint32_t b) { return !seq_before(a, b); }

Direction other(Direction d) {
  return d == Direction::kClientToServer ? Direction::kServerToClient : Direction::kClientToServer;
}

}  // namespace

const char* tcp_state_name(TcpState s) {
  switch (s) {
    case TcpState::kUnknown:
      return "UNKNOWN";
    case TcpState::kClosed:
      return "CLOSED";
    case TcpState::kSynSent:
      return "SYN-SENT";
    case TcpState::kSynRecv:
      return "SYN-RECV";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kFinWait1:
      return "FIN-WAIT-1";
    case TcpState::kFinWait2:
      return "FIN-WAIT-2";
    case TcpState::kCloseWait:
      return "CLOSE-WAIT";
    case TcpState::kClosing:
      return "CLOSING";
    case TcpState::kLastAck:
      return "LAST-ACK";
    case TcpState::kTimeWait:
      return "TIME-WAIT";
  }
  return "?";
}

ConnLifecycle::ConnLifecycle(Timestamp first_seen, bool mid_stream)
    : first_(first_seen), last_(first_seen), mid_stream_(mid_stream) {
  if (mid_stream) side_[0].state = side_[1].state = TcpState::kUnknown;
}

void ConnLifecycle::move(Direction side, TcpState to, Timestamp ts,
                         std::vector<StateChange>& changes) {
  Side& s = side_[index(side)];
  if (s.state == to) return;
  changes.push_back({ts, side, s.state, to});
  s.state = to;
}

// `side` receives its peer's FIN.
void ConnLifecycle::receive_fin(Direction side, Timestamp ts, std::vector<StateChange>& changes) {
  side_[index(other(side))].fin_received = true;
  switch (state(side)) {
    case TcpState::kEstablished:
    case TcpState::kSynRecv:
      move(side, TcpState::kCloseWait, ts, changes);
      break;
    case TcpState::kFinWait1:  // its own FIN is not acknowledged yet: both FINs crossed
      move(side, TcpState::kClosing, ts, changes);
      break;
    case TcpState::kFinWait2:
      move(side, TcpState::kTimeWait, ts, changes);
      break;
    default:
      break;
  }
}

// `side` receives an acknowledgment of everything before `ack`.
void ConnLifecycle::ack_received(Direction side, uint32_t ack, Timestamp ts,
                                 std::vector<StateChange>& changes) {
  Side& s = side_[index(side)];
  if (s.state == TcpState::kSynRecv && s.syn_seen && seq_at_or_after(ack, s.isn + 1)) {
    move(side, TcpState::kEstablished, ts, changes);
  }
  if (!s.fin_seen || s.fin_acked || !seq_at_or_after(ack, s.fin_seq + 1)) return;
  s.fin_acked = true;
  switch (s.state) {
    case TcpState::kFinWait1:
      move(side, TcpState::kFinWait2, ts, changes);
      break;
    case TcpState::kClosing:
      move(side, TcpState::kTimeWait, ts, changes);
      break;
    case TcpState::kLastAck:
      move(side, TcpState::kClosed, ts, changes);
      break;
    default:
      break;
  }
}

void ConnLifecycle::note(Direction dir, char letter) {
  Side& s = side_[index(dir)];
  if (s.letters.find(letter) != std::string::npos) return;
  s.letters += letter;
  history_ += dir == Direction::kClientToServer ? letter : static_cast<char>(letter + ('a' - 'A'));
}

// Letters for repeated happenings go in at the 1st, 10th, 100th, ... time, as Zeek does.
void ConnLifecycle::note_counted(Direction dir, char letter, uint64_t count) {
  uint64_t mark = 1;
  while (mark < count) mark *= 10;
  if (mark == count) {
    history_ += dir == Direction::kClientToServer ? letter : static_cast<char>(letter + ('a' - 'A'));
  }
}

void ConnLifecycle::on_segment(const TcpSegment& seg, Direction from,
                               std::vector<StateChange>& changes) {
  const Direction to = other(from);
  Side& snd = side_[index(from)];
  Side& rcv = side_[index(to)];
  const bool syn = seg.has(tcp_flag::kSyn);
  const bool ack = seg.has(tcp_flag::kAck);
  const bool fin = seg.has(tcp_flag::kFin);
  const bool rst = seg.has(tcp_flag::kRst);
  const uint64_t len = seg.payload_length();
  const Timestamp ts = seg.ts;
  last_ = std::max(last_, ts);
  ++snd.packets;
  snd.ip_bytes += seg.ip_bytes;

  // History, in the order things are first seen.
  if (syn && (fin || rst)) note(from, 'Q');
  if (syn) note(from, ack ? 'H' : 'S');
  if (ack && !syn && !fin && !rst && len == 0) note(from, 'A');
  if (len > 0) note(from, 'D');
  if (fin) note(from, 'F');
  if (rst) note(from, 'R');
  if (seg.window == 0 && !syn && !rst) note_counted(from, 'W', ++snd.zero_windows);
  if (len > 0) {
    const uint32_t start = syn ? seg.seq + 1 : seg.seq;
    const uint32_t end = start + static_cast<uint32_t>(len);
    if (snd.seq_known && !seq_before(snd.max_end, end)) {
      note_counted(from, 'T', ++snd.retransmits);  // nothing in it was new
    } else {
      snd.max_end = end;
      snd.seq_known = true;
    }
  }

  // A side first heard from mid-way was synchronized already (answering a SYN it was), unless
  // it only resets.
  if (snd.state == TcpState::kUnknown) {
    const TcpState now = rst                ? TcpState::kClosed
                         : (syn && ack)     ? TcpState::kSynRecv
                                            : TcpState::kEstablished;
    move(from, now, ts, changes);
  }
  // A client that acknowledges anything but a SYN has had the SYN-ACK, seen or not.
  if (snd.state == TcpState::kSynSent && ack && !syn && !rst) {
    move(from, TcpState::kEstablished, ts, changes);
  }

  // The sender had received the receiver's FIN if it acknowledges it; until then it sends in
  // its earlier state.
  if (ack && rcv.fin_seen && !rcv.fin_received && seq_at_or_after(seg.ack, rcv.fin_seq + 1)) {
    receive_fin(from, ts, changes);
  }

  // What sending this packet does to the sender.
  if (rst) {
    if (closer_ < 0) closer_ = static_cast<int>(index(from));
    // After both FINs the connection was closed in order; a late RST does not change that.
    if (!(snd.sent == Sent::kFin && rcv.sent == Sent::kFin)) snd.sent = Sent::kRst;
    move(from, TcpState::kClosed, ts, changes);
  } else {
    if (syn && !ack) {
      if (snd.sent == Sent::kNothing) snd.sent = Sent::kSyn;
      if (!snd.sent_syn) syn_ts_ = ts;
      snd.sent_syn = true;
      snd.syn_seen = true;
      snd.isn = seg.seq;
      if (snd.state == TcpState::kClosed) move(from, TcpState::kSynSent, ts, changes);
    } else if (syn) {
      if (snd.sent == Sent::kNothing) snd.sent = Sent::kSynAck;
      if (rcv.sent == Sent::kSyn) {  // the SYN answered: both established, as Zeek counts it
        snd.sent = Sent::kEstablished;
        rcv.sent = Sent::kEstablished;
      }
      snd.syn_seen = true;
      snd.isn = seg.seq;
      if (snd.state == TcpState::kClosed) move(from, TcpState::kSynRecv, ts, changes);
    } else if (snd.sent == Sent::kNothing) {
      snd.sent = Sent::kPartial;
    }
    if (fin) {
      if (closer_ < 0) closer_ = static_cast<int>(index(from));
      if (snd.sent != Sent::kRst) snd.sent = Sent::kFin;
      if (!snd.fin_seen) {
        snd.fin_seen = true;
        snd.fin_seq = (syn ? seg.seq + 1 : seg.seq) + static_cast<uint32_t>(len);
      }
      switch (snd.state) {
        case TcpState::kEstablished:
        case TcpState::kSynRecv:
          move(from, TcpState::kFinWait1, ts, changes);
          break;
        case TcpState::kCloseWait:
          move(from, TcpState::kLastAck, ts, changes);
          break;
        default:
          break;
      }
    }
  }

  // What receiving it does to the other side. Segments arrive in order: when the sender, after
  // its FIN, resets or acknowledges the receiver's own FIN, its FIN has reached the receiver
  // before this packet (with crossing FINs, before the receiver's FIN was acknowledged).
  const bool carries_fin = fin && (syn ? seg.seq + 1 : seg.seq) + len == snd.fin_seq;
  if (snd.fin_seen && !snd.fin_received && !carries_fin &&
      (rst || (ack && rcv.fin_seen && seq_at_or_after(seg.ack, rcv.fin_seq + 1)))) {
    receive_fin(to, ts, changes);
  }
  if (rcv.state == TcpState::kUnknown) return;
  if (rst) {
    move(to, TcpState::kClosed, ts, changes);
    return;
  }
  if (syn && ack && rcv.state == TcpState::kSynSent) move(to, TcpState::kEstablished, ts, changes);
  if (ack) ack_received(to, seg.ack, ts, changes);
  if (ack && !handshake_done_ && snd.syn_seen && rcv.syn_seen && !syn &&
      seq_at_or_after(seg.ack, rcv.isn + 1)) {
    handshake_done_ = true;
    if (from == Direction::kClientToServer && side_[0].sent_syn) {
      handshake_rtt_usec_ = ts.usec - syn_ts_.usec;
    }
  }
}

void ConnLifecycle::finish(Timestamp, std::vector<StateChange>& changes) {
  for (Direction d : {Direction::kClientToServer, Direction::kServerToClient}) {
    const Side& s = side_[index(d)];
    if (s.fin_seen && !s.fin_received) receive_fin(other(d), last_, changes);
  }
}

void ConnLifecycle::add_missed(Direction dir, uint64_t bytes) {
  Side& s = side_[index(dir)];
  s.missed += bytes;
  note_counted(dir, 'G', ++s.gaps);
}

void ConnLifecycle::set_stream_bytes(Direction dir, uint64_t bytes) {
  side_[index(dir)].stream_bytes = bytes;
}

const char* ConnLifecycle::conn_state() const {
  const Sent o = side_[0].sent;
  const Sent r = side_[1].sent;
  const auto inactive = [](Sent s) { return s == Sent::kNothing || s == Sent::kPartial; };
  if (r == Sent::kRst) {
    const bool no_data = side_[0].stream_bytes == 0 && side_[1].stream_bytes == 0;
    if (o == Sent::kSyn || o == Sent::kSynAck || (o == Sent::kRst && no_data)) return "REJ";
    return inactive(o) ? "RSTRH" : "RSTR";
  }
  if (o == Sent::kRst) {
    if (!inactive(r)) return "RSTO";
    return syn_then_reset() ? "RSTOS0" : "OTH";
  }
  if (o == Sent::kFin && r == Sent::kFin) return "SF";
  if (o == Sent::kFin) return inactive(r) ? "SH" : "S2";
  if (r == Sent::kFin) return inactive(o) ? "SHR" : "S3";
  if (o == Sent::kSyn && r == Sent::kNothing) return "S0";
  if (o == Sent::kEstablished && r == Sent::kEstablished) return "S1";
  return "OTH";
}

// The client's SYN, then its RST, with nothing else from it between (Zeek: ^?S[^HAFGIQ]*R).
bool ConnLifecycle::syn_then_reset() const {
  if (history_.empty() || history_[0] != 'S') return false;
  for (char c : history_.substr(1)) {
    if (c == 'R') return true;
    if (std::string_view("HAFGIQ").find(c) != std::string_view::npos) return false;
  }
  return false;
}

const char* ConnLifecycle::closed_by() const {
  if (closer_ < 0) return nullptr;
  return closer_ == 0 ? "client" : "server";
}

void ConnLifecycle::add_summary(Record& r) const {
  const Side& c = side_[0];
  const Side& s = side_[1];
  r.add("duration", Duration{last_.usec - first_.usec});
  r.add("conn_state", conn_state());
  r.add("history", history_);
  r.add("client_state", tcp_state_name(c.state));
  r.add("server_state", tcp_state_name(s.state));
  if (const char* by = closed_by()) {
    r.add("closed_by", by);
  } else {
    r.add("closed_by", nullptr);
  }
  r.add("mid_stream", mid_stream_);
  r.add("client_bytes", c.stream_bytes);
  r.add("server_bytes", s.stream_bytes);
  r.add("client_packets", c.packets);
  r.add("server_packets", s.packets);
  r.add("client_ip_bytes", c.ip_bytes);
  r.add("server_ip_bytes", s.ip_bytes);
  r.add("missed_bytes", c.missed + s.missed);
  r.add("client_retransmits", c.retransmits);
  r.add("server_retransmits", s.retransmits);
  r.add("client_zero_windows", c.zero_windows);
  r.add("server_zero_windows", s.zero_windows);
  if (handshake_rtt_usec_ >= 0) {
    r.add("handshake_rtt", Duration{handshake_rtt_usec_});
  } else {
    r.add("handshake_rtt", nullptr);
  }
}

}  // namespace tcpdp

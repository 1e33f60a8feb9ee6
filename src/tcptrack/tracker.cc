#include "tcptrack/tracker.h"

#include <algorithm>
#include <vector>

#include "tcptrack/proxy_header_decoder.h"

namespace tcpdp {

namespace {
constexpr int64_t kSweepEveryUsec = 1000000;

size_t index_of(Direction d) { return d == Direction::kClientToServer ? 0 : 1; }
}  // namespace

class Tracker::HalfOutput : public StreamOutput {
 public:
  HalfOutput(Tracker& tracker, Connection& conn, Direction dir)
      : tracker_(tracker), conn_(conn), dir_(dir) {}
  void data(Timestamp ts, std::span<const uint8_t> bytes) override;
  void gap(Timestamp ts, uint64_t missed) override;

 private:
  Tracker& tracker_;
  Connection& conn_;
  Direction dir_;
};

struct Tracker::Connection {
  Connection(const ReassemblyLimits& limits, bool keep_data)
      : halves{Reassembler(keep_data, limits), Reassembler(keep_data, limits)} {}

  ConnInfo info;
  ConnKey key;
  uint32_t counter = 0;
  std::unique_ptr<Decoder> decoder;
  Reassembler halves[2];
  bool closed = false;
  CloseReason close_reason = CloseReason::kEndOfCapture;
  Timestamp last_seen;
  std::list<Connection*>::iterator lru_pos;
  // With a connection log:
  std::unique_ptr<ConnLifecycle> life;
  GroupRef life_fields;  // conn_id, src_ip, src_port, dst_ip, dst_port (src: the client)
  uint32_t events = 0;   // state changes written so far
  Record session;        // what the decoder learned of the session, for the summary
  std::optional<ProcessInfo> owners[2];  // the client's and the server's, when looked up
  bool data_seen[2] = {false, false};    // each side's first data (an owner lookup) is past
};

void Tracker::HalfOutput::data(Timestamp ts, std::span<const uint8_t> bytes) {
  conn_.decoder->on_data(dir_, ts, bytes);
}

void Tracker::HalfOutput::gap(Timestamp ts, uint64_t missed) {
  ++tracker_.stats_.gaps;
  tracker_.stats_.gap_bytes += missed;
  if (conn_.life) conn_.life->add_missed(dir_, missed);
  conn_.decoder->on_gap(dir_, ts, missed);  // which writes the gap's record, in its place
}

Tracker::Tracker(Dumper& dumper, Targets targets, TrackerOptions options, RecordSink* conn_log)
    : dumper_(dumper), conn_log_(conn_log), targets_(std::move(targets)), options_(options) {}

Tracker::~Tracker() = default;

void Tracker::touch(Connection& c, Timestamp ts) {
  c.last_seen = std::max(c.last_seen, ts);
  lru_.splice(lru_.end(), lru_, c.lru_pos);
}

Tracker::Connection* Tracker::create(const TcpSegment& seg, const ConnKey& key) {
  const bool syn = seg.has(tcp_flag::kSyn);
  const bool ack = seg.has(tcp_flag::kAck);
  bool src_is_client;
  if (!targets_.empty()) {
    if (targets_.matches(seg.dst)) {
      src_is_client = true;
    } else if (targets_.matches(seg.src)) {
      src_is_client = false;
    } else {
      return nullptr;
    }
  } else if (syn) {
    src_is_client = !ack;
  } else {
    // Picked up mid-way: servers listen on the lower port far more often than not.
    src_is_client =
        seg.src.port > seg.dst.port || (seg.src.port == seg.dst.port && seg.src > seg.dst);
  }
  // A connection starts with its SYN, or with data when the start was missed; a stray ACK, FIN
  // or RST of a connection we never saw says nothing worth reporting.
  if (!syn && seg.payload_length() == 0) return nullptr;

  if (table_.size() >= options_.max_connections && !lru_.empty()) {
    Connection& victim = *lru_.front();
    if (!victim.closed) {
      ++stats_.evicted_connections;
      close(victim, seg.ts, CloseReason::kEvicted);
    }
    erase(victim);
  }

  // A PROXY protocol header is looked for in the payload even for a dumper that ignores it.
  const bool look_for_header = options_.proxy_protocol && syn;
  auto conn =
      std::make_unique<Connection>(options_.reassembly, dumper_.wants_data() || look_for_header);
  Connection& c = *conn;
  c.key = key;
  c.counter = next_counter_++;
  c.info.conn_id = make_conn_id(seg.ts, options_.source_id, c.counter);
  c.info.client = src_is_client ? seg.src : seg.dst;
  c.info.server = src_is_client ? seg.dst : seg.src;
  c.info.first_seen = seg.ts;
  c.info.mid_stream = !syn;
  c.last_seen = seg.ts;
  c.lru_pos = lru_.insert(lru_.end(), &c);
  if (conn_log_) {
    c.life = std::make_unique<ConnLifecycle>(seg.ts, !(syn && !ack));  // from the client's SYN?
    Record f;
    f.add("conn_id", c.info.conn_id);
    f.add("src_ip", c.info.client.ip.to_string());
    f.add("src_port", c.info.client.port);
    f.add("dst_ip", c.info.server.ip.to_string());
    f.add("dst_port", c.info.server.port);
    c.life_fields = std::make_shared<const FieldGroup>(std::move(f));
  }
  // Only a stream seen from its start can begin with the header.
  c.decoder = look_for_header ? std::make_unique<ProxyHeaderDecoder>(dumper_, c.info, seg.ts)
                              : dumper_.open(c.info, seg.ts);
  ++stats_.connections;
  if (!syn) ++stats_.mid_stream_connections;
  table_.emplace(key, std::move(conn));
  return &c;
}

void Tracker::close(Connection& c, Timestamp ts, CloseReason reason) {
  if (c.closed) return;
  for (Direction d : {Direction::kClientToServer, Direction::kServerToClient}) {
    HalfOutput out(*this, c, d);
    c.halves[index_of(d)].flush(ts, out);
    stats_.forced_gaps += c.halves[index_of(d)].stats().forced_gaps;
  }
  if (c.life) c.decoder->describe(c.session);
  c.decoder->on_close(ts, reason);
  c.decoder.reset();
  c.closed = true;
  c.close_reason = reason;
}

// Looks up the owners not found yet (when a side becomes established, and for the summary).
void Tracker::find_owners(Connection& c) {
  for (Direction d : {Direction::kClientToServer, Direction::kServerToClient}) {
    const size_t i = index_of(d);
    if (c.owners[i]) continue;
    const Endpoint& local = d == Direction::kClientToServer ? c.info.client : c.info.server;
    const Endpoint& remote = d == Direction::kClientToServer ? c.info.server : c.info.client;
    c.owners[i] = options_.processes->find(local, remote);
  }
}

void Tracker::log_changes(Connection& c) {
  if (options_.processes && !changes_.empty()) {
    for (const StateChange& change : changes_) {
      if (change.to == TcpState::kEstablished) find_owners(c);
    }
  }
  for (const StateChange& change : changes_) {
    Record r;
    r.add("ts", change.ts);
    r.add("event", kind_name(RecordKind::kState));
    r.add("uid", c.info.conn_id + "." + std::to_string(++c.events));
    r.add_group(c.life_fields);
    r.add("side", change.side == Direction::kClientToServer ? "client" : "server");
    r.add("old_state", tcp_state_name(change.from));
    r.add("new_state", tcp_state_name(change.to));
    conn_log_->write(r);
  }
  changes_.clear();
}

void Tracker::erase(Connection& c) {
  if (c.life) {
    c.life->finish(c.last_seen, changes_);
    log_changes(c);
    for (Direction d : {Direction::kClientToServer, Direction::kServerToClient}) {
      const ReassemblyStats& st = c.halves[index_of(d)].stats();
      c.life->set_stream_bytes(d, st.delivered_bytes + st.gap_bytes);
    }
    Record r;
    r.add("ts", c.info.first_seen);
    r.add("event", kind_name(RecordKind::kSummary));
    r.add_group(c.life_fields);
    c.life->add_summary(r);
    r.add("close_reason", close_reason_name(c.close_reason));
    if (options_.processes) {
      find_owners(c);
      for (Direction d : {Direction::kClientToServer, Direction::kServerToClient}) {
        add_process(r, d == Direction::kClientToServer, c.owners[index_of(d)]);
      }
    }
    r.append(c.session);
    conn_log_->write(r);
  }
  lru_.erase(c.lru_pos);
  table_.erase(c.key);  // destroys c
}

void Tracker::sweep(Timestamp now) {
  while (!lru_.empty()) {
    Connection& c = *lru_.front();
    const int64_t idle = now.usec - c.last_seen.usec;
    if (c.closed ? idle < options_.closed_linger_usec : idle < options_.idle_timeout_usec) break;
    if (!c.closed) {
      ++stats_.idle_closed_connections;
      close(c, now, CloseReason::kIdle);
    }
    erase(c);
  }
}

void Tracker::advance(Timestamp now) {
  if (now.usec >= next_sweep_usec_) {
    sweep(now);
    next_sweep_usec_ = now.usec + std::min(kSweepEveryUsec, options_.idle_timeout_usec);
  }
}

void Tracker::on_segment(const TcpSegment& seg) {
  ++stats_.segments;
  advance(seg.ts);
  const ConnKey key = ConnKey::of(seg.src, seg.dst);
  const bool syn = seg.has(tcp_flag::kSyn);
  const bool opening_syn = syn && !seg.has(tcp_flag::kAck);

  Connection* c = nullptr;
  if (auto it = table_.find(key); it != table_.end()) {
    c = it->second.get();
    const Reassembler& client_half = c->halves[0];
    const bool from_client = seg.src == c->info.client;
    // A new SYN on a closed connection's ports, or one with another ISN, is a new connection.
    const bool reused = opening_syn && (c->closed || (from_client && client_half.started() &&
                                                      client_half.first_seq() != seg.seq + 1));
    if (reused) {
      close(*c, seg.ts, CloseReason::kReused);  // nothing to do when it closed already
      erase(*c);
      c = nullptr;
    } else if (c->closed) {
      touch(*c, seg.ts);
      if (c->life) {  // the last ACKs come after the close
        c->life->on_segment(
            seg, from_client ? Direction::kClientToServer : Direction::kServerToClient, changes_);
        log_changes(*c);
      }
      ++stats_.ignored_segments;
      return;
    }
  }
  if (!c) {
    c = create(seg, key);
    if (!c) {
      ++stats_.ignored_segments;
      return;
    }
  }
  touch(*c, seg.ts);

  const Direction dir =
      seg.src == c->info.client ? Direction::kClientToServer : Direction::kServerToClient;
  if (c->life) {
    c->life->on_segment(seg, dir, changes_);
    // A side that sends data holds its socket: a good moment to ask who owns it.
    const size_t i = index_of(dir);
    if (options_.processes && !c->owners[i] && !c->data_seen[i] && seg.payload_length() > 0) {
      c->data_seen[i] = true;
      find_owners(*c);
    }
    log_changes(*c);
  }
  Reassembler& half = c->halves[index_of(dir)];
  Reassembler& peer = c->halves[1 - index_of(dir)];
  HalfOutput out(*this, *c, dir);
  uint32_t data_seq = seg.seq;
  if (syn) {
    data_seq = seg.seq + 1;  // the SYN takes one sequence number; data on it comes after
    if (!half.started()) half.start(data_seq);
  }
  const bool fin = seg.has(tcp_flag::kFin);
  if (seg.payload_length() > 0 || fin) {
    half.segment(seg.ts, data_seq, seg.payload, seg.missing, fin, out);
  }
  if (seg.has(tcp_flag::kAck)) {
    HalfOutput peer_out(*this, *c,
                        dir == Direction::kClientToServer ? Direction::kServerToClient
                                                          : Direction::kClientToServer);
    peer.peer_ack(seg.ts, seg.ack, peer_out);
  }
  if (seg.has(tcp_flag::kRst)) {
    close(*c, seg.ts, CloseReason::kReset);
  } else if (c->halves[0].finished() && c->halves[1].finished()) {
    close(*c, seg.ts, CloseReason::kFin);
  }
}

void Tracker::finish(Timestamp ts) {
  std::vector<Connection*> all(lru_.begin(), lru_.end());
  // In the order the connections appeared, so the output does not depend on hashing.
  std::sort(all.begin(), all.end(),
            [](const Connection* a, const Connection* b) { return a->counter < b->counter; });
  for (Connection* c : all) close(*c, ts, CloseReason::kEndOfCapture);
  for (Connection* c : all) erase(*c);
}

}  // namespace tcpdp

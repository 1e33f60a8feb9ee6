/// The part of a pipeline that turns TCP segments into records, whatever their source: a
/// dumper (the protocol decoder) and the tracker that reassembles each connection into it and
/// writes the connection log. read runs one; probe runs one per decode worker, each owning the
/// connections that hash to it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dumpers/dumper.h"
#include "packet/segment.h"
#include "sinks/stream_sink.h"
#include "tcptrack/process.h"
#include "tcptrack/target.h"
#include "tcptrack/tracker.h"

namespace tcpdp {

/// What every shard of a pipeline makes its records with.
struct PipelineSettings {
  std::string dumper = "hex";
  DumperOptions dumper_options;
  Targets targets;
  TrackerOptions tracker;
  bool processes = false;  // name the local processes owning the connections' ends
};

class Shard {
 public:
  /// Dump records go to `dump`, connection records to `conn` (nullptr: none); `id` tells this
  /// shard's connections apart from other shards' (conn_id). nullptr and *error for a dumper
  /// name that is not one of dumper_names().
  static std::unique_ptr<Shard> make(const PipelineSettings& settings, RecordSink& dump,
                                     RecordSink* conn, uint8_t id, std::string* error);

  void on_segment(const TcpSegment& segment) { tracker_->on_segment(segment); }
  /// Time passed without packets: connections idle since before it are closed.
  void advance(Timestamp now) { tracker_->advance(now); }
  /// The end of the input: every connection still open is closed as of `last`.
  void finish(Timestamp last) { tracker_->finish(last); }
  const TrackerStats& stats() const { return tracker_->stats(); }

 private:
  Shard() = default;

  ProcessLookup processes_;
  std::unique_ptr<Dumper> dumper_;
  std::unique_ptr<Tracker> tracker_;
};

}  // namespace tcpdp

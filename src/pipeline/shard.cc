#include "pipeline/shard.h"

namespace tcpdp {

std::unique_ptr<Shard> Shard::make(const PipelineSettings& settings, RecordSink& dump,
                                   RecordSink* conn, uint8_t id, std::string* error) {
  std::unique_ptr<Shard> shard(new Shard);
  shard->dumper_ = make_dumper(settings.dumper, dump, settings.dumper_options);
  if (!shard->dumper_) {
    *error = "unknown dumper '" + settings.dumper + "': use " + dumper_names_text();
    return nullptr;
  }
  TrackerOptions options = settings.tracker;
  options.source_id = id;
  options.processes = settings.processes ? &shard->processes_ : nullptr;
  shard->tracker_ = std::make_unique<Tracker>(*shard->dumper_, settings.targets, options, conn);
  return shard;
}

}  // namespace tcpdp

/// The PostgreSQL sink as every mode sets it up from [pg]: started before the first record,
/// finished (within [pg] shutdownTimeout) after the last.
#pragma once

#include <memory>
#include <string>

#include "pipeline/settings.h"
#include "sinks/pg_sink.h"

namespace tcpdp {

/// The sink, started, when [pg] enable (or --pg) asks for it; nullptr when not asked for.
/// When PostgreSQL cannot be used at start: with onStartupError exit (auto with --pg) *error
/// says why and nullptr comes back with *failed set; with warn the reason goes to `report` and
/// the sink keeps trying. `asked_by_flag`: --pg gave the connection string (onStartupError auto
/// then means exit).
/// `wait_when_full`: for `read`, whose input can wait for the database.
std::unique_ptr<PgSink> start_pg_sink(const Config& config, bool asked_by_flag, bool wait_when_full,
                                      PgSink::Report report, bool* failed, std::string* error);

/// Stops the sink (sending what it can within [pg] shutdownTimeout) and reports its counts.
void finish_pg_sink(PgSink& sink, const Config& config, const PgSink::Report& report);

}  // namespace tcpdp

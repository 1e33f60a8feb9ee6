/// The signals of a long-running command (probe, audit): SIGINT, SIGTERM and SIGQUIT ask it to
/// stop, SIGHUP to reopen its logs. The handlers only set flags the command's loop reads.
#pragma once

namespace tcpdp {

void install_run_signals();
/// Blocks (or unblocks) the four in the calling thread: threads started while they are blocked
/// never run the handlers.
void block_run_signals(bool block);
bool stop_requested();
/// Whether SIGHUP came since the last call.
bool take_reopen_request();

}  // namespace tcpdp

#include "cmd/run_signals.h"

#include <pthread.h>

#include <csignal>

namespace tcpdp {
namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reopen = 0;

void on_stop(int) { g_stop = 1; }
void on_hup(int) { g_reopen = 1; }

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};

}  // namespace

void install_run_signals() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  for (int sig : kSignals) {
    sa.sa_handler = sig == SIGHUP ? on_hup : on_stop;
    sigaction(sig, &sa, nullptr);
  }
}

void block_run_signals(bool block) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kSignals) sigaddset(&set, sig);
  pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

bool stop_requested() { return g_stop != 0; }

bool take_reopen_request() {
  if (!g_reopen) return false;
  g_reopen = 0;
  return true;
}

}  // namespace tcpdp

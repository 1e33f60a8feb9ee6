/// libFuzzer target: the input is the text of a configuration file, taken through the checks
/// and the parsing `tcpdp config -c` applies. What is accepted must print as TOML that reads
/// back to the same configuration. Seeds: config/tcpdp.toml.
#include <cstdint>
#include <string>

#include "cmd/config.h"
#include "linear_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tcpdp::fuzz::LinearGuard guard(size);
  const std::string text(reinterpret_cast<const char*>(data), size);
  tcpdp::Config config;
  std::string error;
  if (!tcpdp::load_config_text(text, "fuzz.toml", config, &error)) return 0;
  const std::string printed = tcpdp::config_to_toml(config);
  tcpdp::Config back;
  if (!tcpdp::load_config_text(printed, "printed.toml", back, &error) ||
      tcpdp::config_to_toml(back) != printed) {
    __builtin_trap();
  }
  return 0;
}

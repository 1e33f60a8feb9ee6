/// Connection character sets: the collation id a client announces, its character set's name, and
/// text in it turned into UTF-8 (bytes that do not decode are written as \xNN, never dropped).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tcpdp::mysql {

struct Charset {
  std::string name;  // MySQL's name: "utf8mb4", "latin1", "sjis", ...
  const char*
      iconv;  // iconv's name for it, or nullptr when the bytes are UTF-8 already (or binary)
};

/// The character set of a collation id (the handshake's character_set byte).
Charset charset_of_collation(uint16_t collation_id);
/// The character set called `name` (as in SET NAMES); an unknown name is kept but not converted.
Charset charset_named(std::string_view name);

/// `bytes` in `cs` as UTF-8.
std::string to_utf8(std::string_view bytes, const Charset& cs);
/// `bytes` in `cs` as UTF-8 into out; false when a byte does not decode (cs has an iconv name).
bool to_utf8_exact(std::string_view bytes, const Charset& cs, std::string& out);

}  // namespace tcpdp::mysql

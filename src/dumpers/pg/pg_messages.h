/// The PostgreSQL v3 messages tcpdp reads, parsed from a message body (after the type byte and
/// length). Every parser checks the whole body, so it doubles as the plausibility test used to
/// find a message boundary again after a gap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/conn.h"

namespace tcpdp::pg {

constexpr int32_t kProtocol3 = 196608;  // 3.0; minor versions keep the major number in the top half
constexpr int32_t kCancelRequestCode = 80877102;
constexpr int32_t kSslRequestCode = 80877103;
constexpr int32_t kGssEncRequestCode = 80877104;
// The secret key of BackendKeyData and CancelRequest: 4 bytes up to protocol 3.0, from 3.2 any
// length in this range (the message length says which).
constexpr size_t kMinCancelKey = 4;
constexpr size_t kMaxCancelKey = 256;

struct StartupParams {
  std::vector<std::pair<std::string_view, std::string_view>> params;
};
bool parse_startup_params(std::span<const uint8_t> body, StartupParams& out);

/// NegotiateProtocolVersion: the version the server will speak (major << 16 | minor) and the
/// `_pq_.` options of the startup packet it did not recognise.
struct NegotiateMsg {
  int32_t version = 0;
  std::vector<std::string_view> unrecognized_options;
};
bool parse_negotiate(std::span<const uint8_t> body, NegotiateMsg& out);

struct ParseMsg {
  std::string_view name;
  std::string_view query;
  std::vector<uint32_t> param_types;
};
bool parse_parse(std::span<const uint8_t> body, ParseMsg& out);

struct BindParam {
  bool is_null = false;
  std::span<const uint8_t> value;
};
struct BindMsg {
  std::string_view portal;
  std::string_view statement;
  std::vector<int16_t> formats;
  std::vector<BindParam> params;
};
bool parse_bind(std::span<const uint8_t> body, BindMsg& out);
/// The format code of parameter i: none given means text, one applies to all.
int16_t bind_format(const BindMsg& bind, size_t i);

struct ExecuteMsg {
  std::string_view portal;
  int32_t max_rows = 0;
};
bool parse_execute(std::span<const uint8_t> body, ExecuteMsg& out);

/// Describe and Close: 'S' statement or 'P' portal, and its name.
struct TargetMsg {
  char kind = 0;
  std::string_view name;
};
bool parse_target(std::span<const uint8_t> body, TargetMsg& out);

/// A body that is exactly one NUL-terminated string (Query, CommandComplete, CopyFail).
bool parse_single_string(std::span<const uint8_t> body, std::string_view& out);

struct ErrorMsg {
  std::string_view severity;  // 'V' (never localized) when present, else 'S'
  std::string_view code;
  std::string_view message;
  std::string_view detail;
  std::string_view hint;
};
bool parse_error(std::span<const uint8_t> body, ErrorMsg& out);

/// Whether body is a well-formed message of this type from this side.
bool plausible_message(Direction dir, uint8_t type, std::span<const uint8_t> body);
/// Whether this side may send a message of this type at all.
bool known_type(Direction dir, uint8_t type);

}  // namespace tcpdp::pg

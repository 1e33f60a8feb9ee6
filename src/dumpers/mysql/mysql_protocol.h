/// The MySQL/MariaDB client/server protocol's vocabulary: capability flags, command bytes and
/// what the decoder needs to know of each command.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tcpdp::mysql {

namespace cap {
constexpr uint32_t kConnectWithDb = 0x8, kCompress = 0x20, kProtocol41 = 0x200, kSsl = 0x800,
                   kSecureConnection = 0x8000, kPluginAuth = 0x80000, kConnectAttrs = 0x100000,
                   kLenencAuthData = 0x200000, kDeprecateEof = 0x1000000,
                   kQueryAttributes = 0x8000000;  // MySQL 8.0.23+
}
constexpr uint16_t kMoreResultsExist = 0x0008;
constexpr uint32_t kMariadbCacheMetadata = 1 << 4;  // MariaDB extended capability
constexpr uint8_t kParameterCountAvailable = 0x08;  // COM_STMT_EXECUTE flag (MySQL 8.0.26+)
constexpr uint32_t kMaxPacket = 0xFFFFFF;  // a payload this long continues in the next packet

enum Command : uint8_t {
  kQuit = 0x01,
  kInitDb = 0x02,
  kQuery = 0x03,
  kFieldList = 0x04,
  kCreateDb = 0x05,
  kDropDb = 0x06,
  kRefresh = 0x07,
  kShutdown = 0x08,
  kStatistics = 0x09,
  kProcessInfo = 0x0a,
  kConnect = 0x0b,
  kProcessKill = 0x0c,
  kDebug = 0x0d,
  kPing = 0x0e,
  kTime = 0x0f,
  kDelayedInsert = 0x10,
  kChangeUser = 0x11,
  kBinlogDump = 0x12,
  kTableDump = 0x13,
  kConnectOut = 0x14,
  kRegisterSlave = 0x15,
  kStmtPrepare = 0x16,
  kStmtExecute = 0x17,
  kStmtSendLongData = 0x18,
  kStmtClose = 0x19,
  kStmtReset = 0x1a,
  kSetOption = 0x1b,
  kStmtFetch = 0x1c,
  kDaemon = 0x1d,
  kBinlogDumpGtid = 0x1e,
  kResetConnection = 0x1f,
  kStmtBulkExecute = 0xfa,
};

/// "COM_QUERY" and so on, or nullptr for a byte that is no command.
const char* command_name(uint8_t c);
/// Commands the server does not answer.
bool unanswered(uint8_t c);
/// The exact payload length a command must have, or 0 when it varies (to judge a boundary by).
size_t fixed_length(uint8_t c);

inline uint32_t le24(const uint8_t* p) {
  return p[0] | p[1] << 8 | static_cast<uint32_t>(p[2]) << 16;
}

}  // namespace tcpdp::mysql

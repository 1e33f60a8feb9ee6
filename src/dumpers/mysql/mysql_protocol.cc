#include "dumpers/mysql/mysql_protocol.h"

namespace tcpdp::mysql {

const char* command_name(uint8_t c) {
  switch (c) {
    case kQuit:
      return "COM_QUIT";
    case kInitDb:
      return "COM_INIT_DB";
    case kQuery:
      return "COM_QUERY";
    case kFieldList:
      return "COM_FIELD_LIST";
    case kCreateDb:
      return "COM_CREATE_DB";
    case kDropDb:
      return "COM_DROP_DB";
    case kRefresh:
      return "COM_REFRESH";
    case kShutdown:
      return "COM_SHUTDOWN";
    case kStatistics:
      return "COM_STATISTICS";
    case kProcessInfo:
      return "COM_PROCESS_INFO";
    case kConnect:
      return "COM_CONNECT";
    case kProcessKill:
      return "COM_PROCESS_KILL";
    case kDebug:
      return "COM_DEBUG";
    case kPing:
      return "COM_PING";
    case kTime:
      return "COM_TIME";
    case kDelayedInsert:
      return "COM_DELAYED_INSERT";
    case kChangeUser:
      return "COM_CHANGE_USER";
    case kBinlogDump:
      return "COM_BINLOG_DUMP";
    case kTableDump:
      return "COM_TABLE_DUMP";
    case kConnectOut:
      return "COM_CONNECT_OUT";
    case kRegisterSlave:
      return "COM_REGISTER_SLAVE";
    case kStmtPrepare:
      return "COM_STMT_PREPARE";
    case kStmtExecute:
      return "COM_STMT_EXECUTE";
    case kStmtSendLongData:
      return "COM_STMT_SEND_LONG_DATA";
    case kStmtClose:
      return "COM_STMT_CLOSE";
    case kStmtReset:
      return "COM_STMT_RESET";
    case kSetOption:
      return "COM_SET_OPTION";
    case kStmtFetch:
      return "COM_STMT_FETCH";
    case kDaemon:
      return "COM_DAEMON";
    case kBinlogDumpGtid:
      return "COM_BINLOG_DUMP_GTID";
    case kResetConnection:
      return "COM_RESET_CONNECTION";
    case kStmtBulkExecute:
      return "COM_STMT_BULK_EXECUTE";
    default:
      return nullptr;
  }
}

bool unanswered(uint8_t c) { return c == kQuit || c == kStmtSendLongData || c == kStmtClose; }

size_t fixed_length(uint8_t c) {
  switch (c) {
    case kQuit:
    case kStatistics:
    case kProcessInfo:
    case kPing:
    case kTime:
    case kDebug:
    case kResetConnection:
      return 1;
    case kSetOption:
      return 3;
    case kStmtClose:
    case kStmtReset:
    case kProcessKill:
      return 5;
    case kStmtFetch:
      return 9;
    default:
      return 0;
  }
}

}  // namespace tcpdp::mysql

#include "dumpers/mysql/mysql_dumper.h"

#include "dumpers/mysql/mysql_decoder.h"

namespace tcpdp {

std::unique_ptr<Decoder> MysqlDumper::open(const ConnInfo& conn, Timestamp) {
  return std::make_unique<mysql::MysqlDecoder>(conn, sink_, options_);
}

}  // namespace tcpdp

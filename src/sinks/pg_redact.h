/// Keeping the PostgreSQL sink's passwords out of everything tcpdp writes: the connection string
/// as it may be shown, and messages (libpq's, which can quote a piece of a malformed connection
/// string, and tcpdp's own) cleaned of anything of its passwords.
#pragma once

#include <string>
#include <string_view>

namespace tcpdp {

/// The connection string (libpq's keyword=value form or a postgresql:// URI) with every
/// password shown as ***: the URI's user info after `user:`, and the values of password and
/// sslpassword, as keywords or as URI query parameters. A malformed string is read the way that
/// hides more: an unterminated quote runs to the end, a URI's user info to its last `@`, and
/// what follows a password up to the next of libpq's keywords is taken as more of it.
std::string redact_conninfo(std::string_view conninfo);

/// The message with nothing of conninfo's passwords left in it: the whole connection string is
/// shown redacted; any run of 4 or more characters of a password (as written, unquoted or
/// percent-decoded; all of it when shorter) becomes ***; and so does any double-quoted part of
/// the message that shares 3 characters with a password or that is found in the connection
/// string only where a password is.
std::string redact_secrets(std::string_view message, std::string_view conninfo);

}  // namespace tcpdp

// Access log lines of the native front, in Apache's combined format (as ts/http/access-log.ts
// writes them for the Node front), one write(2) per line to the log's descriptor.
#pragma once
#include <cstdint>
#include <string>

#include "http/request_parser.h"

namespace pyhost {

// `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`
std::string CombinedLogLine(const std::string& remote_addr, const ParsedHead& head, int status, int64_t bytes);
// Writes the line and a newline, waiting while the descriptor is full.
void WriteLogLine(int fd, std::string line);

}  // namespace pyhost

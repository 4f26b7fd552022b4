// The front <-> daemon wire protocol over a UNIX socket (see ts/daemon/protocol.ts, its twin).
// Every frame: an 8-byte header {u8 type, u8 flags, u16 aux, u32 length, little-endian} and
// `length` payload bytes. One request at a time per connection:
//   front:  REQUEST [BODY...] BODY_END      (BODY_END always, even for bodiless requests)
//   daemon: [HEAD] [DATA...] END             (HEAD before the first DATA; END last)
// The front cancels a request by closing the connection.
#pragma once
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pyhost {
namespace wire {

enum FrameType : uint8_t {
  kRequest = 1,
  kBody = 2,
  kBodyEnd = 3,
  kHead = 16,
  kData = 17,
  kEnd = 18,
};

// REQUEST flags
enum : uint8_t { kHasBody = 1, kPassAuthorization = 2, kMultiprocess = 4, kIsModule = 8, kReload = 16 };
// END flags
enum : uint8_t { kAbort = 1 };

// REQUEST payload: these fields, each as u32 length + bytes, in this order.
enum RequestField {
  kAppTarget, kCallable, kMethod, kScriptName, kPathInfo, kQuery, kRequestUri, kProtocol, kScheme, kServerName,
  kServerPort, kLocalAddr, kRemoteAddr, kRemotePort, kHeaders, kProcessGroup, kApplicationGroup, kGroupName,
  kGroupKind, kGroupStrict, kFieldCount
};

struct FrameHeader {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint16_t aux = 0;
  uint32_t length = 0;
};

constexpr size_t kHeaderSize = 8;
constexpr uint32_t kMaxFrame = 64u << 20;

void EncodeHeader(const FrameHeader& h, char out[kHeaderSize]);
FrameHeader DecodeHeader(const char in[kHeaderSize]);
// Splits a REQUEST payload; false if malformed.
bool DecodeFields(const std::string& payload, std::vector<std::string>* fields);

// Blocking I/O on a socket: the whole buffer or false (peer gone, error).
bool ReadFull(int fd, char* buf, size_t len);
bool WriteFull(int fd, const char* buf, size_t len);
bool WriteFrame(int fd, uint8_t type, uint8_t flags, uint16_t aux, const char* payload, size_t len);
// Writes every buffer, in order (one sendmsg when the socket takes it all).
bool WriteVector(int fd, struct iovec* iov, size_t count);
// Writes as much as the socket takes now without blocking; advances iov/count past it.
// Returns false on a broken connection (true with count > 0 when the rest would block).
bool WriteVectorNow(int fd, struct iovec*& iov, size_t& count);

}  // namespace wire
}  // namespace pyhost

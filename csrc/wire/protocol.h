// The front <-> daemon wire protocol over a UNIX socket (see ts/daemon/protocol.ts, its twin).
// Every frame: an 8-byte header {u8 type, u8 flags, u16 aux, u32 length, little-endian} and
// `length` payload bytes. A front opens one *channel* to a daemon process and any number of
// *connections*, each carrying one request at a time:
//   channel, front:     CHANNEL, then REQUEST*   (each naming its connection: u32 id, then fields)
//   channel, daemon:    RESPONSE*                (u32 connection id, then HEAD DATA* END, whole)
//   connection, front:  HELLO (u32 id), then per request with a body: BODY* BODY_END
//   connection, daemon: per request: [HEAD] [DATA...] END  (unless answered on the channel)
// Requests travel on the channel so the front writes, and the daemon reads, a loop turn's
// requests in one system call each; a response that is complete and small at its first write
// goes back on the channel too. Bodies and streamed responses use the request's connection,
// whose socket gives them backpressure. The front cancels a request by closing its connection.
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
  kHello = 4,
  kChannel = 5,
  kHead = 16,
  kData = 17,
  kEnd = 18,
  kResponse = 19,
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
// A response whose frames fit this goes back on the channel when complete at its first write.
constexpr size_t kChannelResponseMax = 64 << 10;

uint32_t DecodeU32(const char* p);
void EncodeU32(uint32_t v, char* p);

void EncodeHeader(const FrameHeader& h, char out[kHeaderSize]);
FrameHeader DecodeHeader(const char in[kHeaderSize]);
// Splits REQUEST fields (the payload after the connection id); false if malformed.
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

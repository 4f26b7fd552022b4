#include "wire/protocol.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

namespace pyhost {
namespace wire {

void EncodeHeader(const FrameHeader& h, char out[kHeaderSize]) {
  out[0] = static_cast<char>(h.type);
  out[1] = static_cast<char>(h.flags);
  out[2] = static_cast<char>(h.aux & 0xff);
  out[3] = static_cast<char>(h.aux >> 8);
  EncodeU32(h.length, out + 4);
}

FrameHeader DecodeHeader(const char in[kHeaderSize]) {
  const auto* u = reinterpret_cast<const unsigned char*>(in);
  FrameHeader h;
  h.type = u[0];
  h.flags = u[1];
  h.aux = static_cast<uint16_t>(u[2] | (u[3] << 8));
  h.length = DecodeU32(in + 4);
  return h;
}

uint32_t DecodeU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return u[0] | (u[1] << 8) | (u[2] << 16) | (static_cast<uint32_t>(u[3]) << 24);
}

void EncodeU32(uint32_t v, char* p) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>((v >> 8) & 0xff);
  p[2] = static_cast<char>((v >> 16) & 0xff);
  p[3] = static_cast<char>(v >> 24);
}

bool DecodeFields(const std::string& payload, std::vector<std::string>* fields) {
  fields->clear();
  size_t pos = 0;
  while (pos < payload.size()) {
    if (payload.size() - pos < 4) return false;
    uint32_t len = DecodeU32(payload.data() + pos);
    pos += 4;
    if (payload.size() - pos < len) return false;
    fields->emplace_back(payload.data() + pos, len);
    pos += len;
  }
  return fields->size() == kFieldCount;
}

bool ReadFull(int fd, char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = ::read(fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

bool WriteFull(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

namespace {
// Writes iov[0..count) with sendmsg `flags`, advancing iov/count past what was written. Returns
// false on an error other than EAGAIN (which leaves count > 0).
bool SendVector(int fd, struct iovec*& iov, size_t& count, int flags) {
  while (count > 0) {
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = count > 1024 ? 1024 : count;
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    size_t done = static_cast<size_t>(n);
    while (count > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      iov++;
      count--;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + done;
      iov->iov_len -= done;
    }
  }
  return true;
}
}  // namespace

bool WriteVectorNow(int fd, struct iovec*& iov, size_t& count) { return SendVector(fd, iov, count, MSG_DONTWAIT); }

bool WriteVector(int fd, struct iovec* iov, size_t count) {
  // A blocking socket: EAGAIN does not happen, so success means everything was written.
  return SendVector(fd, iov, count, 0) && count == 0;
}

bool WriteFrame(int fd, uint8_t type, uint8_t flags, uint16_t aux, const char* payload, size_t len) {
  char head[kHeaderSize];
  EncodeHeader({type, flags, aux, static_cast<uint32_t>(len)}, head);
  if (len == 0) return WriteFull(fd, head, kHeaderSize);
  // One syscall for header and payload.
  struct iovec iov[2] = {{head, kHeaderSize}, {const_cast<char*>(payload), len}};
  struct msghdr msg = {};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  size_t total = kHeaderSize + len;
  ssize_t n;
  do {
    n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return false;
  if (static_cast<size_t>(n) == total) return true;
  // Partial write: finish the rest plainly.
  size_t done = static_cast<size_t>(n);
  if (done < kHeaderSize) {
    if (!WriteFull(fd, head + done, kHeaderSize - done)) return false;
    done = kHeaderSize;
  }
  return WriteFull(fd, payload + (done - kHeaderSize), total - done);
}

}  // namespace wire
}  // namespace pyhost

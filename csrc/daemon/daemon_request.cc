#include "daemon/daemon_request.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/sendfile.h>

#include <cstring>

#include "daemon/protocol.h"

namespace pyhost {
namespace {

PyThreadState* CurrentThreadState() {
#if PY_VERSION_HEX >= 0x030D0000
  return PyThreadState_GetUnchecked();
#else
  return _PyThreadState_UncheckedGet();
#endif
}

}  // namespace

bool DaemonRequest::NextFrame() {
  char hb[wire::kHeaderSize];
  if (!wire::ReadFull(fd_, hb, sizeof hb)) return false;
  wire::FrameHeader h = wire::DecodeHeader(hb);
  if (h.type == wire::kBodyEnd) {
    in_eof_ = true;
    return true;
  }
  if (h.type != wire::kBody || h.length > wire::kMaxFrame) return false;
  inbuf_.resize(h.length);
  inoff_ = 0;
  return h.length == 0 || wire::ReadFull(fd_, &inbuf_[0], h.length);
}

bool DaemonRequest::ReadInput(std::string* out, int64_t max, bool line) {
  while (inoff_ >= inbuf_.size()) {
    if (in_eof_ || failed_) return false;
    if (!NextFrame()) {
      failed_ = true;
      Cancel();
      return false;
    }
  }
  size_t avail = inbuf_.size() - inoff_;
  size_t n = max < 0 ? avail : std::min<size_t>(avail, static_cast<size_t>(max));
  if (line) {
    const void* nl = std::memchr(inbuf_.data() + inoff_, '\n', n);
    if (nl) n = static_cast<const char*>(nl) - (inbuf_.data() + inoff_) + 1;
  }
  out->append(inbuf_.data() + inoff_, n);
  inoff_ += n;
  return true;
}

bool DaemonRequest::DrainBody() {
  while (!in_eof_ && !failed_) {
    inoff_ = inbuf_.size();
    if (!NextFrame()) failed_ = true;
  }
  return !failed_;
}

bool DaemonRequest::SendfileFrames(int file_fd, int64_t offset, int64_t length) {
  // Up to kMaxFrame per DATA frame, the bytes moved by the kernel.
  while (length > 0) {
    uint32_t chunk = static_cast<uint32_t>(std::min<int64_t>(length, wire::kMaxFrame));
    char hb[wire::kHeaderSize];
    wire::EncodeHeader({wire::kData, 0, 0, chunk}, hb);
    if (!wire::WriteFull(fd_, hb, sizeof hb)) return false;
    off_t off = static_cast<off_t>(offset);
    size_t left = chunk;
    while (left > 0) {
      ssize_t n = ::sendfile(fd_, file_fd, &off, left);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        return false;  // file shrank or socket gone: the frame is short, the connection unusable
      }
      left -= static_cast<size_t>(n);
    }
    offset += chunk;
    length -= chunk;
  }
  return true;
}

void DaemonRequest::Notify() {
  RequestOutput out = TakeOutput();
  if (!out.refused_module.empty()) {
    refused_module_ = out.refused_module;
    refused_message_ = out.refused_message;
    return;
  }
  // Socket writes block on a slow client: never with the GIL held.
  PyThreadState* ts = CurrentThreadState() ? PyEval_SaveThread() : nullptr;
  bool ok = !failed_;
  if (ok && out.has_head) {
    std::string payload;
    auto put = [&payload](const std::string& s) {
      uint32_t n = static_cast<uint32_t>(s.size());
      char len[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff), static_cast<char>((n >> 16) & 0xff),
                     static_cast<char>(n >> 24)};
      payload.append(len, 4).append(s);
    };
    std::string joined;
    for (const auto& [k, v] : out.headers) {
      joined.append(k).push_back('\n');
      joined.append(v).push_back('\n');
    }
    if (!joined.empty()) joined.pop_back();
    put(out.reason);
    put(joined);
    ok = wire::WriteFrame(fd_, wire::kHead, 0, static_cast<uint16_t>(out.status), payload.data(), payload.size());
  }
  for (size_t i = 0; ok && i < out.chunks.size(); i++) {
    ok = wire::WriteFrame(fd_, wire::kData, 0, 0, out.chunks[i].data(), out.chunks[i].size());
  }
  if (ok && out.sendfile) ok = SendfileFrames(out.sendfile_fd, out.sendfile_offset, out.sendfile_length);
  if (out.sendfile) SendfileDone();
  if (ok && out.end) ok = wire::WriteFrame(fd_, wire::kEnd, out.abort_connection ? wire::kAbort : 0, 0, nullptr, 0);
  Ack(out.chunk_bytes);
  if (!ok && !failed_) {
    failed_ = true;
    Cancel();
  }
  if (ts) PyEval_RestoreThread(ts);
}

}  // namespace pyhost

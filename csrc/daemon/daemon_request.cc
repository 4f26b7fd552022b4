#include "daemon/daemon_request.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/sendfile.h>

#include <sys/uio.h>

#include <cstring>
#include <vector>

#include "python/pyref.h"
#include "wire/protocol.h"

namespace pyhost {

void MoveRequestFields(uint8_t flags, std::vector<std::string>* fields, AppSpec* app, RequestHead* head) {
  std::vector<std::string>& f = *fields;
  app->target = std::move(f[wire::kAppTarget]);
  app->callable = std::move(f[wire::kCallable]);
  app->is_module = flags & wire::kIsModule;
  app->reload = flags & wire::kReload;
  head->method = std::move(f[wire::kMethod]);
  head->script_name = std::move(f[wire::kScriptName]);
  head->path_info = std::move(f[wire::kPathInfo]);
  head->query = std::move(f[wire::kQuery]);
  head->request_uri = std::move(f[wire::kRequestUri]);
  head->protocol = std::move(f[wire::kProtocol]);
  head->scheme = std::move(f[wire::kScheme]);
  head->server_name = std::move(f[wire::kServerName]);
  head->server_port = std::move(f[wire::kServerPort]);
  head->local_addr = std::move(f[wire::kLocalAddr]);
  head->remote_addr = std::move(f[wire::kRemoteAddr]);
  head->remote_port = std::move(f[wire::kRemotePort]);
  head->headers = std::move(f[wire::kHeaders]);
  head->process_group = std::move(f[wire::kProcessGroup]);
  head->application_group = std::move(f[wire::kApplicationGroup]);
  head->has_body = flags & wire::kHasBody;
  head->pass_authorization = flags & wire::kPassAuthorization;
  head->multiprocess = flags & wire::kMultiprocess;
}


bool DaemonRequest::NextFrame() {
  char hb[wire::kHeaderSize];
  if (!conn_->ReadFull(hb, sizeof hb)) return false;
  wire::FrameHeader h = wire::DecodeHeader(hb);
  if (h.type == wire::kBodyEnd) {
    in_eof_ = true;
    return true;
  }
  if (h.type != wire::kBody || h.length > wire::kMaxFrame) return false;
  inbuf_.resize(h.length);
  inoff_ = 0;
  return h.length == 0 || conn_->ReadFull(&inbuf_[0], h.length);
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
    if (!wire::WriteFull(conn_->fd(), hb, sizeof hb)) return false;
    off_t off = static_cast<off_t>(offset);
    size_t left = chunk;
    while (left > 0) {
      ssize_t n = ::sendfile(conn_->fd(), file_fd, &off, left);
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
  if (refusal_.Take(out)) return;
  bool ok = !failed_;
  PyThreadState* ts = nullptr;  // set while the GIL is released for blocking I/O
  // Head, data and (unless a file follows) the end go out in one writev.
  std::vector<std::string> heads;  // frame headers and the HEAD payload, kept alive for iov
  std::vector<struct iovec> iov;
  auto frame = [&](uint8_t type, uint8_t flags, uint16_t aux, const char* data, size_t len) {
    std::string h(wire::kHeaderSize, '\0');
    wire::EncodeHeader({type, flags, aux, static_cast<uint32_t>(len)}, &h[0]);
    heads.push_back(std::move(h));
    iov.push_back({nullptr, wire::kHeaderSize});
    if (len) iov.push_back({const_cast<char*>(data), len});
  };
  heads.reserve(out.chunks.size() + 4);
  std::string head_payload;
  if (out.has_head) {
    auto put = [&head_payload](const std::string& v) {
      char len[4];
      wire::EncodeU32(static_cast<uint32_t>(v.size()), len);
      head_payload.append(len, 4).append(v);
    };
    put(out.reason);
    put(JoinHeaders(out.headers));
    frame(wire::kHead, 0, static_cast<uint16_t>(out.status), head_payload.data(), head_payload.size());
  }
  for (const auto& c : out.chunks) frame(wire::kData, 0, 0, c.data(), c.size());
  bool end_now = out.end && !out.sendfile;
  if (end_now) frame(wire::kEnd, out.abort_connection ? wire::kAbort : 0, 0, nullptr, 0);
  // Point the header entries at their strings now that `heads` no longer moves.
  for (size_t i = 0, h = 0; i < iov.size(); i++) {
    if (iov[i].iov_base == nullptr) iov[i].iov_base = &heads[h++][0];
  }
  size_t total = 0;
  for (const auto& v : iov) total += v.iov_len;
  auto release_gil = [&ts] {
    if (!ts && CurrentThreadState()) ts = PyEval_SaveThread();
  };
  if (ok && channel_ && !wrote_ && end_now && total <= wire::kChannelResponseMax) {
    // Whole and small: on the channel, where the front reads many responses in one system call.
    // Failing means the front is gone: this connection closes, which the front sees if alive.
    ok = channel_->Write(conn_->id(), iov.data(), iov.size(), release_gil);
  } else {
    if (!iov.empty() || out.sendfile || out.end) wrote_ = true;
    // Try without blocking first: a small response usually fits the socket buffer, and keeping
    // the GIL spares a hand-off to the other threads of the interpreter and back. What would
    // block (a slow client) is written with the GIL released.
    struct iovec* rest = iov.data();
    size_t left = iov.size();
    if (ok && left) ok = wire::WriteVectorNow(conn_->fd(), rest, left);
    if (ok && (left > 0 || out.sendfile || (out.end && !end_now))) release_gil();
    if (ok && left) ok = wire::WriteVector(conn_->fd(), rest, left);
    if (ok && out.sendfile) ok = SendfileFrames(out.sendfile_fd, out.sendfile_offset, out.sendfile_length);
    if (out.sendfile) SendfileDone();
    if (ok && out.end && !end_now) ok = wire::WriteFrame(conn_->fd(), wire::kEnd, out.abort_connection ? wire::kAbort : 0, 0, nullptr, 0);
  }
  Ack(out.chunk_bytes);
  if (!ok && !failed_) {
    failed_ = true;
    Cancel();
  }
  if (ts) PyEval_RestoreThread(ts);
}

}  // namespace pyhost

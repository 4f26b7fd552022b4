#include "wsgi/request.h"

#include <cstdlib>
#include <cstring>
#include <strings.h>

namespace pyhost {

WsgiRequest::WsgiRequest(AppSpec app, RequestHead head) : app_(std::move(app)), head_(std::move(head)) {
  is_head_ = head_.method == "HEAD";
  if (!head_.has_body) in_eof_ = true;
}

WsgiRequest::~WsgiRequest() = default;

void WsgiRequest::NotifyLocked(std::unique_lock<std::mutex>& lock) {
  if (notified_) return;
  notified_ = true;
  lock.unlock();
  Notify();
}

bool WsgiRequest::PushInput(const char* data, size_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  if (in_eof_ || cancelled_) return true;
  in_chunks_.emplace_back(data, len);
  in_buffered_ += len;
  in_received_.fetch_add(static_cast<int64_t>(len), std::memory_order_relaxed);
  cv_.notify_all();
  if (in_buffered_ >= kInputHighWater) {
    in_paused_ = true;
    return false;
  }
  return true;
}

void WsgiRequest::EndInput() {
  std::lock_guard<std::mutex> lock(mu_);
  in_eof_ = true;
  cv_.notify_all();
}

void WsgiRequest::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

void WsgiRequest::Ack(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t u = unacked_.load();
  unacked_.store(bytes > u ? 0 : u - bytes);
  cv_.notify_all();
}

void WsgiRequest::SendfileDone() {
  std::lock_guard<std::mutex> lock(mu_);
  sendfile_pending_ = false;
  cv_.notify_all();
}

bool WsgiRequest::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

RequestOutput WsgiRequest::TakeOutput() {
  std::lock_guard<std::mutex> lock(mu_);
  notified_ = false;
  RequestOutput taken = std::move(out_);
  out_ = RequestOutput();
  return taken;
}

bool WsgiRequest::ReadInput(std::string* out, int64_t max, bool line) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return in_buffered_ > 0 || in_eof_ || cancelled_; });
  if (in_buffered_ == 0) return false;  // end of input, or the client went away
  size_t taken = 0;
  while (in_first_ < in_chunks_.size() && (max < 0 || static_cast<int64_t>(taken) < max)) {
    std::string& front = in_chunks_[in_first_];
    size_t avail = front.size() - in_offset_;
    size_t n = avail;
    if (max >= 0) n = std::min<size_t>(n, static_cast<size_t>(max) - taken);
    bool found_newline = false;
    if (line) {
      const void* nl = std::memchr(front.data() + in_offset_, '\n', n);
      if (nl) {
        n = static_cast<const char*>(nl) - (front.data() + in_offset_) + 1;
        found_newline = true;
      }
    }
    out->append(front.data() + in_offset_, n);
    taken += n;
    in_offset_ += n;
    if (in_offset_ == front.size()) {
      std::string().swap(front);  // free it now
      in_first_++;
      in_offset_ = 0;
      if (in_first_ == in_chunks_.size()) {
        in_chunks_.clear();
        in_first_ = 0;
      }
    }
    if (found_newline) break;
  }
  in_buffered_ -= taken;
  if (in_paused_ && in_buffered_ < kInputLowWater) {
    in_paused_ = false;
    out_.resume_input = true;
    NotifyLocked(lock);
  }
  return true;
}

namespace {
int64_t ParseContentLength(const HeaderList& headers) {
  for (const auto& [name, value] : headers) {
    if (strcasecmp(name.c_str(), "content-length") == 0) {
      char* end = nullptr;
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (end != value.c_str() && v >= 0) return v;
    }
  }
  return -1;
}
}  // namespace

void WsgiRequest::SendHead(int status, std::string reason, HeaderList headers) {
  content_length_ = ParseContentLength(headers);
  head_sent_ = true;
  std::unique_lock<std::mutex> lock(mu_);
  out_.has_head = true;
  out_.status = status;
  out_.reason = std::move(reason);
  out_.headers = std::move(headers);
  // Not notified yet: the first body bytes (or the end) usually follow at once.
}

bool WsgiRequest::WaitWritable() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return unacked_ < kOutputHighWater || cancelled_; });
  return !cancelled_;
}

bool WsgiRequest::WriteBody(const char* data, size_t len) {
  if (content_length_ >= 0) {
    int64_t room = content_length_ - body_sent_;
    if (room <= 0) return true;  // excess beyond Content-Length is dropped
    if (static_cast<int64_t>(len) > room) len = static_cast<size_t>(room);
  }
  body_sent_ += len;
  if (len == 0) return true;
  if (direct_body_) return is_head_ || WriteBodyNow(data, len);  // HEAD: counted, never sent
  std::unique_lock<std::mutex> lock(mu_);
  if (cancelled_) return false;
  if (is_head_) return true;  // HEAD: counted for Content-Length, never sent
  // Small writes coalesce into the last chunk while the host has not taken it.
  if (!out_.chunks.empty() && out_.chunks.back().size() < 16384 && len < 16384) {
    out_.chunks.back().append(data, len);
  } else {
    out_.chunks.emplace_back(data, len);
  }
  out_.chunk_bytes += len;
  unacked_ += len;
  if (!defer_notify_) NotifyLocked(lock);
  return true;
}

bool WsgiRequest::Sendfile(int fd, int64_t offset, int64_t length) {
  std::unique_lock<std::mutex> lock(mu_);
  if (cancelled_) return false;
  out_.sendfile = true;
  out_.sendfile_fd = fd;
  out_.sendfile_offset = offset;
  out_.sendfile_length = length;
  sendfile_pending_ = true;
  NotifyLocked(lock);
  return true;
}

bool WsgiRequest::WaitSendfile() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !sendfile_pending_ || cancelled_; });
  return !cancelled_;
}

void WsgiRequest::Refused(const std::string& module, const std::string& message) {
  std::unique_lock<std::mutex> lock(mu_);
  out_.refused_module = module;
  out_.refused_message = message;
  NotifyLocked(lock);
}

std::string JoinHeaders(const HeaderList& headers) {
  std::string joined;
  for (const auto& [k, v] : headers) {
    joined.append(k).push_back('\n');
    joined.append(v).push_back('\n');
  }
  if (!joined.empty()) joined.pop_back();
  return joined;
}

void WsgiRequest::OnStuck() {
  std::unique_lock<std::mutex> lock(mu_);
  out_.stuck = true;
  NotifyLocked(lock);
}

void WsgiRequest::Finish(bool abort_connection) {
  defer_notify_ = false;
  InterruptKind interrupted = EndDeadline();  // before the host may free the request
  std::unique_lock<std::mutex> lock(mu_);
  out_.end = true;
  out_.abort_connection = abort_connection;
  out_.interrupted = interrupted;
  // If a notice is still pending, the host takes the end together with it.
  NotifyLocked(lock);
}

}  // namespace pyhost

#include "front/daemon_link.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "wire/protocol.h"
#include "front/request_channel.h"

namespace pyhost {

DaemonLink::DaemonLink(uint32_t id, CompletionPort* port, std::string socket_path, RequestChannel* channel)
    : id_(id), port_(port), env_(port->env()), path_(std::move(socket_path)), channel_(channel) {
  if (!channel_->Attach(this)) channel_ = nullptr;  // Send then reports the link lost
  // The connection introduces itself; requests for it come on the channel.
  std::string hello(wire::kHeaderSize + 4, '\0');
  wire::EncodeHeader({wire::kHello, 0, 0, 4}, &hello[0]);
  wire::EncodeU32(id_, &hello[wire::kHeaderSize]);
  out_bytes_ = hello.size();
  out_frames_.push_back(std::move(hello));
}

void DaemonLink::Start(uv_loop_t* loop) { sock_.Connect(loop, path_); }

void DaemonLink::OnConnect(bool ok, bool in_connect) {
  if (!ok) return Lost(/*defer=*/in_connect);
  connected_ = true;
  if (!Flush(in_connect)) return Lost(in_connect);
  UpdatePoll();
}

void DaemonLink::Send(const char* frame, size_t len) {
  if (closing_) return;
  if (!channel_) return Lost(/*defer=*/true);  // the daemon is going: it cannot get the request
  if (!held_) {
    held_ = true;  // a request in flight keeps Node's loop alive
    port_->Hold();
  }
  unacked_ = 0;
  channel_->Send(id_, frame, len);
  UpdatePoll();  // reading may have stopped at the previous response's high water
}

bool DaemonLink::Push(const char* data, size_t len) {
  if (closing_) return true;
  std::string frame(wire::kHeaderSize, '\0');
  wire::EncodeHeader({wire::kBody, 0, 0, static_cast<uint32_t>(len)}, &frame[0]);
  frame.append(data, len);
  Write(std::move(frame));
  if (out_bytes_ >= kInputHighWater) {
    input_paused_ = true;
    return false;
  }
  return true;
}

void DaemonLink::EndBody() {
  if (closing_) return;
  std::string frame(wire::kHeaderSize, '\0');
  wire::EncodeHeader({wire::kBodyEnd, 0, 0, 0}, &frame[0]);
  Write(std::move(frame));
}

void DaemonLink::Ack(size_t bytes) {
  bool was_stopped = unacked_ >= kOutputHighWater;
  unacked_ = bytes > unacked_ ? 0 : unacked_ - bytes;
  if (was_stopped && unacked_ < kOutputHighWater) UpdatePoll();
}

void DaemonLink::Write(std::string frame) {
  out_bytes_ += frame.size();
  out_frames_.push_back(std::move(frame));
  if (out_frames_.size() == 1 && connected_ && !Flush(/*from_js=*/true)) return Lost(/*defer=*/true);
  UpdatePoll();
}

bool DaemonLink::Flush(bool from_js) {
  while (!out_frames_.empty()) {
    std::string& f = out_frames_.front();
    ssize_t n = ::send(sock_.fd(), f.data() + out_offset_, f.size() - out_offset_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    out_offset_ += static_cast<size_t>(n);
    out_bytes_ -= static_cast<size_t>(n);
    if (out_offset_ == f.size()) {
      out_frames_.erase(out_frames_.begin());
      out_offset_ = 0;
    }
  }
  if (input_paused_ && out_bytes_ < kInputHighWater / 4) {
    input_paused_ = false;
    if (from_js) {
      Defer(kLinkResumeInput);
    } else {
      Emit(kLinkResumeInput);
    }
  }
  return true;
}

void DaemonLink::UpdatePoll() {
  if (closing_ || !connected_) return;
  int events = 0;
  // Backpressure: a slow client stops us reading, so the daemon's writes block.
  if (unacked_ < kOutputHighWater) events |= UV_READABLE;
  if (!out_frames_.empty()) events |= UV_WRITABLE;
  sock_.Watch(events);
}

void DaemonLink::OnPoll(int status, int events) {
  if (closing_) return;
  if (status < 0) return Lost(false);
  if ((events & UV_WRITABLE) && !Flush(false)) return Lost(false);
  if (closing_) return;  // JS closed the link when told to resume input
  if ((events & (UV_READABLE | UV_DISCONNECT)) && !ReadFrames()) return Lost(false);
  UpdatePoll();
}

bool DaemonLink::ReadFrames() {
  if (!sock_.ReadAvailable(&inbuf_)) return false;
  size_t used = 0;
  bool any = false;
  if (!ParseFrames(inbuf_.data(), inbuf_.size(), &used, &any)) return false;
  inbuf_.erase(0, used);
  if (any) Emit(0);
  return true;
}

void DaemonLink::OnChannelResponse(const char* data, size_t len) {
  if (closing_) return;
  size_t used = 0;
  bool any = false;
  // A channel response is whole: HEAD, DATA and END.
  if (!ParseFrames(data, len, &used, &any) || used != len || !out_.end) return Lost(false);
  Emit(0);
}

bool DaemonLink::ParseFrames(const char* data, size_t size, size_t* used, bool* any) {
  size_t pos = 0;
  bool end = false;
  while (!end && size - pos >= wire::kHeaderSize) {
    wire::FrameHeader h = wire::DecodeHeader(data + pos);
    if (h.length > wire::kMaxFrame) return false;
    if (size - pos - wire::kHeaderSize < h.length) break;
    const char* p = data + pos + wire::kHeaderSize;
    switch (h.type) {
      case wire::kHead: {
        if (h.length < 8) return false;
        uint32_t rl = wire::DecodeU32(p);
        if (4 + static_cast<uint64_t>(rl) + 4 > h.length) return false;
        uint32_t hl = wire::DecodeU32(p + 4 + rl);
        if (8 + static_cast<uint64_t>(rl) + hl > h.length) return false;
        out_.status = h.aux;
        out_.reason.assign(p + 4, rl);
        out_.headers.assign(p + 8 + rl, hl);
        break;
      }
      case wire::kData:
        if (!out_.chunks.empty() && out_.chunks.back().size() < 16384 && h.length < 16384) {
          out_.chunks.back().append(p, h.length);
        } else {
          out_.chunks.emplace_back(p, h.length);
        }
        unacked_ += h.length;
        break;
      case wire::kEnd:
        out_.end = true;
        out_.abort = h.flags & wire::kAbort;
        end = true;  // one request at a time: nothing follows END until the next REQUEST
        break;
      default:
        return false;
    }
    *any = true;
    pos += wire::kHeaderSize + h.length;
  }
  *used = pos;
  return true;
}

void DaemonLink::ChannelClosed() { channel_ = nullptr; }

void DaemonLink::ChannelLost() {
  channel_ = nullptr;
  Lost(false);
}

void DaemonLink::Emit(int extra_flags) {
  Output out = std::move(out_);
  out_ = Output();
  if (out.end) ReleaseHold();
  int flags = extra_flags | (out.end ? kLinkEnd : 0) | (out.abort ? kLinkAbort : 0);
  Napi::HandleScope scope(env_);
  DispatchLinkOutput(env_, this, out.status, out.reason, out.headers, out.chunks, flags);
}

void DaemonLink::Lost(bool defer) {
  if (closing_) return;
  int flags = kLinkLost | (connected_ ? kLinkConnected : 0);
  Teardown();
  out_ = Output();
  if (defer) return Defer(flags);
  Napi::HandleScope scope(env_);
  std::vector<std::string> none;
  DispatchLinkOutput(env_, this, 0, std::string(), std::string(), none, flags);
}

// From inside a JS call (open, send, push): never call back into JS there; the port delivers
// on the next turn of the loop.
void DaemonLink::Defer(int flags) {
  deferred_flags_ |= flags;
  if (posted_) return;
  posted_ = true;
  port_->Post(this);
}

bool DaemonLink::Deliver(Napi::Env env) {
  posted_ = false;
  int flags = deferred_flags_;
  deferred_flags_ = 0;
  if (closing_ && !(flags & kLinkLost)) return false;
  std::vector<std::string> none;
  DispatchLinkOutput(env, this, 0, std::string(), std::string(), none, flags);
  return false;  // the link lives on; the binding frees it once closed
}

void DaemonLink::Close() { Teardown(); }

void DaemonLink::ReleaseHold() {
  if (held_) {
    held_ = false;
    port_->Release();
  }
}

void DaemonLink::Teardown() {
  if (closing_) return;
  closing_ = true;
  ReleaseHold();
  if (channel_) {
    channel_->Detach(this);
    channel_ = nullptr;
  }
  sock_.Close();
}

}  // namespace pyhost

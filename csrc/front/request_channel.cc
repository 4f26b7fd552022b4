#include "front/request_channel.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "wire/protocol.h"
#include "front/daemon_link.h"

namespace pyhost {

RequestChannel::RequestChannel(uv_loop_t* loop, std::string socket_path, std::vector<RequestChannel*>* flush_list,
                               LinkLookup lookup, std::function<void(RequestChannel*)> on_closing)
    : loop_(loop),
      path_(std::move(socket_path)),
      flush_list_(flush_list),
      lookup_(std::move(lookup)),
      on_closing_(std::move(on_closing)) {
  out_.assign(wire::kHeaderSize, '\0');
  wire::EncodeHeader({wire::kChannel, 0, 0, 0}, &out_[0]);
}

void RequestChannel::Start() { sock_.Connect(loop_, path_); }

void RequestChannel::OnConnect(bool ok, bool) {
  // No daemon: each link fails to connect as well, and its request goes to another process.
  if (!ok) return Teardown();
  connected_ = true;
  UpdatePoll();
  if (!dirty_) {  // CHANNEL, and requests queued meanwhile, go out before the loop polls
    dirty_ = true;
    flush_list_->push_back(this);
  }
}

void RequestChannel::Detach(DaemonLink* link) {
  if (closing_) return;
  links_.erase(link);
  if (links_.empty()) Teardown();
}

void RequestChannel::Send(uint32_t link_id, const char* frame, size_t len) {
  if (closing_ || len < wire::kHeaderSize + 4) return;
  size_t at = out_.size();
  out_.append(frame, len);
  wire::EncodeU32(link_id, &out_[at + wire::kHeaderSize]);
  if (!dirty_) {
    dirty_ = true;
    flush_list_->push_back(this);
  }
}

void RequestChannel::FlushAll(std::vector<RequestChannel*>* list) {
  std::vector<RequestChannel*> now;
  now.swap(*list);
  for (RequestChannel* c : now) {
    c->dirty_ = false;
    if (c->closing_ || !c->connected_) continue;  // written once connected
    if (!c->Flush()) {
      c->Lost();
      continue;
    }
    c->UpdatePoll();
  }
}

bool RequestChannel::Flush() {
  while (out_off_ < out_.size()) {
    ssize_t n = ::send(sock_.fd(), out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      write_blocked_ = errno == EAGAIN || errno == EWOULDBLOCK;
      return write_blocked_;
    }
    out_off_ += static_cast<size_t>(n);
  }
  out_.clear();
  out_off_ = 0;
  write_blocked_ = false;
  return true;
}

void RequestChannel::UpdatePoll() {
  if (closing_ || !connected_) return;
  // Frames queued this turn are flushed before the loop polls: only a full socket needs WRITABLE.
  sock_.Watch(UV_READABLE | (write_blocked_ ? UV_WRITABLE : 0));
}

void RequestChannel::OnPoll(int status, int events) {
  if (closing_) return;
  if (status < 0) return Lost();
  if ((events & UV_WRITABLE) && !Flush()) return Lost();
  if ((events & (UV_READABLE | UV_DISCONNECT)) && !ReadResponses()) return Lost();
  UpdatePoll();
}

bool RequestChannel::ReadResponses() {
  bool open = sock_.ReadAvailable(&in_);  // responses that came before the end still count
  size_t pos = 0;
  while (in_.size() - pos >= wire::kHeaderSize) {
    wire::FrameHeader h = wire::DecodeHeader(in_.data() + pos);
    if (h.type != wire::kResponse || h.length < 4 || h.length > wire::kMaxFrame) return false;
    if (in_.size() - pos - wire::kHeaderSize < h.length) break;
    const char* p = in_.data() + pos + wire::kHeaderSize;
    pos += wire::kHeaderSize + h.length;
    // A link closed meanwhile (the client went away) drops its response.
    if (DaemonLink* link = lookup_(wire::DecodeU32(p))) link->OnChannelResponse(p + 4, h.length - 4);
    if (closing_) return true;  // a JS callback closed the last link
  }
  in_.erase(0, pos);
  return open;
}

void RequestChannel::Lost() {
  if (closing_) return;
  std::vector<DaemonLink*> links(links_.begin(), links_.end());
  Teardown();
  for (DaemonLink* l : links) l->ChannelLost();  // each tells JS: its request has no answer now
}

void RequestChannel::Teardown() {
  if (closing_) return;
  closing_ = true;
  if (dirty_) {
    flush_list_->erase(std::remove(flush_list_->begin(), flush_list_->end(), this), flush_list_->end());
    dirty_ = false;
  }
  on_closing_(this);
  for (DaemonLink* l : links_) l->ChannelClosed();
  links_.clear();
  sock_.Close();  // OnReleased frees the channel
}

}  // namespace pyhost

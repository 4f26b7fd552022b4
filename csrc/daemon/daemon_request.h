// A WSGI request inside a daemon process: its body read from, and its response written to, the
// front's connection by the thread that runs the application (no hand-off between threads). A
// response complete and small at its first write goes on the request channel instead.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/connection_poller.h"
#include "wsgi/inline_run.h"
#include "wsgi/request.h"

namespace pyhost {

// Moves a REQUEST frame's fields (and flags) into what the gateway takes; the group fields
// (kGroupName, kGroupKind, kGroupStrict) are left in place.
void MoveRequestFields(uint8_t flags, std::vector<std::string>* fields, AppSpec* app, RequestHead* head);

class DaemonRequest : public WsgiRequest {
 public:
  DaemonRequest(DaemonConnection* conn, std::shared_ptr<ResponseChannel> channel, AppSpec app, RequestHead head)
      : WsgiRequest(std::move(app), std::move(head)), conn_(conn), channel_(std::move(channel)) {
    in_eof_ = !this->head().has_body;  // a bodiless request sends no BODY_END
  }

  bool ReadInput(std::string* out, int64_t max, bool line) override;
  // Reads and discards body frames the application left unread, up to BODY_END.
  bool DrainBody();
  // The connection broke (the client went away, or the front closed it).
  bool failed() const { return failed_; }
  // The application refused to load here (an extension refused sub-interpreters).
  Refusal* refusal() { return &refusal_; }

 protected:
  void Notify() override;

 private:
  bool NextFrame();
  bool SendfileFrames(int file_fd, int64_t offset, int64_t length);

  DaemonConnection* conn_;
  std::shared_ptr<ResponseChannel> channel_;
  bool wrote_ = false;  // something went out on the connection
  std::string inbuf_;
  size_t inoff_ = 0;
  bool in_eof_;
  bool failed_ = false;
  Refusal refusal_;
};

}  // namespace pyhost

#include "daemon/tenant_host.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "python/deadlines.h"
#include "python/group.h"
#include "python/interp_pool.h"
#include "daemon/daemon_request.h"
#include "python/log.h"
#include "python/pyref.h"
#include "wire/host_protocol.h"
#include "wire/protocol.h"
#include "wsgi/request.h"

namespace pyhost {
namespace {

uint8_t InterruptFlags(InterruptKind k) {
  return k == InterruptKind::kTimeout ? host_wire::kTimedOut : k == InterruptKind::kCancelled ? host_wire::kCancelled : 0;
}

int ToInt(const std::string& s) { return std::atoi(s.c_str()); }

void SetDeadline(Job* job, const std::string& timeout_ms, const std::string& grace_ms) {
  job->timeout_ms = ToInt(timeout_ms);
  job->grace_ms = ToInt(grace_ms);
  job->cancellable = true;
}

// A harness call: `_pyhost_tenant.dispatch(payload)` in the tenant's interpreter; its str result
// goes back as RESULT. The tenant module (installed by the harness) turns every failure of tenant
// code into data; an exception out of dispatch itself (an interrupt landing outside the tenant's
// code, a missing module) is sent as kFailed with its type and message.
class HostCallJob : public Job {
 public:
  HostCallJob(TenantHost* host, uint32_t id, std::string payload) : host_(host), id_(id), payload_(std::move(payload)) {}

  void Run(Worker&) override {
    uint8_t flags = 0;
    std::string text;
    PyRef module(LookupTenantModule());
    if (!module && !PyErr_Occurred()) module.reset(Install(host_->installer()));
    PyRef result;
    if (module) {
      PyRef fn(PyObject_GetAttrString(module.get(), "dispatch"));
      PyRef arg(fn ? PyUnicode_DecodeUTF8(payload_.data(), payload_.size(), "surrogateescape") : nullptr);
      if (arg) result.reset(PyObject_CallOneArg(fn.get(), arg.get()));
    }
    if (result && PyUnicode_Check(result.get())) {
      text = PyStrAsUtf8(result.get());
    } else {
      flags |= host_wire::kFailed;
      if (!module && !PyErr_Occurred()) {
        text = "RuntimeError: the tenant module (_pyhost_tenant) is not installed in this interpreter";
      } else if (PyErr_Occurred()) {
        ErrorInfo e = FetchPythonError();
        text = e.type + ": " + e.message;
      } else {
        text = "TypeError: dispatch() did not return a str";
      }
    }
    flags |= InterruptFlags(EndDeadline());
    {
      GilRelease unlocked;
      host_->Forget(id_);
      host_->Send(host_wire::kResult, flags, id_, {text});
    }
    delete this;
  }

  void Abort(const ErrorInfo& why) override {
    host_->Forget(id_);
    host_->Send(host_wire::kResult, host_wire::kFailed, id_, {why.code + ": " + why.message});
    delete this;
  }

  // On the deadlines thread, which must not wait on the socket.
  void OnStuck() override {
    TenantHost* host = host_;
    uint32_t id = id_;
    host->Later([host, id] { host->Send(host_wire::kStuck, 0, id, {}); });
  }

 private:
  // Runs the installer in this interpreter; returns the module it installed (or null, error set).
  static PyObject* Install(const std::string& installer) {
    if (installer.empty()) return nullptr;
    PyRef globals(PyDict_New());
    if (!globals || PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins()) < 0) return nullptr;
    PyRef r(PyRun_String(installer.c_str(), Py_file_input, globals.get(), globals.get()));
    if (!r) return nullptr;
    return LookupTenantModule();
  }

  static PyObject* LookupTenantModule() {
    PyRef name(PyUnicode_FromString("_pyhost_tenant"));
    PyObject* m = name ? PyImport_GetModule(name.get()) : nullptr;  // new reference, or null
    if (!m) PyErr_Clear();
    return m;
  }

  TenantHost* host_;
  uint32_t id_;
  std::string payload_;
};

// A WSGI request with its whole body given and its whole response collected (tenant.request):
// the gateway runs it on the tenant's worker; every output is taken (and acknowledged) as soon
// as it is ready, so the worker never waits; the response goes back as one RESPONSE frame.
class HostWsgiRequest : public WsgiRequest {
 public:
  HostWsgiRequest(TenantHost* host, uint32_t id, AppSpec app, RequestHead head, const std::string& body)
      : WsgiRequest(std::move(app), std::move(head)), host_(host), id_(id) {
    if (!body.empty()) PushInput(body.data(), body.size());
    EndInput();
  }

  void Run(Worker& w) override {
    WsgiRequest::Run(w);
    InterruptKind k = EndDeadline();  // Finish ended it already, unless the gateway never got there
    uint8_t flags = InterruptFlags(k != InterruptKind::kNone ? k : interrupted_);
    GilRelease unlocked;
    Reply(flags);
    delete this;
  }

  void Abort(const ErrorInfo& why) override {
    WsgiRequest::Abort(why);
    Reply(0);
    delete this;
  }

 protected:
  void Notify() override {
    RequestOutput o = TakeOutput();
    if (o.stuck) {
      // From the deadlines thread, which must not wait on the socket.
      TenantHost* host = host_;
      uint32_t id = id_;
      host->Later([host, id] { host->Send(host_wire::kStuck, 0, id, {}); });
    }
    if (o.end) interrupted_ = o.interrupted;
    if (o.has_head) {
      status_ = o.status;
      reason_ = o.reason;
      headers_ = JoinHeaders(o.headers);
    }
    for (auto& c : o.chunks) body_ += c;
    if (o.chunk_bytes) Ack(o.chunk_bytes);
    if (o.sendfile) {
      ReadRange(o.sendfile_fd, o.sendfile_offset, o.sendfile_length);
      SendfileDone();
    }
    if (!o.refused_module.empty()) {
      // No fallback for a tenant's request: the tenant was placed when it was created.
      status_ = 500;
      reason_ = "Internal Server Error";
      headers_ = "Content-Type\ntext/plain; charset=utf-8";
      body_ = o.refused_message + "\n";
    }
  }

 private:
  void ReadRange(int fd, int64_t offset, int64_t length) {
    char buf[65536];
    while (length != 0) {
      size_t want = length < 0 || length > static_cast<int64_t>(sizeof buf) ? sizeof buf : static_cast<size_t>(length);
      ssize_t n = ::pread(fd, buf, want, offset);
      if (n <= 0) break;
      body_.append(buf, static_cast<size_t>(n));
      offset += n;
      if (length > 0) length -= n;
    }
  }

  void Reply(uint8_t flags) {
    host_->Forget(id_);
    host_->Send(host_wire::kResponse, flags, id_, {std::to_string(status_), reason_, headers_, body_});
  }

  TenantHost* host_;
  uint32_t id_;
  InterruptKind interrupted_ = InterruptKind::kNone;
  int status_ = 500;
  std::string reason_ = "Internal Server Error";
  std::string headers_;
  std::string body_;
};

}  // namespace

bool TenantHost::Send(uint8_t type, uint8_t flags, uint32_t id, const std::vector<std::string>& fields) {
  std::string payload = host_wire::Encode(id, fields);
  std::lock_guard<std::mutex> lock(write_mu_);
  return wire::WriteFrame(fd_, type, flags, 0, payload.data(), payload.size());
}

void TenantHost::Forget(uint32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.erase(id);
}

std::shared_ptr<Group> TenantHost::FindGroup(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : it->second;
}

std::shared_ptr<Group> TenantHost::GroupFor(const std::vector<std::string>& f) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(f[0]);
  if (it != groups_.end()) return it->second;
  GroupOptions o;
  o.name = f[0];
  o.kind = f[1] == "main" ? InterpKind::kMain : f[1] == "own" ? InterpKind::kOwnGil : InterpKind::kSharedGil;
  o.strict_extensions = f[2] == "1";
  o.threads = std::max(1, ToInt(f[4]));
  size_t start = 0;
  while (start < f[5].size()) {  // path entries, NUL-separated
    size_t end = f[5].find('\0', start);
    if (end == std::string::npos) end = f[5].size();
    o.path.push_back(f[5].substr(start, end - start));
    start = end + 1;
  }
  if (f[3] == "1" && o.kind != InterpKind::kMain) {
    o.adopt = InterpPool::Get().Take(o.kind, o.strict_extensions || o.kind == InterpKind::kOwnGil);
  }
  auto g = Group::Create(std::move(o));
  groups_.emplace(f[0], g);
  return g;
}

std::string TenantHost::installer() {
  std::lock_guard<std::mutex> lock(mu_);
  return installer_;
}

void TenantHost::OnPool(const std::vector<std::string>& f) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    installer_ = f[4];
  }
  InterpKind kind = f[0] == "own" ? InterpKind::kOwnGil : InterpKind::kSharedGil;
  InterpPool::Get().SetTarget(kind, f[1] == "1", ToInt(f[2]), f[3]);
}

void TenantHost::Submit(uint32_t id, const std::shared_ptr<Group>& group, Job* job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_[id] = {group, 0};
  }
  uint64_t seq = group->Submit(job);
  // The job may have ended (and forgotten its id) already.
  std::lock_guard<std::mutex> lock(mu_);
  auto it = calls_.find(id);
  if (it != calls_.end()) it->second.second = seq;
}

void TenantHost::OnCall(uint32_t id, std::vector<std::string>& f) {
  auto group = GroupFor(f);
  auto* job = new HostCallJob(this, id, std::move(f[8]));
  SetDeadline(job, f[6], f[7]);
  Submit(id, group, job);
}

void TenantHost::OnRequest(uint32_t id, std::vector<std::string>& f) {
  auto group = FindGroup(f[0]);
  std::vector<std::string> fields;
  if (!group) {
    Send(host_wire::kResult, host_wire::kFailed, id, {"ERR_TENANT_GONE: no tenant group " + f[0] + " in this host"});
    return;
  }
  if (!wire::DecodeFields(f[4], &fields)) {
    Send(host_wire::kResult, host_wire::kFailed, id, {"ERR_PROTOCOL: malformed request fields"});
    return;
  }
  AppSpec app;
  RequestHead head;
  MoveRequestFields(static_cast<uint8_t>(ToInt(f[3])), &fields, &app, &head);
  head.multithread = false;
  auto* req = new HostWsgiRequest(this, id, std::move(app), std::move(head), f[5]);
  SetDeadline(req, f[1], f[2]);
  Submit(id, group, req);
}

void TenantHost::OnDrop(uint32_t id, const std::vector<std::string>& f) {
  std::shared_ptr<Group> group;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = groups_.find(f[0]);
    if (it != groups_.end()) {
      group = it->second;
      groups_.erase(it);
    }
  }
  if (!group) {
    Send(host_wire::kResult, 0, id, {"ended"});
    return;
  }
  // One answer: the interpreter ended (or could not be), or the wait ran out first.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto answer = [this, id, answered](const char* outcome) {
    if (!answered->exchange(true)) Send(host_wire::kResult, 0, id, {outcome});
  };
  group->CloseAndWait([answer](bool ended) { answer(ended ? "ended" : "stuck"); });
  Later([answer] { answer("stuck"); }, std::chrono::milliseconds(ToInt(f[1])));
}

void TenantHost::Later(std::function<void()> task, std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mu_);
  tasks_.emplace(std::chrono::steady_clock::now() + delay, std::move(task));
  tasks_cv_.notify_one();
}

void TenantHost::TaskLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (tasks_.empty()) {
      tasks_cv_.wait(lock);
      continue;
    }
    auto first = tasks_.begin();
    if (first->first > std::chrono::steady_clock::now()) {
      tasks_cv_.wait_until(lock, first->first);
      continue;
    }
    auto task = std::move(first->second);
    tasks_.erase(first);
    lock.unlock();
    task();
    lock.lock();
  }
}

void TenantHost::OnCancel(uint32_t id) {
  std::shared_ptr<Group> group;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    group = it->second.first.lock();
    seq = it->second.second;
  }
  if (group && seq) Deadlines::Get().Cancel(group.get(), seq);
}

void TenantHost::Serve() {
  std::thread([this] { TaskLoop(); }).detach();
  std::string payload;
  std::vector<std::string> f;
  for (;;) {
    char head[wire::kHeaderSize];
    if (!wire::ReadFull(fd_, head, sizeof head)) return;
    wire::FrameHeader h = wire::DecodeHeader(head);
    if (h.length > wire::kMaxFrame) {
      Log(LogLevel::kError, name_, "protocol error: a frame of " + std::to_string(h.length) + " bytes");
      return;
    }
    payload.resize(h.length);
    if (h.length && !wire::ReadFull(fd_, payload.data(), h.length)) return;
    uint32_t id = 0;
    bool ok = false;
    switch (h.type) {
      case host_wire::kPool:
        if ((ok = host_wire::Decode(payload, &id, &f, 5))) OnPool(f);
        break;
      case host_wire::kCall:
        if ((ok = host_wire::Decode(payload, &id, &f, 9))) OnCall(id, f);
        break;
      case host_wire::kRequest:
        if ((ok = host_wire::Decode(payload, &id, &f, 6))) OnRequest(id, f);
        break;
      case host_wire::kDrop:
        if ((ok = host_wire::Decode(payload, &id, &f, 2))) OnDrop(id, f);
        break;
      case host_wire::kCancel:
        if ((ok = host_wire::Decode(payload, &id, &f, 0))) OnCancel(id);
        break;
      default:
        break;
    }
    if (!ok) {
      Log(LogLevel::kError, name_, "protocol error: malformed frame of type " + std::to_string(h.type));
      return;
    }
  }
}

}  // namespace pyhost

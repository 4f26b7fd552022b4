// A tenant host: a pyhost-daemon process started with --tenant-host, running harness tenants
// (each an application group of its own) for the one harness that connects to it, over the
// protocol of host_protocol.h. Anything fatal a tenant does (exit, abort, a signal, running out
// of memory) ends only this process: the harness sees the connection close and the exit status,
// answers the calls in flight, and re-creates the tenants in a fresh host. The harness decides
// everything else (placement, timeouts, what to do with a stuck call); the host executes.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pyhost {

class Group;
class Job;

class TenantHost {
 public:
  TenantHost(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  // Reads and serves frames until the harness closes the connection. Python runs already.
  void Serve();
  // Any thread: one frame to the harness (serialised; false once the connection is gone).
  bool Send(uint8_t type, uint8_t flags, uint32_t id, const std::vector<std::string>& fields);
  // Any thread, never waits: runs `task` on the host's own task thread at `when` (now by
  // default): frames sent from threads that must not wait on the socket (the deadlines
  // thread), and timers. One long-lived thread, so nothing here needs a new thread at a moment
  // when the process may have none to give (a tenant ate the address space).
  void Later(std::function<void()> task, std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  // A call ended: it can no longer be cancelled.
  void Forget(uint32_t id);
  // The Python that installs the tenant module (from POOL): run first in an interpreter that
  // did not come from the warm pool.
  std::string installer();

 private:
  void TaskLoop();
  // CALL fields: {group, kind, strict, pooled, threads, path, ...}: the group, created on first use.
  std::shared_ptr<Group> GroupFor(const std::vector<std::string>& f);
  std::shared_ptr<Group> FindGroup(const std::string& name);
  // Queues a call's job in its group, remembered (for CANCEL) until it forgets itself.
  void Submit(uint32_t id, const std::shared_ptr<Group>& group, Job* job);
  void OnPool(const std::vector<std::string>& f);
  void OnCall(uint32_t id, std::vector<std::string>& f);
  void OnRequest(uint32_t id, std::vector<std::string>& f);
  void OnDrop(uint32_t id, const std::vector<std::string>& f);
  void OnCancel(uint32_t id);

  int fd_;
  std::string name_;
  std::mutex write_mu_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Group>> groups_;
  std::string installer_;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> tasks_;  // under mu_
  std::condition_variable tasks_cv_;
  // Calls in flight, for CANCEL: id -> (group, job seq; 0 until submitted).
  std::map<uint32_t, std::pair<std::weak_ptr<Group>, uint64_t>> calls_;
};

}  // namespace pyhost

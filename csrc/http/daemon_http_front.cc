#include "http/daemon_http_front.h"

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace pyhost {

bool DaemonHttpFront::Start(const std::string& config_path, const GroupMaker& make_group, std::string* err) {
  std::ifstream file(config_path);
  if (!file) {
    *err = "cannot read the http config " + config_path;
    return false;
  }
  std::stringstream text;
  text << file.rdbuf();
  HttpServerOptions opts;
  if (!ReadTextOptions(text.str(), make_group, &opts, err)) return false;
  opts.log_group = "native front";
  maximum_requests_ = opts.max_requests;
  if (opts.max_requests > 0) {
    // Up to 10% more, so processes started together are not all replaced at once.
    opts.max_requests += static_cast<int64_t>(std::random_device()() % static_cast<uint64_t>(opts.max_requests / 10 + 1));
  }
  server_ = std::make_unique<HttpServer>(std::move(opts), false);
  server_->set_on_idle([this] {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_one();
  });
  if (!server_->Start(err)) return false;
  std::thread([this] { Report(); }).detach();
  return true;
}

void DaemonHttpFront::Report() {
  uint64_t requests = 0;
  int inflight = 0;
  bool told = false;
  while (!stopping_.load()) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(100));
    }
    HttpServer::Stats s = server_->stats();
    if (s.requests == requests && s.inflight == inflight) continue;
    requests = s.requests;
    inflight = s.inflight;
    std::printf("SERVED %llu %d\n", static_cast<unsigned long long>(requests), inflight);
    if (s.exhausted && !told) {
      told = true;
      std::printf("RECYCLE maximum-requests %lld reached\n", static_cast<long long>(maximum_requests_));
    }
    std::fflush(stdout);
    // At most one report per 5 ms, however busy the process.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void DaemonHttpFront::Stop(std::chrono::steady_clock::time_point deadline) {
  if (!server_ || stopping_.exchange(true)) return;
  server_->StopAccepting();
  while (server_->stats().inflight > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server_->Shutdown(deadline);
}

}  // namespace pyhost

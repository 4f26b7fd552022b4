#include "http/daemon_http_front.h"

#include <cstdio>
#include <fstream>
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
  server_ = std::make_unique<HttpServer>(std::move(opts), false);
  if (!server_->Start(err)) return false;
  std::thread([this] { Report(); }).detach();
  return true;
}

void DaemonHttpFront::Report() {
  uint64_t requests = 0;
  int inflight = 0;
  while (!stopping_.load()) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    HttpServer::Stats s = server_->stats();
    if (s.requests == requests && s.inflight == inflight) continue;
    requests = s.requests;
    inflight = s.inflight;
    std::printf("SERVED %llu %d\n", static_cast<unsigned long long>(requests), inflight);
    std::fflush(stdout);
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

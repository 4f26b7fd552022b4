#include "python/sleep.h"

#include <pythread.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace pyhost {
namespace {

struct Sleeper {
  std::condition_variable cv;
  bool woken = false;
};

// Threads asleep now, by thread ident; one mutex guards the table and every sleeper's flag.
std::mutex sleepers_mu;
std::unordered_map<unsigned long, Sleeper*> sleepers;

}  // namespace

void WakeSleeper(unsigned long ident) {
  SettleWaiter(ident, [] {});
}

void SettleWaiter(unsigned long ident, const std::function<void()>& settle) {
  std::lock_guard<std::mutex> lock(sleepers_mu);
  settle();
  auto it = sleepers.find(ident);
  if (it == sleepers.end()) return;
  it->second->woken = true;
  it->second->cv.notify_one();
}

bool WaitInterruptibly(std::chrono::steady_clock::time_point until, const std::function<bool()>& ready) {
  const unsigned long ident = PyThread_get_thread_ident();
  Sleeper self;
  std::unique_lock<std::mutex> lock(sleepers_mu);
  if (ready()) return true;
  sleepers[ident] = &self;
  self.cv.wait_until(lock, until, [&] { return self.woken || ready(); });
  sleepers.erase(ident);
  return ready();
}

PyObject* InterruptibleSleep(PyObject*, PyObject* arg) {
  if (!PyFloat_Check(arg) && !PyLong_Check(arg)) {
    PyErr_Format(PyExc_TypeError, "'%s' object cannot be interpreted as an integer or float", Py_TYPE(arg)->tp_name);
    return nullptr;
  }
  double seconds = PyFloat_AsDouble(arg);
  if (seconds == -1.0 && PyErr_Occurred()) return nullptr;
  if (std::isnan(seconds)) {
    PyErr_SetString(PyExc_ValueError, "Invalid value NaN (not a number)");
    return nullptr;
  }
  if (seconds < 0) {
    PyErr_SetString(PyExc_ValueError, "sleep length must be non-negative");
    return nullptr;
  }
  if (seconds > 1e9) seconds = 1e9;  // ~31 years: beyond it the deadline would overflow
  Py_BEGIN_ALLOW_THREADS;
  if (seconds == 0) {
    std::this_thread::yield();
  } else {
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
    WaitInterruptibly(until, [] { return false; });
  }
  Py_END_ALLOW_THREADS;
  Py_RETURN_NONE;
}

}  // namespace pyhost

// A fault-injecting TCP proxy for integration tests. It listens on 127.0.0.1 (an ephemeral
// port) and forwards the bytes of every accepted connection, both ways, to one target
// address, so a test can put it between two nodes and cut the link at will: Cut closes every
// forwarded connection and makes the proxy close new ones as soon as it accepts them (the
// dialer sees its peer hang up, as when the peer's host is unreachable), and Heal forwards
// again. Half-closes are forwarded, so a peer's last words before it hangs up arrive.
//
// One thread runs a poll() loop over the listener, every connection and a wake-up pipe; it
// owns every socket. The public methods are thread-safe; Cut and Heal return once the loop
// has applied them. The destructor stops the loop, joins the thread and closes every socket.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace minetrace::testing {

class FaultProxy {
 public:
  // `target_address` is "127.0.0.1:<port>" (IPv4 loopback only: tests run on 127.0.0.1).
  // Listening failures fail the test (gtest) and leave port() at 0.
  explicit FaultProxy(std::string target_address);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& target() const { return target_; }

  void Cut();   // closes every current connection; new ones are accepted and closed at once
  void Heal();  // forwards new connections again
  bool cut() const;
  // Connections accepted since construction (forwarded or closed at once by a cut).
  uint64_t accepted() const;

 private:
  void Run();
  void Wake();
  // Blocks until the loop has run past the point at which it was called.
  void WaitForLoop(std::unique_lock<std::mutex>& lock);

  const std::string target_;
  uint16_t target_port_ = 0;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: the loop polls the read end

  mutable std::mutex mu_;
  std::condition_variable loop_cv_;
  bool cut_ = false;       // guarded by mu_
  bool stop_ = false;      // guarded by mu_
  uint64_t requests_ = 0;  // guarded by mu_; Cut/Heal calls so far, never decreases
  uint64_t applied_ = 0;   // guarded by mu_; requests the loop has applied, <= requests_
  uint64_t accepted_ = 0;  // guarded by mu_
  std::thread thread_;     // started last, joined in the destructor
};

}  // namespace minetrace::testing

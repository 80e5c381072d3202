#include "fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace minetrace::testing {
namespace {

// Bytes buffered per direction before the proxy stops reading from the sender.
constexpr size_t kBufferMaxBytes = 4 << 20;
constexpr size_t kReadChunkBytes = 64 << 10;
// Connections forwarded at once; more are closed as soon as they are accepted.
constexpr size_t kConnectionsMax = 256;

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return addr;
}

// One forwarded connection: fd[0] was accepted from the dialer, fd[1] dials the target.
// buf[d] holds bytes read from fd[d] that are not yet written to fd[1 - d].
struct Link {
  std::array<int, 2> fd = {-1, -1};
  bool connecting = true;  // fd[1]'s non-blocking connect is in progress
  std::array<std::string, 2> buf;
  std::array<bool, 2> eof = {false, false};      // fd[d] has sent its last byte
  std::array<bool, 2> shut_on = {false, false};  // shutdown(fd[1 - d], SHUT_WR) done
  bool dead = false;

  ~Link() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
  bool done() const { return dead || (shut_on[0] && shut_on[1]); }
};

// Reads what fd[d] has; false on a read error.
bool Pull(Link& link, int d) {
  std::array<char, kReadChunkBytes> chunk;
  const size_t room = kBufferMaxBytes - link.buf[d].size();
  const ssize_t n = ::read(link.fd[d], chunk.data(), std::min(room, chunk.size()));
  if (n > 0) {
    link.buf[d].append(chunk.data(), static_cast<size_t>(n));
  } else if (n == 0) {
    link.eof[d] = true;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    return false;
  }
  return true;
}

// Writes what it can of buf[d] to fd[1 - d]; false on a write error.
bool Push(Link& link, int d) {
  std::string& buf = link.buf[d];
  while (!buf.empty()) {
    const ssize_t n = ::send(link.fd[1 - d], buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n > 0) {
      buf.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    return false;
  }
  return true;
}

}  // namespace

FaultProxy::FaultProxy(std::string target_address) : target_(std::move(target_address)) {
  const size_t colon = target_.rfind(':');
  EXPECT_NE(colon, std::string::npos) << "target " << target_;
  if (colon == std::string::npos) return;
  EXPECT_EQ(target_.substr(0, colon), "127.0.0.1") << "target " << target_;
  target_port_ = static_cast<uint16_t>(std::stoi(target_.substr(colon + 1)));

  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    ADD_FAILURE() << "fault proxy cannot listen: " << std::strerror(errno);
    return;
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wake_fds_, O_NONBLOCK | O_CLOEXEC) != 0) {
    ADD_FAILURE() << "fault proxy cannot make a pipe: " << std::strerror(errno);
    port_ = 0;
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

FaultProxy::~FaultProxy() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  for (int f : {listen_fd_, wake_fds_[0], wake_fds_[1]}) {
    if (f >= 0) ::close(f);
  }
}

void FaultProxy::Wake() {
  if (wake_fds_[1] < 0) return;
  const char byte = 1;
  // A full pipe already wakes the loop: a failed write loses nothing.
  [[maybe_unused]] ssize_t n = ::write(wake_fds_[1], &byte, 1);
}

void FaultProxy::WaitForLoop(std::unique_lock<std::mutex>& lock) {
  const uint64_t mine = ++requests_;
  lock.unlock();
  Wake();
  lock.lock();
  if (!thread_.joinable()) return;  // never started: nothing to apply
  loop_cv_.wait(lock, [&] { return applied_ >= mine || stop_; });
}

void FaultProxy::Cut() {
  std::unique_lock lock(mu_);
  cut_ = true;
  WaitForLoop(lock);
}

void FaultProxy::Heal() {
  std::unique_lock lock(mu_);
  cut_ = false;
  WaitForLoop(lock);
}

bool FaultProxy::cut() const {
  std::lock_guard lock(mu_);
  return cut_;
}

uint64_t FaultProxy::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

void FaultProxy::Run() {
  std::vector<std::unique_ptr<Link>> links;
  std::vector<pollfd> fds;
  while (true) {
    bool refusing = false;
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
      refusing = cut_;
      if (refusing) links.clear();  // closes every socket: both ends see the connection end
      applied_ = requests_;
    }
    loop_cv_.notify_all();

    // [0] wake pipe, [1] listener, then two entries per link.
    fds.clear();
    fds.push_back({wake_fds_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& link : links) {
      for (int d = 0; d < 2; ++d) {
        short events = 0;
        if (link->connecting) {
          if (d == 1) events = POLLOUT;
        } else {
          if (!link->eof[d] && link->buf[d].size() < kBufferMaxBytes) events |= POLLIN;
          if (!link->buf[1 - d].empty()) events |= POLLOUT;
        }
        fds.push_back({link->fd[d], events, 0});
      }
    }
    // The timeout only bounds how stale a missed wake-up can make the loop.
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) {
      ADD_FAILURE() << "fault proxy poll failed: " << std::strerror(errno);
      break;
    }
    if (fds[0].revents != 0) {
      std::array<char, 64> drain;
      while (::read(wake_fds_[0], drain.data(), drain.size()) > 0) {
      }
    }

    for (size_t i = 0; i < links.size(); ++i) {
      Link& link = *links[i];
      const pollfd* p = &fds[2 + 2 * i];
      if (link.connecting) {
        if (p[1].revents == 0) continue;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(link.fd[1], SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          link.dead = true;  // the target is down: the dialer sees its connection end
          continue;
        }
        link.connecting = false;
        continue;
      }
      for (int d = 0; d < 2 && !link.dead; ++d) {
        const short re = p[d].revents;
        if (re & POLLERR) {
          link.dead = true;
        } else if (re & (POLLIN | POLLHUP)) {
          if (p[d].events & POLLIN) {
            if (!Pull(link, d)) link.dead = true;
          } else if (re & POLLHUP) {
            link.dead = true;  // hung up while we could not read: nothing more will come
          }
        }
      }
      for (int d = 0; d < 2 && !link.dead; ++d) {
        if (!Push(link, d)) link.dead = true;
        if (!link.dead && link.eof[d] && link.buf[d].empty() && !link.shut_on[d]) {
          ::shutdown(link.fd[1 - d], SHUT_WR);
          link.shut_on[d] = true;
        }
      }
    }
    std::erase_if(links, [](const auto& link) { return link->done(); });

    if (fds[1].revents != 0) {
      while (true) {
        const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) break;  // EAGAIN, or an error the next poll reports again
        {
          std::lock_guard lock(mu_);
          ++accepted_;
          refusing = cut_;
        }
        if (refusing || links.size() >= kConnectionsMax) {
          ::close(client);
          continue;
        }
        auto link = std::make_unique<Link>();
        link->fd[0] = client;
        link->fd[1] = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (link->fd[1] < 0) continue;  // closes the client
        const int one = 1;
        ::setsockopt(link->fd[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::setsockopt(link->fd[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in target = Loopback(target_port_);
        if (::connect(link->fd[1], reinterpret_cast<sockaddr*>(&target), sizeof target) == 0) {
          link->connecting = false;
        } else if (errno != EINPROGRESS) {
          continue;  // refused: closes the client
        }
        links.push_back(std::move(link));
      }
    }
  }
  links.clear();
  std::lock_guard lock(mu_);
  applied_ = requests_;
  loop_cv_.notify_all();
}

}  // namespace minetrace::testing

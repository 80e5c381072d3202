// PeerTransport connects the node to the other nodes of its chain over TCP (Boost.Asio) and
// carries opaque application messages (consensus) between them. It owns the listening socket,
// every peer connection and the redial timers; callers own the io_context and the node key.
// Thread-safety: none. Every method must be called on the thread that runs the io_context,
// and every callback runs there too; nothing here takes a lock.
//
// Wire format. A frame is a 4-byte big-endian length followed by that many bytes of one
// v1::TransportFrame (proto/minetrace/v1/transport.proto). A frame longer than
// max_frame_bytes closes the connection; before the handshake is done the bound is
// kHandshakeFrameMaxBytes. Bytes are buffered as they arrive, so a peer never makes the
// transport allocate more than it has actually sent (plus one read chunk).
//
// Handshake. On connect both sides send Hello{chain_id, genesis_hash, node_key, nonce,
// version}; the nonce is 32 fresh random bytes per connection. On the peer's Hello a side
// checks the version, chain id, genesis hash, that node_key has 32 bytes, is not its own key,
// is in `admitted`, and (when it dialed) is the key it dialed. If any check fails it sends
// Refusal{reason} and closes. Otherwise it sends HelloAuth{signature}: the BIP340 signature by
// its node key of HandshakeHash(chain_id, genesis_hash, peer's nonce, own nonce, own key),
//   SHA256("minetrace/handshake/v1" || u32be(len(chain_id)) || chain_id || genesis_hash(32)
//          || receiver_nonce(32) || signer_nonce(32) || signer_key(32)),
// so a signature answers the receiver's fresh nonce and cannot be replayed on another
// connection. A side that verifies the peer's HelloAuth against the peer's Hello key and its
// own nonce considers the connection established. The handshake (including the TCP connect of
// an outbound attempt) must finish within handshake_timeout or the socket is closed.
//
// Who dials. A listed peer is dialed when exactly one side of the pair is meant to: an
// observer dials validators, a validator never dials observers, and between two nodes of the
// same role only the one with the bytewise smaller key dials. Inbound connections from any
// admitted key are accepted. When a second connection with a key is established the newer
// one replaces the older (which is closed): that is how a restarted peer comes back.
// Failed dials and lost connections are retried after an exponential back-off from
// backoff_min to backoff_max, each delay drawn from [d/2, d] with the injected randomness.
//
// Sending. Each connection has a queue bounded by max_send_queue_bytes and at most one write
// in flight; Send drops the message and returns false when the peer is not connected or the
// queue is full (consensus tolerates loss and retransmits).
//
// Logging. Nothing a peer sends produces more than a couple of lines per connection, and
// lines about connections that never complete a handshake are rate limited globally.
//
// TLS (optional). When tls_cert_file, tls_key_file and tls_ca_file are all set, every
// connection, inbound and outbound, first runs a mutual TLS 1.3 handshake (Boost.Asio ssl over
// OpenSSL) right after the TCP connect or accept, within the same handshake_timeout; the
// framing and the signed Hello/HelloAuth exchange above then run inside the TLS session. Each
// side requires the other's certificate chain to verify against tls_ca_file; there is no host
// name check, because a node's identity is its node key, proven by the signed handshake. TLS
// adds confidentiality and integrity of the frames after the handshake. A TLS node and a plain
// node cannot talk: the TLS side reports "TLS handshake with <address> failed: <reason>"; a
// plain side that was dialed reports that the peer started a TLS handshake, one that dialed
// only sees the connection closed.
//
// Limits: without TLS there is no per-frame authentication; the handshake proves who opened
// the connection, but an on-path attacker could inject or alter frames afterwards. With TLS a
// certificate is not bound to a node key: any holder of a certificate from the CA can open a
// TLS session, and only the signed handshake decides who it is.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/crypto/keys.h"

namespace minetrace::v1 {
class Hello;
}  // namespace minetrace::v1

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace minetrace::node {

inline constexpr std::string_view kHandshakeDomain = "minetrace/handshake/v1";
inline constexpr uint32_t kTransportVersion = 1;
// Hello, HelloAuth and Refusal are a few hundred bytes; a larger frame before the handshake
// is done is not from a minetrace node and must not make us buffer megabytes.
inline constexpr size_t kHandshakeFrameMaxBytes = 4096;
// Refusal reasons are cut to this length before they are sent, logged or stored.
inline constexpr size_t kReasonMaxBytes = 512;

// The 32-byte hash a node signs in its HelloAuth (see the header comment).
Hash32 HandshakeHash(std::string_view chain_id, const Hash32& genesis_hash,
                     const Hash32& receiver_nonce, const Hash32& signer_nonce,
                     const crypto::PublicKey& signer_key);

struct HostPort {
  std::string host;  // without brackets for IPv6 ("::1")
  uint16_t port = 0;
};
// "host:port" or "[v6addr]:port"; the port is decimal 0..65535. kInvalidArgument otherwise,
// with a message that quotes the input.
Result<HostPort> ParseHostPort(std::string_view address);

// Fills its argument with unpredictable bytes. Used for handshake nonces and back-off jitter.
using RandomBytes = std::function<void(std::span<uint8_t>)>;
// The operating system's random source, the one crypto::PrivateKey::Generate uses.
void SystemRandomBytes(std::span<uint8_t> out);

struct PeerAddress {
  crypto::PublicKey key{};
  std::string address;    // "host:port"
  bool validator = true;  // false for an observer (validators never dial observers)
};

struct PeerTransportConfig {
  std::string chain_id;
  Hash32 genesis_hash{};
  std::string listen = "127.0.0.1:7100";    // port 0 picks an ephemeral port (see listen_port)
  std::vector<PeerAddress> peers;           // dialed subject to the rule in the header comment
  std::vector<crypto::PublicKey> admitted;  // every key that may connect (validators+observers)
  bool self_is_validator = true;
  size_t max_frame_bytes = 16 << 20;       // per frame, in either direction
  size_t max_send_queue_bytes = 32 << 20;  // per connection, framed bytes not yet written
  size_t max_handshaking = 64;             // connections not yet established, in + out
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds handshake_timeout{5000};
  // PEM files. All three set: mutual TLS on every connection (see the header comment); none
  // set: plain TCP. Start refuses a partial set.
  std::string tls_cert_file;  // this node's certificate (chain), sent to every peer
  std::string tls_key_file;   // its private key
  std::string tls_ca_file;    // the CA certificate(s) a peer's chain must verify against
};

struct PeerInfo {
  crypto::PublicKey key{};
  std::string address;  // configured address, or the remote endpoint of an inbound peer
  bool connected = false;
  bool outbound = false;    // of the current (or last) established connection
  size_t queued_bytes = 0;  // waiting in the send queue
  std::string last_error;   // why the last attempt or connection failed; empty if none yet
  uint64_t frames_in = 0;   // application frames received, over all connections with the key
  uint64_t frames_out = 0;  // application frames accepted by Send/Broadcast (queued)
};

class PeerTransport {
 public:
  struct Handlers {
    // An application frame from an established peer, in the order the peer sent it.
    std::function<void(const crypto::PublicKey&, std::string&& app_bytes)> on_message;
    // A connection with the key is established (also when it replaces an older one; then
    // on_disconnected for the older one comes first). Every on_connected is followed by one
    // on_disconnected unless Stop comes first.
    std::function<void(const crypto::PublicKey&)> on_connected;
    std::function<void(const crypto::PublicKey&)> on_disconnected;
  };

  // `io` and `key` must outlive the transport. `random` defaults to SystemRandomBytes.
  // Callbacks may call Send, Broadcast, Peers and Stop, but must not destroy the transport.
  PeerTransport(boost::asio::io_context& io, const crypto::PrivateKey& key,
                PeerTransportConfig config, std::shared_ptr<spdlog::logger> log, Handlers handlers,
                RandomBytes random = {});
  ~PeerTransport();  // calls Stop
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Checks the config and loads the TLS files if set (kInvalidArgument), binds and listens
  // (kUnavailable "cannot listen for peers on X: <reason>"), then starts dialing. Call once.
  Result<void> Start();
  // Closes the listener and every connection and cancels every timer. It calls no callback
  // (not on_disconnected either) and none runs after it returns; pending handlers see
  // operation_aborted. Idempotent.
  void Stop();

  // Queues an application message for an established peer. False (and the message is
  // dropped) when the peer is not connected, its queue is full or the frame is too large.
  bool Send(const crypto::PublicKey& to, std::string app_bytes);
  // Sends to every established peer whose queue has room; returns how many.
  size_t Broadcast(const std::string& app_bytes);

  // Every listed peer and every key that has been connected, sorted by key.
  std::vector<PeerInfo> Peers() const;
  // The bound port (useful with port 0); 0 before Start.
  uint16_t listen_port() const { return listen_port_; }

  class Connection;  // one TCP connection; defined in peer_transport.cc

 private:
  friend class Connection;
  struct PeerRecord;

  Result<void> LoadTls();
  bool ShouldDial(const PeerAddress& peer) const;
  void Accept();
  void Dial(const crypto::PublicKey& key);
  void ScheduleRedial(const crypto::PublicKey& key);
  std::shared_ptr<Connection> NewConnection(boost::asio::ip::tcp::socket socket, bool outbound);
  Hash32 NewNonce();
  // Called by connections.
  std::string CheckHello(const Connection& conn, const v1::Hello& hello) const;
  void OnEstablished(const std::shared_ptr<Connection>& conn);
  void OnMessage(const Connection& conn, std::string&& app);
  void OnClosed(const std::shared_ptr<Connection>& conn, const std::string& reason,
                bool refused_by_peer);
  bool AllowPeerLog();  // global budget for lines about unauthenticated connections
  PeerRecord& Record(const crypto::PublicKey& key);
  bool Enqueue(Connection& conn, const std::shared_ptr<const std::string>& framed);

  boost::asio::io_context& io_;
  const crypto::PrivateKey& key_;
  const PeerTransportConfig config_;
  const std::shared_ptr<spdlog::logger> log_;
  const Handlers handlers_;
  const RandomBytes random_;
  // Handlers of the transport's own async operations (accept, redial timers) hold a weak copy
  // and do nothing once it has expired: the transport is gone.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  bool started_ = false;
  bool stopped_ = false;
  uint16_t listen_port_ = 0;
  std::set<crypto::PublicKey> admitted_;
  // Set by Start when TLS is configured; every connection's TLS session is made from it.
  std::unique_ptr<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;  // after a failed accept (e.g. out of descriptors)
  // Every open connection (connecting, handshaking or established). Invariant: a connection
  // is in this set iff it is not closed.
  std::set<std::shared_ptr<Connection>> connections_;
  // The one established connection per key (the newest). Invariant: each value is in
  // connections_ and its handshake is done.
  std::map<crypto::PublicKey, std::shared_ptr<Connection>> established_;
  std::map<crypto::PublicKey, std::unique_ptr<PeerRecord>> records_;
  // Rate limit for lines about unauthenticated connections: at most kPeerLogBurst per window.
  std::chrono::steady_clock::time_point log_window_start_{};
  uint32_t log_window_lines_ = 0;
  uint64_t log_suppressed_ = 0;
};

}  // namespace minetrace::node

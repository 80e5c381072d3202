#include "peer_transport.h"

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "minetrace/base/assert.h"
#include "minetrace/crypto/sha256.h"
#include "minetrace/v1/transport.pb.h"

namespace minetrace::node {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kReadChunkBytes = 64 << 10;
// Lines about connections that never completed a handshake: at most kPeerLogBurst per window.
constexpr auto kPeerLogWindow = std::chrono::seconds(10);
constexpr uint32_t kPeerLogBurst = 20;
// After we refuse a peer we wait this long (at most) for it to read the Refusal and close.
constexpr auto kLingerMax = std::chrono::milliseconds(1000);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

std::string ShortHex(ByteView bytes) {
  return ToHex(bytes.subspan(0, std::min<size_t>(bytes.size(), 8))) + "..";
}

// Peer-provided text goes into logs and PeerInfo: printable ASCII only, bounded length.
std::string Sanitize(std::string_view text, size_t max_bytes = kReasonMaxBytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (char c : text.substr(0, max_bytes)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

std::string Endpoint(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(ep.port());
}

// 4-byte big-endian length, then the frame.
std::shared_ptr<const std::string> Encode(const v1::TransportFrame& frame) {
  const size_t size = frame.ByteSizeLong();
  MT_ASSERT(size <= UINT32_MAX);
  auto out = std::make_shared<std::string>();
  out->reserve(4 + size);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((size >> shift) & 0xff));
  }
  MT_ASSERT(frame.AppendToString(out.get()));
  MT_ASSERT(out->size() == 4 + size);
  return out;
}

uint32_t ReadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

}  // namespace

Hash32 HandshakeHash(std::string_view chain_id, const Hash32& genesis_hash,
                     const Hash32& receiver_nonce, const Hash32& signer_nonce,
                     const crypto::PublicKey& signer_key) {
  MT_ASSERT(chain_id.size() <= UINT32_MAX);
  std::string len;
  for (int shift = 24; shift >= 0; shift -= 8) {
    len.push_back(static_cast<char>((chain_id.size() >> shift) & 0xff));
  }
  crypto::Sha256Hasher h;
  h.Update(kHandshakeDomain)
      .Update(len)
      .Update(chain_id)
      .Update(ByteView(genesis_hash))
      .Update(ByteView(receiver_nonce))
      .Update(ByteView(signer_nonce))
      .Update(ByteView(signer_key));
  return h.Finish();
}

Result<HostPort> ParseHostPort(std::string_view address) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "bad address \"" + Sanitize(address, 128) + "\": " + std::string(why));
  };
  HostPort out;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos) return bad("missing ']' after an IPv6 address");
    out.host = std::string(address.substr(1, close - 1));
    if (close + 1 >= address.size() || address[close + 1] != ':') {
      return bad("expected \"[v6addr]:port\"");
    }
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad("expected \"host:port\"");
    out.host = std::string(address.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return bad("an IPv6 address must be written in brackets, as \"[::1]:7100\"");
    }
    port = address.substr(colon + 1);
  }
  if (out.host.empty()) return bad("the host is empty");
  if (port.empty() || port.size() > 5) return bad("the port must be a number from 0 to 65535");
  uint32_t value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

void SystemRandomBytes(std::span<uint8_t> out) {
  // crypto exposes the OS random source (OpenSSL RAND_bytes) only through key generation; a
  // fresh secret is 32 bytes from it, rejected only when >= n (probability below 2^-127), so
  // its bytes are as unpredictable as the source's.
  while (!out.empty()) {
    auto key = crypto::PrivateKey::Generate();
    MT_ASSERT(key.has_value());  // a process without a random source must not run a node
    const size_t n = std::min(out.size(), key->secret().size());
    std::memcpy(out.data(), key->secret().data(), n);
    out = out.subspan(n);
  }
}

// ---- Connection ----

struct PeerTransport::PeerRecord {
  explicit PeerRecord(asio::io_context& io) : redial(io) {}
  std::string address;
  bool listed = false;
  bool dial = false;  // we dial this key (listed and the dial rule says so)
  bool outbound = false;
  std::string last_error;
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  std::chrono::milliseconds backoff{0};  // the next redial delay before jitter
  asio::steady_timer redial;
  bool redial_armed = false;
  std::weak_ptr<Connection> attempt;  // our outbound attempt not yet established, if any
};

class PeerTransport::Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State { kConnecting, kHandshake, kEstablished, kLingering, kClosed };

  Connection(PeerTransport& owner, tcp::socket socket, bool outbound, const Hash32& nonce)
      : owner_(&owner),
        socket_(std::move(socket)),
        resolver_(owner.io_),
        timer_(owner.io_),
        outbound_(outbound),
        nonce_(nonce) {
    if (owner.tls_) tls_.emplace(socket_, *owner.tls_);
  }

  State state() const { return state_; }
  bool outbound() const { return outbound_; }
  bool has_peer_hello() const { return has_peer_hello_; }
  const crypto::PublicKey& peer_key() const { return peer_key_; }
  const std::optional<crypto::PublicKey>& dialed_key() const { return dialed_key_; }
  const std::string& remote() const { return remote_; }
  size_t queued_bytes() const { return queued_bytes_; }

  // Outbound: resolve, connect, then handshake, all within the handshake timeout.
  void Connect(const crypto::PublicKey& key, const HostPort& target) {
    dialed_key_ = key;
    remote_ = target.host + ":" + std::to_string(target.port);
    ArmTimer(owner_->config_.handshake_timeout);
    error_code ec;
    const auto addr = asio::ip::make_address(target.host, ec);
    if (!ec) {
      socket_.async_connect(
          tcp::endpoint(addr, target.port),
          [self = shared_from_this()](const error_code& e) { self->OnConnect(e); });
      return;
    }
    resolver_.async_resolve(
        target.host, std::to_string(target.port),
        [self = shared_from_this()](const error_code& e, tcp::resolver::results_type results) {
          if (self->state_ == State::kClosed) return;
          if (e) {
            self->Close("cannot resolve " + self->remote_ + ": " + e.message());
            return;
          }
          asio::async_connect(
              self->socket_, results,
              [self](const error_code& e2, const tcp::endpoint&) { self->OnConnect(e2); });
        });
  }

  // Inbound: the socket is connected; handshake within the timeout.
  void Accepted() {
    ArmTimer(owner_->config_.handshake_timeout);
    Connected();
  }

  // Queues a framed message. Handshake frames ignore the bound (they are small and few).
  bool Enqueue(std::shared_ptr<const std::string> framed, bool bounded) {
    if (state_ == State::kClosed || state_ == State::kLingering) return false;
    if (bounded && queued_bytes_ + framed->size() > owner_->config_.max_send_queue_bytes) {
      return false;
    }
    queued_bytes_ += framed->size();
    outq_.push_back(std::move(framed));
    StartWrite();
    return true;
  }

  // Closes without telling the owner (Stop, or replaced by a newer connection).
  void Shutdown() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    owner_ = nullptr;
    error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    socket_.close(ignored);
    outq_.clear();
    queued_bytes_ = 0;
    inbuf_.clear();
    inbuf_.shrink_to_fit();
  }

  // Closes and tells the owner once, with the reason.
  void Close(const std::string& reason, bool refused_by_peer = false) {
    if (state_ == State::kClosed) return;
    PeerTransport* owner = owner_;
    auto self = shared_from_this();
    Shutdown();
    owner->OnClosed(self, reason, refused_by_peer);
  }

 private:
  void ArmTimer(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec == asio::error::operation_aborted || self->state_ == State::kClosed) return;
      if (self->state_ == State::kLingering) {
        self->Close(self->linger_reason_);
      } else if (self->state_ != State::kEstablished) {
        self->Close("the handshake did not finish within " +
                    std::to_string(self->owner_->config_.handshake_timeout.count()) + " ms");
      }
    });
  }

  void OnConnect(const error_code& ec) {
    if (state_ == State::kClosed) return;
    if (ec) {
      Close("cannot connect to " + remote_ + ": " + ec.message());
      return;
    }
    Connected();
  }

  // TCP is up: the TLS handshake when configured (the state stays kConnecting, so nothing is
  // written meanwhile), then the Hello exchange.
  void Connected() {
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);  // a failure only costs latency
    const auto ep = socket_.remote_endpoint(ec);
    if (!ec) remote_ = Endpoint(ep);
    if (!tls_) {
      Begin();
      return;
    }
    tls_->async_handshake(outbound_ ? ssl::stream_base::client : ssl::stream_base::server,
                          [self = shared_from_this()](const error_code& e) {
                            if (self->state_ == State::kClosed) return;
                            if (e) {
                              self->Close(self->TlsFailure(e));
                              return;
                            }
                            self->Begin();
                          });
  }

  // Why TLS failed, with OpenSSL's reason and, when our check of the peer's certificate
  // failed, the verification error ("unable to get local issuer certificate", ...).
  std::string TlsFailure(const error_code& ec) {
    std::string out = "TLS handshake with " + remote_ + " failed: " + ec.message();
    const long verify = SSL_get_verify_result(tls_->native_handle());
    if (verify != X509_V_OK) {
      out +=
          std::string(" (the peer's certificate: ") + X509_verify_cert_error_string(verify) + ")";
    } else if (ec.category() == asio::error::get_ssl_category() &&
               ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
                   SSL_R_WRONG_VERSION_NUMBER) {
      out += " (the peer does not seem to use TLS)";
    } else if (ec.category() == asio::error::get_ssl_category() &&
               ERR_GET_REASON(static_cast<unsigned long>(ec.value())) >= SSL_AD_REASON_OFFSET) {
      out += " (an alert from the peer)";  // e.g. "unknown ca": it refused our certificate
    }
    return out;
  }

  void Begin() {
    state_ = State::kHandshake;
    v1::TransportFrame frame;
    v1::Hello* hello = frame.mutable_hello();
    const PeerTransportConfig& c = owner_->config_;
    hello->set_chain_id(c.chain_id);
    hello->set_genesis_hash(ToString(c.genesis_hash));
    hello->set_node_key(ToString(owner_->key_.public_key()));
    hello->set_nonce(ToString(nonce_));
    hello->set_version(kTransportVersion);
    Enqueue(Encode(frame), /*bounded=*/false);
    Read();
  }

  void Read() {
    auto handler = [self = shared_from_this()](const error_code& ec, size_t n) {
      self->OnRead(ec, n);
    };
    if (tls_) {
      tls_->async_read_some(asio::buffer(chunk_), std::move(handler));
    } else {
      socket_.async_read_some(asio::buffer(chunk_), std::move(handler));
    }
  }

  void OnRead(const error_code& ec, size_t n) {
    if (state_ == State::kClosed) return;
    if (ec) {
      if (state_ == State::kLingering) {
        Close(linger_reason_);
      } else if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        // stream_truncated: the TLS peer closed TCP without a TLS close_notify.
        Close("the peer closed the connection");
      } else if (tls_ && state_ == State::kHandshake &&
                 ec.category() == asio::error::get_ssl_category()) {
        // TLS 1.3: a client learns that the server refused its certificate only now.
        Close(TlsFailure(ec));
      } else {
        Close("read failed: " + ec.message());
      }
      return;
    }
    if (state_ == State::kLingering) {  // discard until the peer closes or the timer fires
      Read();
      return;
    }
    inbuf_.append(chunk_.data(), n);
    ParseFrames();
    if (state_ != State::kClosed) Read();  // when lingering, to see the peer close
  }

  void ParseFrames() {
    size_t pos = 0;
    while (state_ == State::kHandshake || state_ == State::kEstablished) {
      if (inbuf_.size() - pos < 4) break;
      const size_t len = ReadBigEndian32(inbuf_.data() + pos);
      const size_t limit = state_ == State::kEstablished
                               ? owner_->config_.max_frame_bytes
                               : std::min(kHandshakeFrameMaxBytes, owner_->config_.max_frame_bytes);
      if (len > limit) {
        // A TLS record header (handshake, version 3.x) read as a length is hundreds of MB.
        if (state_ == State::kHandshake && !tls_ && pos == 0 && !has_peer_hello_ &&
            inbuf_[0] == '\x16' && inbuf_[1] == '\x03') {
          Close("the peer started a TLS handshake, but this node does not use TLS");
          return;
        }
        Close("a frame of " + std::to_string(len) + " bytes exceeds the limit of " +
              std::to_string(limit) + " bytes" +
              (state_ == State::kHandshake ? " during the handshake" : ""));
        return;
      }
      if (inbuf_.size() - pos - 4 < len) break;
      v1::TransportFrame frame;
      if (!frame.ParseFromArray(inbuf_.data() + pos + 4, static_cast<int>(len))) {
        Close("received bytes that are not a transport frame");
        return;
      }
      pos += 4 + len;
      HandleFrame(frame);
    }
    if (state_ == State::kClosed || state_ == State::kLingering) return;
    inbuf_.erase(0, pos);
  }

  void ProtocolViolation(const std::string& what) { Close("protocol violation: " + what); }

  void HandleFrame(v1::TransportFrame& frame) {
    if (frame.kind_case() == v1::TransportFrame::kRefusal) {
      Close("refused by the peer: " + Sanitize(frame.refusal().reason()),
            /*refused_by_peer=*/true);
      return;
    }
    if (state_ == State::kEstablished) {
      if (frame.kind_case() != v1::TransportFrame::kApp) {
        ProtocolViolation("a handshake frame after the handshake");
        return;
      }
      owner_->OnMessage(*this, std::move(*frame.mutable_app()));
      return;
    }
    switch (frame.kind_case()) {
      case v1::TransportFrame::kHello:
        OnHello(frame.hello());
        return;
      case v1::TransportFrame::kAuth:
        OnAuth(frame.auth());
        return;
      case v1::TransportFrame::kApp:
        ProtocolViolation("an application frame before the handshake");
        return;
      default:
        ProtocolViolation("an empty or unknown frame");
        return;
    }
  }

  void OnHello(const v1::Hello& hello) {
    if (has_peer_hello_) {
      ProtocolViolation("a second Hello");
      return;
    }
    // Remember the claimed key (even if refused) so the owner can note why in PeerInfo.
    if (hello.node_key().size() == 32) {
      std::memcpy(peer_key_.data(), hello.node_key().data(), 32);
      has_peer_hello_ = true;
    }
    const std::string refusal = owner_->CheckHello(*this, hello);
    if (!refusal.empty()) {
      Refuse(refusal);
      return;
    }
    std::memcpy(peer_nonce_.data(), hello.nonce().data(), 32);
    const PeerTransportConfig& c = owner_->config_;
    const Hash32 msg =
        HandshakeHash(c.chain_id, c.genesis_hash, peer_nonce_, nonce_, owner_->key_.public_key());
    v1::TransportFrame frame;
    frame.mutable_auth()->set_signature(ToString(owner_->key_.Sign(msg)));
    Enqueue(Encode(frame), /*bounded=*/false);
  }

  void OnAuth(const v1::HelloAuth& auth) {
    if (!has_peer_hello_) {
      ProtocolViolation("HelloAuth before Hello");
      return;
    }
    const PeerTransportConfig& c = owner_->config_;
    const Hash32 msg = HandshakeHash(c.chain_id, c.genesis_hash, nonce_, peer_nonce_, peer_key_);
    if (!crypto::VerifySchnorr(peer_key_, msg, AsBytes(auth.signature()))) {
      Refuse("the handshake signature does not verify for key " + ToHex(peer_key_));
      return;
    }
    state_ = State::kEstablished;
    timer_.cancel();
    owner_->OnEstablished(shared_from_this());
  }

  // Sends the Refusal, then waits (bounded) for the peer to read it and close, so the peer
  // learns why instead of seeing a reset.
  void Refuse(const std::string& reason) {
    v1::TransportFrame frame;
    frame.mutable_refusal()->set_reason(reason.substr(0, kReasonMaxBytes));
    Enqueue(Encode(frame), /*bounded=*/false);
    state_ = State::kLingering;
    linger_reason_ = "refused the peer: " + reason;
    inbuf_.clear();
    ArmTimer(std::min<std::chrono::milliseconds>(kLingerMax, owner_->config_.handshake_timeout));
  }

  void StartWrite() {
    if (writing_ || outq_.empty() || state_ == State::kConnecting) return;
    writing_ = true;
    auto buf = outq_.front();
    auto handler = [self = shared_from_this(), buf](const error_code& ec, size_t) {
      self->OnWritten(ec);
    };
    if (tls_) {
      asio::async_write(*tls_, asio::buffer(*buf), std::move(handler));
    } else {
      asio::async_write(socket_, asio::buffer(*buf), std::move(handler));
    }
  }

  void OnWritten(const error_code& ec) {
    writing_ = false;
    if (state_ == State::kClosed) return;
    if (ec) {
      Close(state_ == State::kLingering ? linger_reason_ : "write failed: " + ec.message());
      return;
    }
    queued_bytes_ -= outq_.front()->size();
    outq_.pop_front();
    if (outq_.empty() && state_ == State::kLingering) {
      error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    StartWrite();
  }

  PeerTransport* owner_;  // null once closed: the transport may be gone
  tcp::socket socket_;
  // Set iff the transport uses TLS: the session over socket_, through which every frame is
  // read and written. Closing socket_ ends it.
  std::optional<ssl::stream<tcp::socket&>> tls_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;  // handshake deadline, then the linger bound
  const bool outbound_;
  State state_ = State::kConnecting;
  const Hash32 nonce_;
  std::optional<crypto::PublicKey> dialed_key_;
  bool has_peer_hello_ = false;
  crypto::PublicKey peer_key_{};  // valid when has_peer_hello_
  Hash32 peer_nonce_{};
  std::string remote_ = "?";
  std::string linger_reason_;
  // Received bytes not yet parsed: less than one frame plus one chunk.
  std::string inbuf_;
  std::array<char, kReadChunkBytes> chunk_{};
  std::deque<std::shared_ptr<const std::string>> outq_;  // front is being written
  size_t queued_bytes_ = 0;                              // sum of outq_ sizes
  bool writing_ = false;
};

// ---- PeerTransport ----

PeerTransport::PeerTransport(asio::io_context& io, const crypto::PrivateKey& key,
                             PeerTransportConfig config, std::shared_ptr<spdlog::logger> log,
                             Handlers handlers, RandomBytes random)
    : io_(io),
      key_(key),
      config_(std::move(config)),
      log_(std::move(log)),
      handlers_(std::move(handlers)),
      random_(random ? std::move(random) : RandomBytes(SystemRandomBytes)),
      acceptor_(io),
      accept_retry_(io) {
  MT_ASSERT(log_ != nullptr);
  admitted_.insert(config_.admitted.begin(), config_.admitted.end());
}

PeerTransport::~PeerTransport() { Stop(); }

Result<void> PeerTransport::LoadTls() {
  const PeerTransportConfig& c = config_;
  const bool cert = !c.tls_cert_file.empty(), key = !c.tls_key_file.empty(),
             ca = !c.tls_ca_file.empty();
  if (!cert && !key && !ca) return {};
  if (!cert || !key || !ca) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("peer TLS needs tls_cert_file, tls_key_file and tls_ca_file "
                                 "(or none of them); ") +
                         (!cert ? "tls_cert_file" : !key ? "tls_key_file" : "tls_ca_file") +
                         " is missing");
  }
  std::unique_ptr<ssl::context> ctx;
  try {  // the constructor throws only when OpenSSL cannot make a context at all
    ctx = std::make_unique<ssl::context>(ssl::context::tls);
  } catch (const boost::system::system_error& e) {
    return MakeError(ErrorCode::kInternal, std::string("peer TLS: ") + e.what());
  }
  auto failed = [](const std::string& what, const std::string& file, const error_code& ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "peer TLS: cannot load " + what + " " + file + ": " + ec.message());
  };
  SSL_CTX* native = ctx->native_handle();
  // TLS 1.3 only; no session tickets (every connection is a full handshake, and no
  // post-handshake ticket messages).
  MT_ASSERT(SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) == 1);
  MT_ASSERT(SSL_CTX_set_num_tickets(native, 0) == 1);
  error_code ec;
  if (ctx->use_certificate_chain_file(c.tls_cert_file, ec)) {
    return failed("tls_cert_file", c.tls_cert_file, ec);
  }
  // Also checks that the key belongs to the certificate ("key values mismatch").
  if (ctx->use_private_key_file(c.tls_key_file, ssl::context::pem, ec)) {
    return failed("tls_key_file", c.tls_key_file, ec);
  }
  if (ctx->load_verify_file(c.tls_ca_file, ec)) return failed("tls_ca_file", c.tls_ca_file, ec);
  // Mutual: each side sends its certificate and requires the peer's (the server asks for it).
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  tls_ = std::move(ctx);
  return {};
}

bool PeerTransport::ShouldDial(const PeerAddress& peer) const {
  if (!config_.self_is_validator) {
    if (peer.validator) return true;
  } else if (!peer.validator) {
    return false;
  }
  return key_.public_key() < peer.key;  // same role: the smaller key dials
}

Result<void> PeerTransport::Start() {
  if (started_ || stopped_) {
    return MakeError(ErrorCode::kFailedPrecondition, "the peer transport was already started");
  }
  const PeerTransportConfig& c = config_;
  if (c.chain_id.empty()) return MakeError(ErrorCode::kInvalidArgument, "chain id is empty");
  if (c.max_frame_bytes == 0 || c.max_frame_bytes > UINT32_MAX || c.max_send_queue_bytes == 0 ||
      c.max_handshaking == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "max_frame_bytes (at most 4 GiB), max_send_queue_bytes and "
                     "max_handshaking must be positive");
  }
  if (c.backoff_min.count() <= 0 || c.backoff_max < c.backoff_min ||
      c.handshake_timeout.count() <= 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "peer back-off needs 0 < backoff_min <= backoff_max and a positive "
                     "handshake timeout");
  }
  MT_TRY(LoadTls());
  auto listen = ParseHostPort(c.listen);
  if (!listen) {
    return MakeError(ErrorCode::kInvalidArgument, "peer listen: " + listen.error().message);
  }
  std::set<crypto::PublicKey> listed;
  for (const PeerAddress& p : c.peers) {
    auto hp = ParseHostPort(p.address);
    if (!hp) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "peer " + ToHex(p.key) + ": " + hp.error().message);
    }
    if (p.key == key_.public_key()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "peer " + ToHex(p.key) + " is this node's own key");
    }
    if (!listed.insert(p.key).second) {
      return MakeError(ErrorCode::kInvalidArgument, "peer " + ToHex(p.key) + " is listed twice");
    }
  }

  auto unavailable = [&](const std::string& why) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot listen for peers on " + c.listen + ": " + why);
  };
  error_code ec;
  tcp::endpoint endpoint;
  const auto addr = asio::ip::make_address(listen->host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(addr, listen->port);
  } else {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(listen->host, std::to_string(listen->port), ec);
    if (ec || results.empty()) return unavailable(ec ? ec.message() : "no address");
    endpoint = results.begin()->endpoint();
  }
  if (acceptor_.open(endpoint.protocol(), ec)) return unavailable(ec.message());
  // A restarted node must be able to listen again while old connections sit in TIME_WAIT.
  if (acceptor_.set_option(tcp::acceptor::reuse_address(true), ec)) {
    return unavailable(ec.message());
  }
  // The reason is read before close(), which resets `ec`.
  if (acceptor_.bind(endpoint, ec)) {
    std::string why = ec.message();
    acceptor_.close(ec);
    return unavailable(why);
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec)) {
    std::string why = ec.message();
    acceptor_.close(ec);
    return unavailable(why);
  }
  listen_port_ = acceptor_.local_endpoint(ec).port();
  started_ = true;
  for (const PeerAddress& p : c.peers) {
    PeerRecord& r = Record(p.key);
    r.address = p.address;
    r.listed = true;
    r.dial = ShouldDial(p);
  }
  log_->info("peer transport listening on {} (port {}), {} listed peers, {} admitted keys, {}",
             c.listen, listen_port_, c.peers.size(), admitted_.size(),
             tls_ ? "mutual TLS 1.3" : "no TLS");
  Accept();
  for (auto& [key, record] : records_) {
    if (record->dial) Dial(key);
  }
  return {};
}

void PeerTransport::Stop() {
  if (stopped_) return;
  stopped_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  for (auto& [key, record] : records_) {
    record->redial.cancel();
    record->redial_armed = false;
  }
  auto conns = std::move(connections_);
  connections_.clear();
  established_.clear();
  for (const auto& conn : conns) conn->Shutdown();
  if (started_) log_->info("peer transport stopped");
}

void PeerTransport::Accept() {
  acceptor_.async_accept(
      [this, alive = std::weak_ptr<int>(alive_)](const error_code& ec, tcp::socket socket) {
        if (alive.expired() || ec == asio::error::operation_aborted || stopped_) return;
        if (ec) {
          // E.g. out of file descriptors: wait a little instead of spinning on the error.
          if (AllowPeerLog()) log_->warn("accepting a peer connection failed: {}", ec.message());
          accept_retry_.expires_after(kAcceptRetry);
          accept_retry_.async_wait([this, alive](const error_code& e) {
            if (alive.expired() || e == asio::error::operation_aborted || stopped_) return;
            Accept();
          });
          return;
        }
        const size_t handshaking = connections_.size() - established_.size();
        if (handshaking >= config_.max_handshaking) {
          error_code ep_ec;
          const auto ep = socket.remote_endpoint(ep_ec);
          if (AllowPeerLog()) {
            log_->warn("dropping a connection from {}: {} connections are already handshaking",
                       ep_ec ? "?" : Endpoint(ep), handshaking);
          }
          error_code ignored;
          socket.close(ignored);
        } else {
          auto conn = NewConnection(std::move(socket), /*outbound=*/false);
          conn->Accepted();
        }
        Accept();
      });
}

std::shared_ptr<PeerTransport::Connection> PeerTransport::NewConnection(tcp::socket socket,
                                                                        bool outbound) {
  auto conn = std::make_shared<Connection>(*this, std::move(socket), outbound, NewNonce());
  connections_.insert(conn);
  return conn;
}

Hash32 PeerTransport::NewNonce() {
  Hash32 nonce{};
  random_(nonce);
  return nonce;
}

void PeerTransport::Dial(const crypto::PublicKey& key) {
  if (stopped_) return;
  PeerRecord& r = Record(key);
  MT_ASSERT(r.dial);
  if (established_.count(key) != 0 || !r.attempt.expired() || r.redial_armed) return;
  if (connections_.size() - established_.size() >= config_.max_handshaking) {
    ScheduleRedial(key);
    return;
  }
  auto target = ParseHostPort(r.address);
  MT_ASSERT(target.has_value());  // checked in Start
  auto conn = NewConnection(tcp::socket(io_), /*outbound=*/true);
  r.attempt = conn;
  log_->debug("dialing peer {} at {}", ShortHex(key), r.address);
  conn->Connect(key, *target);
}

void PeerTransport::ScheduleRedial(const crypto::PublicKey& key) {
  PeerRecord& r = Record(key);
  if (stopped_ || !r.dial || r.redial_armed || !r.attempt.expired() ||
      established_.count(key) != 0) {
    return;
  }
  const auto d = std::clamp(r.backoff, config_.backoff_min, config_.backoff_max);
  std::array<uint8_t, 8> rnd{};
  random_(rnd);
  uint64_t x = 0;
  for (uint8_t b : rnd) x = (x << 8) | b;
  const int64_t half = d.count() / 2;
  const auto delay = std::chrono::milliseconds(
      half + static_cast<int64_t>(x % static_cast<uint64_t>(d.count() - half + 1)));
  r.backoff = std::min(d * 2, config_.backoff_max);
  r.redial_armed = true;
  r.redial.expires_after(delay);
  r.redial.async_wait([this, alive = std::weak_ptr<int>(alive_), key](const error_code& ec) {
    if (alive.expired() || ec == asio::error::operation_aborted || stopped_) return;
    Record(key).redial_armed = false;
    Dial(key);
  });
}

std::string PeerTransport::CheckHello(const Connection& conn, const v1::Hello& hello) const {
  const PeerTransportConfig& c = config_;
  if (hello.version() != kTransportVersion) {
    return "unsupported transport version " + std::to_string(hello.version()) + " (mine is " +
           std::to_string(kTransportVersion) + ")";
  }
  if (hello.chain_id() != c.chain_id) {
    return "different chain: mine is \"" + Sanitize(c.chain_id, 64) + "\", yours is \"" +
           Sanitize(hello.chain_id(), 64) + "\"";
  }
  if (hello.genesis_hash() != AsChars(c.genesis_hash)) {
    return "different genesis: mine is " + ShortHex(c.genesis_hash) + ", yours is " +
           ShortHex(AsBytes(hello.genesis_hash()));
  }
  if (hello.node_key().size() != 32) {
    return "the node key must have 32 bytes, not " + std::to_string(hello.node_key().size());
  }
  if (hello.nonce().size() != 32) {
    return "the nonce must have 32 bytes, not " + std::to_string(hello.nonce().size());
  }
  crypto::PublicKey key{};
  std::memcpy(key.data(), hello.node_key().data(), 32);
  if (key == key_.public_key()) return "key " + ToHex(key) + " is my own (connected to myself)";
  if (admitted_.count(key) == 0) {
    return "key " + ToHex(key) + " is not a validator or configured observer of chain " +
           Sanitize(c.chain_id, 64);
  }
  if (conn.dialed_key() && *conn.dialed_key() != key) {
    return "I dialed key " + ShortHex(*conn.dialed_key()) + " at " + conn.remote() +
           " but you are " + ShortHex(key);
  }
  return {};
}

void PeerTransport::OnEstablished(const std::shared_ptr<Connection>& conn) {
  const crypto::PublicKey key = conn->peer_key();
  PeerRecord& r = Record(key);
  if (r.attempt.lock() == conn) r.attempt.reset();
  if (conn->outbound()) r.backoff = config_.backoff_min;
  r.outbound = conn->outbound();
  if (!r.listed) r.address = conn->remote();
  if (auto it = established_.find(key); it != established_.end()) {
    auto old = std::move(it->second);
    established_.erase(it);
    connections_.erase(old);
    old->Shutdown();
    log_->info("peer {}: a newer {} connection from {} replaces the older one", ShortHex(key),
               conn->outbound() ? "outbound" : "inbound", conn->remote());
    if (handlers_.on_disconnected) handlers_.on_disconnected(key);
    if (stopped_ || conn->state() == Connection::State::kClosed) return;
  }
  established_[key] = conn;
  log_->info("peer {} connected ({} {})", ShortHex(key),
             conn->outbound() ? "outbound to" : "inbound from", conn->remote());
  if (handlers_.on_connected) handlers_.on_connected(key);
}

void PeerTransport::OnMessage(const Connection& conn, std::string&& app) {
  Record(conn.peer_key()).frames_in++;
  if (handlers_.on_message) handlers_.on_message(conn.peer_key(), std::move(app));
}

void PeerTransport::OnClosed(const std::shared_ptr<Connection>& conn, const std::string& reason,
                             bool refused_by_peer) {
  connections_.erase(conn);
  // The key this connection concerns, if we may note it: a key we dialed, an established
  // peer, or a claimed key we already keep a record for (no new records from unproven claims).
  std::optional<crypto::PublicKey> key;
  bool was_established = false;
  if (conn->dialed_key()) {
    key = *conn->dialed_key();
  } else if (conn->has_peer_hello() && records_.count(conn->peer_key()) != 0) {
    key = conn->peer_key();
  }
  if (conn->has_peer_hello()) {
    auto it = established_.find(conn->peer_key());
    if (it != established_.end() && it->second == conn) {
      established_.erase(it);
      was_established = true;
      key = conn->peer_key();
    }
  }
  if (was_established) {
    PeerRecord& r = Record(*key);
    r.last_error = reason;
    log_->info("peer {} disconnected: {}", ShortHex(*key), reason);
    if (handlers_.on_disconnected) handlers_.on_disconnected(*key);
    if (stopped_) return;
  } else if (key) {
    PeerRecord& r = Record(*key);
    // Repeated identical failures (a peer that is down) are logged once, then at debug.
    const bool repeated = r.last_error == reason;
    r.last_error = reason;
    const auto level = repeated ? spdlog::level::debug
                                : (refused_by_peer ? spdlog::level::warn : spdlog::level::info);
    log_->log(level, "peer {} at {}: {}", ShortHex(*key), conn->remote(), reason);
  } else if (AllowPeerLog()) {
    log_->log(refused_by_peer ? spdlog::level::warn : spdlog::level::info,
              "peer connection {} closed before the handshake: {}", conn->remote(), reason);
  }
  if (key) {
    PeerRecord& r = Record(*key);
    if (r.attempt.lock() == conn) r.attempt.reset();
    if (r.dial) ScheduleRedial(*key);
  }
}

bool PeerTransport::AllowPeerLog() {
  const auto now = std::chrono::steady_clock::now();
  if (now - log_window_start_ >= kPeerLogWindow) {
    if (log_suppressed_ > 0) {
      log_->warn("suppressed {} log lines about unauthenticated peer connections", log_suppressed_);
    }
    log_window_start_ = now;
    log_window_lines_ = 0;
    log_suppressed_ = 0;
  }
  if (log_window_lines_ >= kPeerLogBurst) {
    log_suppressed_++;
    return false;
  }
  log_window_lines_++;
  return true;
}

PeerTransport::PeerRecord& PeerTransport::Record(const crypto::PublicKey& key) {
  auto& slot = records_[key];
  if (!slot) {
    slot = std::make_unique<PeerRecord>(io_);
    slot->backoff = config_.backoff_min;
  }
  return *slot;
}

bool PeerTransport::Enqueue(Connection& conn, const std::shared_ptr<const std::string>& framed) {
  if (!conn.Enqueue(framed, /*bounded=*/true)) return false;
  Record(conn.peer_key()).frames_out++;
  return true;
}

bool PeerTransport::Send(const crypto::PublicKey& to, std::string app_bytes) {
  if (stopped_) return false;
  auto it = established_.find(to);
  if (it == established_.end()) return false;
  v1::TransportFrame frame;
  frame.set_app(std::move(app_bytes));
  if (frame.ByteSizeLong() > config_.max_frame_bytes) {
    log_->debug("not sending {} bytes to {}: larger than max_frame_bytes", frame.app().size(),
                ShortHex(to));
    return false;
  }
  return Enqueue(*it->second, Encode(frame));
}

size_t PeerTransport::Broadcast(const std::string& app_bytes) {
  if (stopped_ || established_.empty()) return 0;
  v1::TransportFrame frame;
  frame.set_app(app_bytes);
  if (frame.ByteSizeLong() > config_.max_frame_bytes) return 0;
  const auto framed = Encode(frame);  // one buffer shared by every queue
  size_t sent = 0;
  for (auto& [key, conn] : established_) {
    if (Enqueue(*conn, framed)) sent++;
  }
  return sent;
}

std::vector<PeerInfo> PeerTransport::Peers() const {
  std::vector<PeerInfo> out;
  out.reserve(records_.size());
  for (const auto& [key, r] : records_) {
    PeerInfo info;
    info.key = key;
    info.address = r->address;
    auto it = established_.find(key);
    info.connected = it != established_.end();
    info.outbound = r->outbound;
    info.queued_bytes = info.connected ? it->second->queued_bytes() : 0;
    info.last_error = r->last_error;
    info.frames_in = r->frames_in;
    info.frames_out = r->frames_out;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace minetrace::node

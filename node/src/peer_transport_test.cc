// Tests of the peer transport over real sockets on 127.0.0.1 (ephemeral ports). Each test runs
// its io_context on the test thread in short slices until a condition holds or a bounded wait
// expires; nothing sleeps blindly.
#include "peer_transport.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "minetrace/crypto/sha256.h"

namespace minetrace::node {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::string_view kChain = "test-chain";

crypto::PrivateKey KeyFromSeed(uint8_t seed) {
  Hash32 secret{};
  secret[0] = 0x42;
  secret[31] = seed;
  auto key = crypto::PrivateKey::FromBytes(secret);
  EXPECT_TRUE(key.has_value());
  return *key;
}

Hash32 Genesis(std::string_view text = "genesis") { return crypto::Sha256(AsBytes(text)); }

std::string Addr(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// Runs io until done() holds or limit passes; false on timeout.
bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_for(5ms);
  }
  return true;
}

// Runs io for a fixed time (to let things that must NOT happen have their chance).
void RunFor(asio::io_context& io, std::chrono::milliseconds d) {
  RunUntil(
      io, [] { return false; }, d);
}

// One node under test: key, captured log, observed callbacks, and its transport.
struct TestNode {
  explicit TestNode(uint8_t seed) : key(KeyFromSeed(seed)) {
    log_text = std::make_shared<std::ostringstream>();
    log = std::make_shared<spdlog::logger>(
        "peer-" + std::to_string(seed),
        std::make_shared<spdlog::sinks::ostream_sink_st>(*log_text));
    log->set_level(spdlog::level::trace);
  }
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  const crypto::PublicKey& pub() const { return key.public_key(); }
  std::string Log() const { return log_text->str(); }

  PeerTransportConfig Config() const {
    PeerTransportConfig c;
    c.chain_id = std::string(kChain);
    c.genesis_hash = Genesis();
    c.listen = "127.0.0.1:0";
    c.backoff_min = 20ms;
    c.backoff_max = 200ms;
    c.handshake_timeout = 2000ms;
    return c;
  }

  Result<void> Start(asio::io_context& io, PeerTransportConfig c) {
    PeerTransport::Handlers h;
    h.on_message = [this](const crypto::PublicKey& from, std::string&& app) {
      received[from].push_back(std::move(app));
    };
    h.on_connected = [this](const crypto::PublicKey& k) { connected[k]++; };
    h.on_disconnected = [this](const crypto::PublicKey& k) { disconnected[k]++; };
    transport = std::make_unique<PeerTransport>(io, key, std::move(c), log, std::move(h));
    return transport->Start();
  }
  uint16_t port() const { return transport->listen_port(); }

  std::optional<PeerInfo> Info(const crypto::PublicKey& k) const {
    for (auto& p : transport->Peers()) {
      if (p.key == k) return p;
    }
    return std::nullopt;
  }
  bool IsConnected(const crypto::PublicKey& k) const {
    auto i = Info(k);
    return i && i->connected;
  }
  std::string LastError(const crypto::PublicKey& k) const {
    auto i = Info(k);
    return i ? i->last_error : "";
  }

  crypto::PrivateKey key;
  std::shared_ptr<std::ostringstream> log_text;
  std::shared_ptr<spdlog::logger> log;
  std::map<crypto::PublicKey, std::vector<std::string>> received;
  std::map<crypto::PublicKey, int> connected;
  std::map<crypto::PublicKey, int> disconnected;
  std::unique_ptr<PeerTransport> transport;  // destroyed first: it uses key and log
};

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Two nodes with seeds a, b returned so that lo has the smaller key (lo dials hi).
std::pair<std::unique_ptr<TestNode>, std::unique_ptr<TestNode>> OrderedPair(uint8_t a, uint8_t b) {
  auto x = std::make_unique<TestNode>(a);
  auto y = std::make_unique<TestNode>(b);
  if (y->pub() < x->pub()) std::swap(x, y);
  return {std::move(x), std::move(y)};
}

// A plain TCP client that writes what it is given and notes when the server closes.
struct RawClient {
  explicit RawClient(asio::io_context& io) : socket(io) {}
  void Connect(uint16_t port) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ReadLoop();
  }
  void Write(std::string_view bytes) { asio::write(socket, asio::buffer(bytes)); }
  void ReadLoop() {
    socket.async_read_some(asio::buffer(buf),
                           [this](const boost::system::error_code& ec, size_t n) {
                             if (ec) {
                               closed = true;
                               return;
                             }
                             received.append(buf.data(), n);
                             ReadLoop();
                           });
  }
  tcp::socket socket;
  std::array<char, 4096> buf{};
  std::string received;
  bool closed = false;
};

// A throwaway PKI made at run time with OpenSSL's C API (no `openssl` binary): two
// unrelated CAs and node certificates (P-256, SHA-256) signed by either, written as PEM files
// into a fresh folder that is removed afterwards.
class TestPki {
 public:
  struct NodeFiles {
    std::string cert, key;
  };

  TestPki() {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("minetrace-tls-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < 2; i++) {
      ca_key_[i] = NewKey();
      ca_cert_[i] = NewCert(ca_key_[i].get(), "test CA " + std::to_string(i), nullptr, nullptr,
                            /*ca=*/true);
      WriteCert(CaFile(i), ca_cert_[i].get());
    }
  }
  ~TestPki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string CaFile(int ca) const { return (dir_ / ("ca" + std::to_string(ca) + ".crt")).string(); }

  // A node certificate signed by CA `ca` (0 or 1), and its key.
  NodeFiles Issue(const std::string& name, int ca) {
    auto key = NewKey();
    auto cert = NewCert(key.get(), name, ca_cert_[ca].get(), ca_key_[ca].get(), /*ca=*/false);
    NodeFiles out{(dir_ / (name + ".crt")).string(), (dir_ / (name + ".key")).string()};
    WriteCert(out.cert, cert.get());
    BIO* bio = BIO_new_file(out.key.c_str(), "w");
    EXPECT_NE(bio, nullptr);
    EXPECT_EQ(PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
    BIO_free(bio);
    return out;
  }

  // Turns TLS on in `c`: this node's certificate, trusting CA `trust`.
  void Use(PeerTransportConfig& c, const NodeFiles& files, int trust) const {
    c.tls_cert_file = files.cert;
    c.tls_key_file = files.key;
    c.tls_ca_file = CaFile(trust);
  }

 private:
  using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
  using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

  static KeyPtr NewKey() {
    KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
    EXPECT_NE(key, nullptr);
    return key;
  }

  // Self-signed when issuer is null.
  CertPtr NewCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                  bool ca) {
    CertPtr cert(X509_new(), X509_free);
    X509* x = cert.get();
    EXPECT_EQ(X509_set_version(x, 2), 1);  // v3
    EXPECT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial_), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    EXPECT_EQ(X509_set_pubkey(x, key), 1);
    X509_NAME* name = X509_get_subject_name(x);
    EXPECT_EQ(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                         reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                         -1, 0),
              1);
    EXPECT_EQ(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
    const std::pair<int, const char*> exts[] = {
        {NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
        {NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
        {NID_subject_key_identifier, "hash"},
    };
    for (const auto& [nid, value] : exts) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      EXPECT_NE(ext, nullptr) << value;
      EXPECT_EQ(X509_add_ext(x, ext, -1), 1);
      X509_EXTENSION_free(ext);
    }
    EXPECT_GT(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
    return cert;
  }

  static void WriteCert(const std::string& path, X509* cert) {
    BIO* bio = BIO_new_file(path.c_str(), "w");
    EXPECT_NE(bio, nullptr);
    EXPECT_EQ(PEM_write_bio_X509(bio, cert), 1);
    BIO_free(bio);
  }

  std::filesystem::path dir_;
  long serial_ = 0;
  KeyPtr ca_key_[2] = {KeyPtr(nullptr, EVP_PKEY_free), KeyPtr(nullptr, EVP_PKEY_free)};
  CertPtr ca_cert_[2] = {CertPtr(nullptr, X509_free), CertPtr(nullptr, X509_free)};
};

class PeerTransportTest : public ::testing::Test {
 protected:
  asio::io_context io_;  // declared first: outlives every transport and raw socket
};

TEST(PeerTransportAddress, ParsesHostPortAndExplainsBadInput) {
  auto a = ParseHostPort("127.0.0.1:7100");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7100);
  auto b = ParseHostPort("[::1]:0");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = ParseHostPort("node-1.example:65535");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->host, "node-1.example");
  for (std::string_view bad : {"", "127.0.0.1", "127.0.0.1:", ":7100", "h:65536", "h:7x",
                               "::1:7100", "[::1]7100", "[::1", "h:-1"}) {
    auto r = ParseHostPort(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(Contains(r.error().message, "bad address")) << r.error().message;
  }
}

TEST(PeerTransportHandshake, HashIsDomainTaggedAndLengthPrefixed) {
  // Goal: the signed bytes are exactly the documented concatenation.
  Hash32 genesis = Genesis(), rn{}, sn{};
  rn.fill(1);
  sn.fill(2);
  const crypto::PublicKey key = KeyFromSeed(1).public_key();
  std::string msg = "minetrace/handshake/v1";
  msg += std::string("\x00\x00\x00\x02", 4) + "ab";
  msg += AsChars(genesis);
  msg += AsChars(rn);
  msg += AsChars(sn);
  msg += AsChars(key);
  EXPECT_EQ(HandshakeHash("ab", genesis, rn, sn, key), crypto::Sha256(AsBytes(msg)));
  EXPECT_NE(HandshakeHash("ab", genesis, rn, sn, key), HandshakeHash("ab", genesis, sn, rn, key));
}

TEST_F(PeerTransportTest, TwoPeersExchangeFramesBothWaysInOrder) {
  // Goal: a handshake between two validators and ordered delivery in both directions.
  // Method: hi listens, lo (smaller key) dials it; each sends 200 numbered messages.
  auto [lo, hi] = OrderedPair(1, 2);
  auto ch = hi->Config();
  ch.admitted = {lo->pub(), hi->pub()};
  ch.peers = {{lo->pub(), "127.0.0.1:1", true}};  // listed but never dialed: hi > lo
  ASSERT_TRUE(hi->Start(io_, ch).has_value());
  auto cl = lo->Config();
  cl.admitted = {lo->pub(), hi->pub()};
  cl.peers = {{hi->pub(), Addr(hi->port()), true}};
  ASSERT_TRUE(lo->Start(io_, cl).has_value());

  ASSERT_TRUE(
      RunUntil(io_, [&] { return lo->IsConnected(hi->pub()) && hi->IsConnected(lo->pub()); }));
  EXPECT_EQ(lo->connected[hi->pub()], 1);
  EXPECT_EQ(hi->connected[lo->pub()], 1);
  EXPECT_TRUE(lo->Info(hi->pub())->outbound);
  EXPECT_FALSE(hi->Info(lo->pub())->outbound);
  EXPECT_EQ(hi->LastError(lo->pub()), "");  // it never dialed the bogus address

  constexpr int kCount = 200;
  for (int i = 0; i < kCount; i++) {
    // Sizes vary so frames span read chunks and share them.
    ASSERT_TRUE(
        lo->transport->Send(hi->pub(), "lo" + std::to_string(i) + std::string(i * 997, 'x')));
    ASSERT_TRUE(hi->transport->Send(lo->pub(), "hi" + std::to_string(i)));
  }
  ASSERT_TRUE(RunUntil(io_, [&] {
    return hi->received[lo->pub()].size() == kCount && lo->received[hi->pub()].size() == kCount;
  }));
  for (int i = 0; i < kCount; i++) {
    EXPECT_EQ(hi->received[lo->pub()][i], "lo" + std::to_string(i) + std::string(i * 997, 'x'));
    EXPECT_EQ(lo->received[hi->pub()][i], "hi" + std::to_string(i));
  }
  EXPECT_EQ(lo->Info(hi->pub())->frames_out, uint64_t{kCount});
  EXPECT_EQ(lo->Info(hi->pub())->frames_in, uint64_t{kCount});
  EXPECT_EQ(lo->transport->Broadcast("all"), 1u);
  ASSERT_TRUE(RunUntil(io_, [&] { return hi->received[lo->pub()].size() == kCount + 1; }));
  EXPECT_EQ(hi->received[lo->pub()].back(), "all");
  // Not connected: dropped.
  EXPECT_FALSE(lo->transport->Send(KeyFromSeed(9).public_key(), "nobody"));
}

TEST_F(PeerTransportTest, ThreeValidatorsFormFullMeshWithOneConnectionPerPair) {
  // Goal: the dial rule yields exactly one connection per pair (the smaller key dials).
  // Method: start in descending key order so every dialer knows the ports it needs; the
  // addresses a node must not dial are bogus, so a wrong dial would show in last_error.
  std::vector<std::unique_ptr<TestNode>> n;
  for (uint8_t s = 1; s <= 3; s++) n.push_back(std::make_unique<TestNode>(s));
  std::sort(n.begin(), n.end(), [](auto& a, auto& b) { return a->pub() < b->pub(); });
  std::vector<crypto::PublicKey> all = {n[0]->pub(), n[1]->pub(), n[2]->pub()};
  std::map<int, uint16_t> port;
  for (int i = 2; i >= 0; i--) {
    auto c = n[i]->Config();
    c.admitted = all;
    for (int j = 0; j < 3; j++) {
      if (j == i) continue;
      c.peers.push_back({n[j]->pub(), j > i ? Addr(port[j]) : "127.0.0.1:1", true});
    }
    ASSERT_TRUE(n[i]->Start(io_, c).has_value());
    port[i] = n[i]->port();
  }
  auto mesh = [&] {
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++)
        if (i != j && !n[i]->IsConnected(n[j]->pub())) return false;
    return true;
  };
  ASSERT_TRUE(RunUntil(io_, mesh));
  RunFor(io_, 300ms);  // any extra (wrong) dial would replace connections meanwhile
  ASSERT_TRUE(mesh());
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 3; j++) {
      if (i == j) continue;
      const PeerInfo info = *n[i]->Info(n[j]->pub());
      EXPECT_EQ(info.outbound, i < j) << i << "->" << j;
      EXPECT_EQ(info.last_error, "") << i << "->" << j;
      EXPECT_EQ(n[i]->connected[n[j]->pub()], 1) << i << "->" << j;
      EXPECT_EQ(n[i]->disconnected[n[j]->pub()], 0) << i << "->" << j;
    }
  }
  for (int i = 0; i < 3; i++) EXPECT_EQ(n[i]->transport->Broadcast("b" + std::to_string(i)), 2u);
  ASSERT_TRUE(RunUntil(io_, [&] {
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++)
        if (i != j && n[i]->received[n[j]->pub()].size() != 1) return false;
    return true;
  }));
}

TEST_F(PeerTransportTest, ObserverDialsValidatorWhichNeverDialsIt) {
  // Goal: an observer dials a validator even when its key is larger, and a validator does not
  // dial an observer it lists.
  auto [v, o] = OrderedPair(4, 5);  // the observer o has the larger key
  auto cv = v->Config();
  cv.admitted = {v->pub(), o->pub()};
  cv.peers = {{o->pub(), "127.0.0.1:1", /*validator=*/false}};
  ASSERT_TRUE(v->Start(io_, cv).has_value());
  auto co = o->Config();
  co.self_is_validator = false;
  co.admitted = {v->pub()};
  co.peers = {{v->pub(), Addr(v->port()), true}};
  ASSERT_TRUE(o->Start(io_, co).has_value());
  ASSERT_TRUE(RunUntil(io_, [&] { return o->IsConnected(v->pub()) && v->IsConnected(o->pub()); }));
  EXPECT_TRUE(o->Info(v->pub())->outbound);
  EXPECT_FALSE(v->Info(o->pub())->outbound);
  EXPECT_EQ(v->LastError(o->pub()), "");
  ASSERT_TRUE(v->transport->Send(o->pub(), "block"));
  ASSERT_TRUE(RunUntil(io_, [&] { return o->received[v->pub()].size() == 1; }));
}

TEST_F(PeerTransportTest, RefusesUnknownKeyAndBothSidesSayWhy) {
  // Goal: a key outside `admitted` is refused with a reason the dialer records and logs,
  // and the refusing side logs it too; neither reports a connection.
  TestNode v(6), u(7);
  auto cv = v.Config();
  cv.admitted = {v.pub()};
  ASSERT_TRUE(v.Start(io_, cv).has_value());
  auto cu = u.Config();
  cu.self_is_validator = false;
  cu.admitted = {v.pub()};
  cu.peers = {{v.pub(), Addr(v.port()), true}};
  ASSERT_TRUE(u.Start(io_, cu).has_value());
  const std::string why = "is not a validator or configured observer of chain test-chain";
  ASSERT_TRUE(
      RunUntil(io_, [&] { return Contains(u.LastError(v.pub()), why) && Contains(v.Log(), why); }))
      << u.Log() << "\n"
      << v.Log();
  EXPECT_TRUE(Contains(u.LastError(v.pub()), "refused by the peer: key " + ToHex(u.pub())));
  EXPECT_TRUE(Contains(u.Log(), "[warning]"));
  EXPECT_TRUE(Contains(v.Log(), "refused the peer"));
  EXPECT_EQ(u.connected.size(), 0u);
  EXPECT_EQ(v.connected.size(), 0u);
  EXPECT_FALSE(u.IsConnected(v.pub()));
}

TEST_F(PeerTransportTest, RefusesDifferentGenesisWithReason) {
  auto [lo, hi] = OrderedPair(8, 9);
  auto ch = hi->Config();
  ch.genesis_hash = Genesis("another genesis");
  ch.admitted = {lo->pub(), hi->pub()};
  ch.peers = {{lo->pub(), "127.0.0.1:1", true}};
  ASSERT_TRUE(hi->Start(io_, ch).has_value());
  auto cl = lo->Config();
  cl.admitted = {lo->pub(), hi->pub()};
  cl.peers = {{hi->pub(), Addr(hi->port()), true}};
  ASSERT_TRUE(lo->Start(io_, cl).has_value());
  ASSERT_TRUE(RunUntil(io_,
                       [&] {
                         return Contains(lo->LastError(hi->pub()), "different genesis: mine is ") &&
                                Contains(hi->LastError(lo->pub()), "different genesis: mine is ");
                       }))
      << lo->Log() << "\n"
      << hi->Log();
  EXPECT_TRUE(Contains(lo->Log(), "different genesis"));
  EXPECT_TRUE(Contains(hi->Log(), "different genesis"));
  EXPECT_EQ(lo->connected.size(), 0u);
  EXPECT_EQ(hi->connected.size(), 0u);
}

TEST_F(PeerTransportTest, ClosesGarbageConnectionsAndKeepsServingOthers) {
  // Goal: bytes that are not frames close that connection, with a logged reason, and the
  // listener goes on admitting real peers.
  auto [v, o] = OrderedPair(10, 11);
  auto cv = v->Config();
  cv.admitted = {v->pub(), o->pub()};
  ASSERT_TRUE(v->Start(io_, cv).has_value());

  RawClient http(io_);
  http.Connect(v->port());
  http.Write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // "GET " read as a 1.2 GB length
  RawClient junk(io_);
  junk.Connect(v->port());
  junk.Write(std::string("\x00\x00\x00\x03\xff\xff\xff", 7));  // a small frame, not protobuf
  ASSERT_TRUE(RunUntil(io_, [&] { return http.closed && junk.closed; }));
  EXPECT_TRUE(Contains(v->Log(), "exceeds the limit of 4096 bytes during the handshake"))
      << v->Log();
  EXPECT_TRUE(Contains(v->Log(), "not a transport frame")) << v->Log();

  auto co = o->Config();
  co.self_is_validator = false;
  co.admitted = {v->pub()};
  co.peers = {{v->pub(), Addr(v->port()), true}};
  ASSERT_TRUE(o->Start(io_, co).has_value());
  ASSERT_TRUE(RunUntil(io_, [&] { return o->IsConnected(v->pub()); }));
}

TEST_F(PeerTransportTest, ClosesSilentConnectionAfterHandshakeTimeout) {
  TestNode v(12);
  auto cv = v.Config();
  cv.admitted = {v.pub()};
  cv.handshake_timeout = 200ms;
  ASSERT_TRUE(v.Start(io_, cv).has_value());
  RawClient silent(io_);
  silent.Connect(v.port());
  ASSERT_TRUE(RunUntil(
      io_, [&] { return silent.closed; }, 5s));
  EXPECT_TRUE(Contains(v.Log(), "did not finish within 200 ms")) << v.Log();
}

TEST_F(PeerTransportTest, ClosesConnectionOnOversizedFrame) {
  // Goal: a frame above the receiver's max_frame_bytes closes the connection with a reason.
  auto [lo, hi] = OrderedPair(13, 14);
  auto ch = hi->Config();
  ch.admitted = {lo->pub(), hi->pub()};
  ch.max_frame_bytes = 64 << 10;
  ASSERT_TRUE(hi->Start(io_, ch).has_value());
  auto cl = lo->Config();
  cl.admitted = {lo->pub(), hi->pub()};
  cl.peers = {{hi->pub(), Addr(hi->port()), true}};
  cl.max_frame_bytes = 1 << 20;
  ASSERT_TRUE(lo->Start(io_, cl).has_value());
  ASSERT_TRUE(RunUntil(io_, [&] { return lo->IsConnected(hi->pub()); }));
  ASSERT_TRUE(lo->transport->Send(hi->pub(), std::string(100 << 10, 'z')));
  ASSERT_TRUE(RunUntil(io_, [&] { return lo->disconnected[hi->pub()] >= 1; }));
  EXPECT_TRUE(Contains(hi->Log(), "exceeds the limit of 65536 bytes")) << hi->Log();
  EXPECT_TRUE(Contains(hi->LastError(lo->pub()), "exceeds the limit of 65536 bytes"));
  EXPECT_TRUE(hi->received[lo->pub()].empty());
}

TEST_F(PeerTransportTest, ReconnectsToPeerRestartedOnSamePort) {
  // Goal: the dialer notices the loss, retries with back-off while the peer is down, and
  // reconnects on its own once the peer listens again on the same port.
  auto [lo, hi] = OrderedPair(15, 16);
  auto ch = hi->Config();
  ch.admitted = {lo->pub(), hi->pub()};
  ASSERT_TRUE(hi->Start(io_, ch).has_value());
  const uint16_t port = hi->port();
  auto cl = lo->Config();
  cl.admitted = {lo->pub(), hi->pub()};
  cl.peers = {{hi->pub(), Addr(port), true}};
  ASSERT_TRUE(lo->Start(io_, cl).has_value());
  ASSERT_TRUE(RunUntil(io_, [&] { return lo->IsConnected(hi->pub()); }));

  hi->transport.reset();  // the peer goes away
  ASSERT_TRUE(RunUntil(io_, [&] { return lo->disconnected[hi->pub()] == 1; }));
  ASSERT_TRUE(RunUntil(io_, [&] { return Contains(lo->LastError(hi->pub()), "cannot connect"); }))
      << lo->LastError(hi->pub());
  RunFor(io_, 300ms);  // a few more failed dials
  EXPECT_FALSE(lo->IsConnected(hi->pub()));

  ch.listen = Addr(port);
  ASSERT_TRUE(hi->Start(io_, ch).has_value());
  ASSERT_TRUE(
      RunUntil(io_, [&] { return lo->IsConnected(hi->pub()) && hi->IsConnected(lo->pub()); }));
  EXPECT_EQ(lo->connected[hi->pub()], 2);
  ASSERT_TRUE(lo->transport->Send(hi->pub(), "again"));
  ASSERT_TRUE(RunUntil(io_, [&] { return hi->received[lo->pub()].size() == 1; }));
}

TEST_F(PeerTransportTest, NewerConnectionReplacesOlderForSameKey) {
  // Goal: when a peer restarts with a new process while its old connection still looks open
  // here, the newer connection wins. Method: a second transport with the same key as lo
  // dials hi while lo's connection is up.
  auto [lo, hi] = OrderedPair(17, 18);
  auto ch = hi->Config();
  ch.admitted = {lo->pub(), hi->pub()};
  ASSERT_TRUE(hi->Start(io_, ch).has_value());
  auto cl = lo->Config();
  cl.admitted = {lo->pub(), hi->pub()};
  cl.peers = {{hi->pub(), Addr(hi->port()), true}};
  cl.backoff_min = cl.backoff_max = 5000ms;  // lo must not come back within this test
  ASSERT_TRUE(lo->Start(io_, cl).has_value());
  ASSERT_TRUE(RunUntil(io_, [&] { return hi->IsConnected(lo->pub()); }));

  TestNode twin(17 == lo->key.secret()[31] ? 17 : 18);
  ASSERT_EQ(twin.pub(), lo->pub());
  auto ct = twin.Config();
  ct.admitted = cl.admitted;
  ct.peers = cl.peers;
  ASSERT_TRUE(twin.Start(io_, ct).has_value());
  ASSERT_TRUE(RunUntil(io_, [&] { return twin.IsConnected(hi->pub()); }));
  ASSERT_TRUE(RunUntil(io_, [&] { return lo->disconnected[hi->pub()] == 1; }));
  EXPECT_EQ(hi->connected[lo->pub()], 2);
  EXPECT_EQ(hi->disconnected[lo->pub()], 1);
  ASSERT_TRUE(hi->transport->Send(lo->pub(), "to the newer one"));
  ASSERT_TRUE(RunUntil(io_, [&] { return twin.received[hi->pub()].size() == 1; }));
  lo->transport->Stop();  // it would dial again and replace the twin
}

TEST_F(PeerTransportTest, SendFailsWhenQueueBoundIsExceeded) {
  // Goal: Send returns false instead of queueing beyond max_send_queue_bytes.
  // Method: hi's io_context stops running after the handshake, so it reads nothing; lo keeps
  // sending until the kernel buffers and then its queue fill.
  asio::io_context io_hi;
  auto [lo, hi] = OrderedPair(19, 20);
  auto ch = hi->Config();
  ch.admitted = {lo->pub(), hi->pub()};
  ASSERT_TRUE(hi->Start(io_hi, ch).has_value());
  auto cl = lo->Config();
  cl.admitted = {lo->pub(), hi->pub()};
  cl.peers = {{hi->pub(), Addr(hi->port()), true}};
  cl.max_send_queue_bytes = 1 << 20;
  ASSERT_TRUE(lo->Start(io_, cl).has_value());
  ASSERT_TRUE(RunUntil(io_, [&] {
    if (io_hi.stopped()) io_hi.restart();
    io_hi.poll();
    return lo->IsConnected(hi->pub()) && hi->IsConnected(lo->pub());
  }));

  // A single frame larger than the whole bound is refused at once.
  EXPECT_FALSE(lo->transport->Send(hi->pub(), std::string(2 << 20, 'q')));
  const std::string chunk(64 << 10, 'c');
  bool refused = false;
  for (int i = 0; i < 4000 && !refused; i++) {  // at most 256 MiB offered
    refused = !lo->transport->Send(hi->pub(), chunk);
    io_.poll();
  }
  ASSERT_TRUE(refused);
  const PeerInfo info = *lo->Info(hi->pub());
  EXPECT_TRUE(info.connected);
  EXPECT_GT(info.queued_bytes, (1u << 20) - chunk.size() - 8);
  EXPECT_LE(info.queued_bytes, 1u << 20);
  hi->transport.reset();  // before io_hi goes away
}

TEST_F(PeerTransportTest, StartReportsAddressInUse) {
  TestNode a(21), b(22);
  auto ca = a.Config();
  ASSERT_TRUE(a.Start(io_, ca).has_value());
  auto cb = b.Config();
  cb.listen = Addr(a.port());
  auto r = b.Start(io_, cb);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(Contains(r.error().message, "cannot listen for peers on " + Addr(a.port()) + ": "))
      << r.error().message;
  auto cc = b.Config();
  cc.listen = "localhost";
  auto bad = b.Start(io_, cc);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(PeerTransportTest, TlsPeersExchangeFramesInsideMutualTls) {
  // Goal: with TLS on both sides the handshake and frames run inside TLS and arrive in order.
  // Method: two nodes with certificates of one CA; a raw TCP client that speaks the plain
  // protocol is refused at the TLS handshake, which shows the listener really uses TLS.
  TestPki pki;
  auto [lo, hi] = OrderedPair(30, 31);
  auto ch = hi->Config();
  ch.admitted = {lo->pub(), hi->pub()};
  pki.Use(ch, pki.Issue("hi", 0), 0);
  ASSERT_TRUE(hi->Start(io_, ch).has_value());
  auto cl = lo->Config();
  cl.admitted = {lo->pub(), hi->pub()};
  cl.peers = {{hi->pub(), Addr(hi->port()), true}};
  pki.Use(cl, pki.Issue("lo", 0), 0);
  ASSERT_TRUE(lo->Start(io_, cl).has_value());
  ASSERT_TRUE(
      RunUntil(io_, [&] { return lo->IsConnected(hi->pub()) && hi->IsConnected(lo->pub()); }))
      << lo->Log() << "\n"
      << hi->Log();
  EXPECT_TRUE(Contains(hi->Log(), "mutual TLS 1.3"));

  constexpr int kCount = 50;
  for (int i = 0; i < kCount; i++) {  // up to ~1.2 MB: frames span many TLS records
    ASSERT_TRUE(lo->transport->Send(hi->pub(), std::to_string(i) + std::string(i * 24999, 'x')));
    ASSERT_TRUE(hi->transport->Send(lo->pub(), "hi" + std::to_string(i)));
  }
  ASSERT_TRUE(RunUntil(io_, [&] {
    return hi->received[lo->pub()].size() == kCount && lo->received[hi->pub()].size() == kCount;
  }));
  for (int i = 0; i < kCount; i++) {
    EXPECT_EQ(hi->received[lo->pub()][i], std::to_string(i) + std::string(i * 24999, 'x'));
    EXPECT_EQ(lo->received[hi->pub()][i], "hi" + std::to_string(i));
  }

  // A key that is not admitted, with a valid certificate: TLS succeeds, and the Refusal of
  // the signed handshake travels inside TLS.
  TestNode stranger(29);
  auto cs = stranger.Config();
  cs.self_is_validator = false;
  cs.admitted = {hi->pub()};
  cs.peers = {{hi->pub(), Addr(hi->port()), true}};
  pki.Use(cs, pki.Issue("stranger", 0), 0);
  ASSERT_TRUE(stranger.Start(io_, cs).has_value());
  ASSERT_TRUE(RunUntil(io_, [&] {
    return Contains(stranger.LastError(hi->pub()),
                    "refused by the peer: key " + ToHex(stranger.pub()) + " is not a validator");
  })) << stranger.Log();
  stranger.transport->Stop();

  RawClient plain(io_);
  plain.Connect(hi->port());
  plain.Write(std::string("\x00\x00\x00\x03\x0a\x01\x78", 7));
  ASSERT_TRUE(RunUntil(io_, [&] { return plain.closed; }));
  ASSERT_TRUE(RunUntil(io_, [&] { return Contains(hi->Log(), "TLS handshake with 127.0.0.1:"); }))
      << hi->Log();
  EXPECT_TRUE(hi->IsConnected(lo->pub()));
}

TEST_F(PeerTransportTest, TlsAndPlainNodesDoNotConnectAndSayWhy) {
  // Goal: a TLS node and a plain node never connect, whichever dials, and the logs say TLS is
  // the reason. Method: pair a (TLS dials plain) and pair b (plain dials TLS).
  TestPki pki;
  auto [a_lo, a_hi] = OrderedPair(32, 33);
  auto [b_lo, b_hi] = OrderedPair(34, 35);
  auto ah = a_hi->Config();  // plain
  ah.admitted = {a_lo->pub(), a_hi->pub()};
  ASSERT_TRUE(a_hi->Start(io_, ah).has_value());
  auto al = a_lo->Config();  // TLS
  al.admitted = {a_lo->pub(), a_hi->pub()};
  al.peers = {{a_hi->pub(), Addr(a_hi->port()), true}};
  pki.Use(al, pki.Issue("a_lo", 0), 0);
  ASSERT_TRUE(a_lo->Start(io_, al).has_value());
  auto bh = b_hi->Config();  // TLS
  bh.admitted = {b_lo->pub(), b_hi->pub()};
  pki.Use(bh, pki.Issue("b_hi", 0), 0);
  ASSERT_TRUE(b_hi->Start(io_, bh).has_value());
  auto bl = b_lo->Config();  // plain
  bl.admitted = {b_lo->pub(), b_hi->pub()};
  bl.peers = {{b_hi->pub(), Addr(b_hi->port()), true}};
  ASSERT_TRUE(b_lo->Start(io_, bl).has_value());

  const std::string a_why = "TLS handshake with " + Addr(a_hi->port()) + " failed: ";
  ASSERT_TRUE(RunUntil(io_,
                       [&] {
                         return Contains(a_lo->LastError(a_hi->pub()), a_why) &&
                                Contains(a_hi->Log(), "the peer started a TLS handshake") &&
                                Contains(b_hi->Log(), "TLS handshake with 127.0.0.1:") &&
                                Contains(b_hi->Log(), "the peer does not seem to use TLS");
                       }))
      << a_lo->Log() << "\n"
      << a_hi->Log() << "\n"
      << b_lo->Log() << "\n"
      << b_hi->Log();
  EXPECT_TRUE(Contains(a_lo->Log(), a_why));
  RunFor(io_, 200ms);  // a few redials
  for (auto* n : {a_lo.get(), a_hi.get(), b_lo.get(), b_hi.get()}) {
    EXPECT_EQ(n->connected.size(), 0u) << n->Log();
  }
}

TEST_F(PeerTransportTest, TlsRefusesCertificateFromAnotherCaOnEitherSide) {
  // Goal: each side verifies the other's chain against its tls_ca_file (mutual TLS).
  // Method: pair a: the dialer's certificate is from CA 1 while the listener trusts CA 0 only;
  // pair b: the listener's certificate is from CA 1. Every node trusts CA 0.
  TestPki pki;
  auto [a_lo, a_hi] = OrderedPair(36, 37);
  auto [b_lo, b_hi] = OrderedPair(38, 39);
  auto ah = a_hi->Config();
  ah.admitted = {a_lo->pub(), a_hi->pub()};
  pki.Use(ah, pki.Issue("a_hi", 0), 0);
  ASSERT_TRUE(a_hi->Start(io_, ah).has_value());
  auto al = a_lo->Config();
  al.admitted = {a_lo->pub(), a_hi->pub()};
  al.peers = {{a_hi->pub(), Addr(a_hi->port()), true}};
  pki.Use(al, pki.Issue("a_lo", 1), 0);
  ASSERT_TRUE(a_lo->Start(io_, al).has_value());
  auto bh = b_hi->Config();
  bh.admitted = {b_lo->pub(), b_hi->pub()};
  pki.Use(bh, pki.Issue("b_hi", 1), 0);
  ASSERT_TRUE(b_hi->Start(io_, bh).has_value());
  auto bl = b_lo->Config();
  bl.admitted = {b_lo->pub(), b_hi->pub()};
  bl.peers = {{b_hi->pub(), Addr(b_hi->port()), true}};
  pki.Use(bl, pki.Issue("b_lo", 0), 0);
  ASSERT_TRUE(b_lo->Start(io_, bl).has_value());

  const std::string verify_failed = "(the peer's certificate: ";
  ASSERT_TRUE(RunUntil(io_,
                       [&] {
                         return Contains(a_hi->Log(), verify_failed) &&
                                Contains(a_lo->LastError(a_hi->pub()), "TLS handshake with " +
                                                                           Addr(a_hi->port()) +
                                                                           " failed: ") &&
                                Contains(b_lo->LastError(b_hi->pub()), verify_failed) &&
                                Contains(b_hi->Log(), "TLS handshake with 127.0.0.1:");
                       }))
      << a_lo->Log() << "\n"
      << a_hi->Log() << "\n"
      << b_lo->Log() << "\n"
      << b_hi->Log();
  EXPECT_TRUE(Contains(b_lo->LastError(b_hi->pub()),
                       "TLS handshake with " + Addr(b_hi->port()) + " failed: "));
  RunFor(io_, 200ms);
  for (auto* n : {a_lo.get(), a_hi.get(), b_lo.get(), b_hi.get()}) {
    EXPECT_EQ(n->connected.size(), 0u) << n->Log();
  }
}

TEST_F(PeerTransportTest, StartRefusesPartialOrUnreadableTlsFiles) {
  TestPki pki;
  const auto files = pki.Issue("n", 0);
  const auto other = pki.Issue("other", 0);
  struct Case {
    std::string cert, key, ca, expect;
  };
  const Case cases[] = {
      {files.cert, files.key, "", "tls_ca_file is missing"},
      {"", files.key, pki.CaFile(0), "tls_cert_file is missing"},
      {files.cert + ".nope", files.key, pki.CaFile(0), "cannot load tls_cert_file"},
      {files.cert, files.key, pki.CaFile(0) + ".nope", "cannot load tls_ca_file"},
      {files.cert, other.key, pki.CaFile(0), "cannot load tls_key_file"},
  };
  uint8_t seed = 40;
  for (const Case& c : cases) {
    TestNode n(seed++);
    auto cfg = n.Config();
    cfg.tls_cert_file = c.cert;
    cfg.tls_key_file = c.key;
    cfg.tls_ca_file = c.ca;
    auto r = n.Start(io_, cfg);
    ASSERT_FALSE(r.has_value()) << c.expect;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(Contains(r.error().message, c.expect)) << r.error().message;
    if (c.key == other.key) {
      EXPECT_TRUE(Contains(r.error().message, "key values mismatch")) << r.error().message;
    }
  }
}

}  // namespace
}  // namespace minetrace::node

#include "minetrace/crypto/sha256.h"

#include <openssl/evp.h>

#include <array>
#include <cstddef>

#include "minetrace/base/assert.h"

namespace minetrace::crypto {
namespace {

// OpenSSL 3 looks the algorithm up in its provider tables on every EVP_DigestInit_ex that is
// given the legacy EVP_sha256() handle; fetching once saves that per hash, which matters for
// Merkle hashing. The pointer is written once, under the guarantee of a function-local static,
// and only read afterwards, so sharing it between threads is safe.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    // Without SHA-256 nothing in minetrace can work; this is a broken OpenSSL install.
    MT_ASSERT(fetched != nullptr);
    return fetched;
  }();
  return md;
}

// A thread's spare digest contexts. A context that has hashed once keeps its provider state,
// so starting the next hash on it is a cheap re-initialisation, where a new context costs an
// allocation and a provider set-up: about as much as hashing 100 bytes.
class ContextCache {
 public:
  ContextCache() = default;
  ContextCache(const ContextCache&) = delete;
  ContextCache& operator=(const ContextCache&) = delete;
  ~ContextCache();

  EVP_MD_CTX* Take() {
    if (count_ > 0) return spare_[--count_];
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    // Allocation failure inside OpenSSL: the process is out of memory.
    MT_ASSERT(ctx != nullptr);
    return ctx;
  }
  void Give(EVP_MD_CTX* ctx) {
    if (count_ < spare_.size()) {
      spare_[count_++] = ctx;
    } else {
      EVP_MD_CTX_free(ctx);
    }
  }

 private:
  // Hashers are short-lived and rarely nest, so a thread seldom holds more than one or two
  // at a time; the bound only keeps a burst of live hashers from being cached for ever.
  std::array<EVP_MD_CTX*, 4> spare_{};
  size_t count_ = 0;
};

// Trivially destructible, so it stays readable while the thread's other thread_local objects
// are destroyed: a hasher that outlives the cache (a thread_local declared before it) frees
// its context itself.
thread_local bool t_cache_destroyed = false;
thread_local ContextCache t_cache;

ContextCache::~ContextCache() {
  t_cache_destroyed = true;
  for (size_t i = 0; i < count_; ++i) EVP_MD_CTX_free(spare_[i]);
}

EVP_MD_CTX* TakeContext() {
  EVP_MD_CTX* ctx = nullptr;
  if (t_cache_destroyed) {
    ctx = EVP_MD_CTX_new();
    MT_ASSERT(ctx != nullptr);
  } else {
    ctx = t_cache.Take();
  }
  return ctx;
}

void GiveContext(EVP_MD_CTX* ctx) {
  if (t_cache_destroyed) {
    EVP_MD_CTX_free(ctx);
  } else {
    t_cache.Give(ctx);
  }
}

void StartHash(EVP_MD_CTX* ctx) {
  const int ok = EVP_DigestInit_ex(ctx, Sha256Md(), nullptr);
  MT_ASSERT(ok == 1);
}

}  // namespace

Sha256Hasher::Sha256Hasher() : ctx_(TakeContext()) { StartHash(ctx_); }

Sha256Hasher::~Sha256Hasher() { GiveContext(ctx_); }

Sha256Hasher& Sha256Hasher::Update(ByteView data) {
  MT_ASSERT(!finished_);
  // EVP_DigestUpdate accepts a null pointer only together with length 0; an empty span may
  // have a null data() so skip the call instead of relying on that.
  if (!data.empty()) {
    const int ok = EVP_DigestUpdate(ctx_, data.data(), data.size());
    MT_ASSERT(ok == 1);
  }
  return *this;
}

Hash32 Sha256Hasher::Finish() {
  MT_ASSERT(!finished_);
  finished_ = true;
  Hash32 out{};
  unsigned int len = 0;
  const int ok = EVP_DigestFinal_ex(ctx_, out.data(), &len);
  MT_ASSERT(ok == 1);
  MT_ASSERT(len == out.size());
  return out;
}

Sha256Hasher& Sha256Hasher::Reset() {
  StartHash(ctx_);
  finished_ = false;
  return *this;
}

Hash32 Sha256(ByteView data) {
  Sha256Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

Hash32 DomainHash(std::string_view domain, ByteView message) {
  // No length prefix or separator (see the header): the domains are fixed ASCII tags chosen so
  // that none is a prefix of another, which keeps the concatenation unambiguous.
  Sha256Hasher hasher;
  hasher.Update(domain);
  hasher.Update(message);
  return hasher.Finish();
}

}  // namespace minetrace::crypto

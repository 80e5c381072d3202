#include "minetrace/crypto/sha256.h"

#include <openssl/evp.h>

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

}  // namespace

struct Sha256Hasher::State {
  EVP_MD_CTX* ctx = nullptr;
  bool finished = false;
};

Sha256Hasher::Sha256Hasher() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  // Allocation failure inside OpenSSL: the process is out of memory.
  MT_ASSERT(state_->ctx != nullptr);
  const int ok = EVP_DigestInit_ex(state_->ctx, Sha256Md(), nullptr);
  MT_ASSERT(ok == 1);
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(state_->ctx); }

Sha256Hasher& Sha256Hasher::Update(ByteView data) {
  MT_ASSERT(!state_->finished);
  // EVP_DigestUpdate accepts a null pointer only together with length 0; an empty span may
  // have a null data() so skip the call instead of relying on that.
  if (!data.empty()) {
    const int ok = EVP_DigestUpdate(state_->ctx, data.data(), data.size());
    MT_ASSERT(ok == 1);
  }
  return *this;
}

Hash32 Sha256Hasher::Finish() {
  MT_ASSERT(!state_->finished);
  state_->finished = true;
  Hash32 out{};
  unsigned int len = 0;
  const int ok = EVP_DigestFinal_ex(state_->ctx, out.data(), &len);
  MT_ASSERT(ok == 1);
  MT_ASSERT(len == out.size());
  return out;
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

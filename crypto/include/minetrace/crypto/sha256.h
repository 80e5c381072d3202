// SHA-256 (OpenSSL) and the domain-separated message hashes of docs/PROTOCOL.md.
// Thread-safety: free functions are; a Sha256Hasher is used by one thread at a time.
//
// Speed: for the small messages minetrace hashes most (Merkle nodes of 65 bytes, tx bodies of
// about 100 bytes) the cost of an OpenSSL digest context (allocation, provider set-up) is
// larger than the hashing itself. Every thread therefore keeps a few initialised contexts and
// reuses them: Sha256, DomainHash and a new Sha256Hasher take one from the calling thread's
// cache instead of allocating (docs/PERFORMANCE.md, "Micro-benchmarks", has the figures).
#pragma once

#include <string_view>

#include "minetrace/base/bytes.h"

// OpenSSL's EVP_MD_CTX, named without including OpenSSL headers in ours.
struct evp_md_ctx_st;

namespace minetrace::crypto {

Hash32 Sha256(ByteView data);

// Incremental hashing. Finish() ends a hash; Reset() starts a new one on the same object (the
// way to hash many messages in a loop without any set-up per message).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  Sha256Hasher& Update(ByteView data);
  Sha256Hasher& Update(std::string_view data) { return Update(AsBytes(data)); }
  // Once per hash: Update after Finish, or Finish twice, without a Reset in between is a bug.
  Hash32 Finish();
  // Forgets everything hashed so far (finished or not): the hasher is as new.
  Sha256Hasher& Reset();

 private:
  evp_md_ctx_st* ctx_;  // from the thread's context cache, given back by the destructor
  bool finished_ = false;
};

// SHA256(domain || message): the domain is the ASCII tag, with no length prefix and no
// separator, e.g. "minetrace/tx/v1". Every signed or hashed object has its own tag.
Hash32 DomainHash(std::string_view domain, ByteView message);

inline constexpr std::string_view kTxDomain = "minetrace/tx/v1";
inline constexpr std::string_view kLedgerInfoDomain = "minetrace/ledgerinfo/v1";
inline constexpr std::string_view kBlockDomain = "minetrace/block/v1";

}  // namespace minetrace::crypto

// SHA-256 (OpenSSL) and the domain-separated message hashes of docs/PROTOCOL.md.
// Thread-safety: free functions are; a Sha256Hasher is used by one thread at a time.
#pragma once

#include <memory>
#include <string_view>

#include "minetrace/base/bytes.h"

namespace minetrace::crypto {

Hash32 Sha256(ByteView data);

// Incremental hashing; Finish() may be called once.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  Sha256Hasher& Update(ByteView data);
  Sha256Hasher& Update(std::string_view data) { return Update(AsBytes(data)); }
  Hash32 Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// SHA256(domain || message): the domain is the ASCII tag, with no length prefix and no
// separator, e.g. "minetrace/tx/v1". Every signed or hashed object has its own tag.
Hash32 DomainHash(std::string_view domain, ByteView message);

inline constexpr std::string_view kTxDomain = "minetrace/tx/v1";
inline constexpr std::string_view kLedgerInfoDomain = "minetrace/ledgerinfo/v1";
inline constexpr std::string_view kBlockDomain = "minetrace/block/v1";

}  // namespace minetrace::crypto

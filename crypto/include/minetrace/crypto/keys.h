// BIP340 Schnorr keys over secp256k1 (libsecp256k1): a PrivateKey signs 32-byte message
// hashes; a public key is the 32-byte x-only form. Key files hold the private key as 64 hex
// characters and a newline, with mode 0600; reading refuses files readable by group or others.
// Thread-safety: all functions are; libsecp256k1 contexts are created per process and
// read-only after start.
#pragma once

#include <array>
#include <filesystem>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"

namespace minetrace::crypto {

using PublicKey = std::array<uint8_t, 32>;  // x-only
using Signature = std::array<uint8_t, 64>;

class PrivateKey {
 public:
  // A fresh key from the operating system's random source (OpenSSL RAND_bytes).
  static Result<PrivateKey> Generate();
  // Refuses anything that is not 32 bytes or not a valid secp256k1 secret (0 or >= n).
  static Result<PrivateKey> FromBytes(ByteView secret);

  const PublicKey& public_key() const { return public_key_; }
  const std::array<uint8_t, 32>& secret() const { return secret_; }

  // BIP340 signature of msg32 with auxiliary randomness aux32 (all zero gives a
  // deterministic signature; the node and CLI pass fresh randomness).
  Signature Sign(const Hash32& msg32, const Hash32& aux32) const;
  // Sign with fresh auxiliary randomness.
  Signature Sign(const Hash32& msg32) const;

 private:
  PrivateKey() = default;
  std::array<uint8_t, 32> secret_{};
  PublicKey public_key_{};
};

// True when sig is a valid BIP340 signature of the 32-byte msg by the x-only key. Wrong
// sizes and keys that are not on the curve are simply invalid (false).
bool VerifySchnorr(ByteView public_key, ByteView msg32, ByteView signature);

Result<void> WriteKeyFile(const std::filesystem::path& path, const PrivateKey& key);
Result<PrivateKey> ReadKeyFile(const std::filesystem::path& path);

}  // namespace minetrace::crypto

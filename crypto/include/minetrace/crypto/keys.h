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

  // Copies are allowed (keys are values); each copy wipes its secret when destroyed.
  PrivateKey(const PrivateKey&) = default;
  PrivateKey& operator=(const PrivateKey&) = default;
  ~PrivateKey();

  const PublicKey& public_key() const { return public_key_; }
  const std::array<uint8_t, 32>& secret() const { return secret_; }

  // BIP340 signature of msg32 with auxiliary randomness aux32 (all zero gives a
  // deterministic signature; the node and CLI pass fresh randomness).
  Signature Sign(const Hash32& msg32, const Hash32& aux32) const;
  // Sign with fresh auxiliary randomness.
  Signature Sign(const Hash32& msg32) const;

  // BIP340 signature of a message of any length (BIP340 allows it since 2022; equal to Sign
  // when the message has 32 bytes). minetrace itself only signs 32-byte domain hashes; this
  // exists for conformance with the full BIP340 test vectors and for external tools.
  Signature SignMessage(ByteView message, const Hash32& aux32) const;

 private:
  PrivateKey() = default;
  std::array<uint8_t, 32> secret_{};
  PublicKey public_key_{};
  // The libsecp256k1 keypair of secret_ (its opaque 96 bytes), derived once in FromBytes:
  // deriving it costs a curve multiplication, a quarter of a signature. Wiped with secret_.
  std::array<uint8_t, 96> keypair_{};
};

// True when sig is a valid BIP340 signature of the 32-byte msg by the x-only key. Wrong
// sizes and keys that are not on the curve are simply invalid (false).
bool VerifySchnorr(ByteView public_key, ByteView msg32, ByteView signature);
// As VerifySchnorr, for a message of any length (see PrivateKey::SignMessage).
bool VerifySchnorrMessage(ByteView public_key, ByteView message, ByteView signature);

// Creates path with mode 0600 and writes the key as 64 lowercase hex characters and a newline.
// Refuses to replace an existing file (kAlreadyExists): losing a key is not undoable.
Result<void> WriteKeyFile(const std::filesystem::path& path, const PrivateKey& key);
// kNotFound when the file is missing, kPermissionDenied when its mode grants group or other
// access (or it cannot be opened), kInvalidArgument when it does not hold a valid key.
Result<PrivateKey> ReadKeyFile(const std::filesystem::path& path);

}  // namespace minetrace::crypto

#include "minetrace/crypto/keys.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "minetrace/base/assert.h"

namespace minetrace::crypto {
namespace {

// A key file is 64 hex characters and a newline. Anything much larger is not a key file, and
// the bound keeps a mistaken path (a log, a device) from being read whole into memory.
constexpr size_t kKeyFileMaxBytes = 256;

// One context for the whole process. It is created and randomized (blinding against timing
// and power side channels while signing) inside the initializer of a function-local static,
// which C++ runs exactly once even under concurrent first calls; afterwards it is only passed
// as const, and libsecp256k1 documents const-context calls as safe from any thread.
const secp256k1_context* Context() {
  static const secp256k1_context* const ctx = [] {
    secp256k1_context* created = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    MT_ASSERT(created != nullptr);
    unsigned char seed[32];
    // A process without a working random source must not sign anything: keys and
    // auxiliary randomness come from the same place.
    MT_ASSERT(RAND_bytes(seed, sizeof(seed)) == 1);
    MT_ASSERT(secp256k1_context_randomize(created, seed) == 1);
    OPENSSL_cleanse(seed, sizeof(seed));
    return created;
  }();
  return ctx;
}

// PrivateKey stores a keypair as this many bytes (keys.h).
static_assert(sizeof(secp256k1_keypair) == 96);

// Wipes a keypair on scope exit: it holds the secret scalar.
class KeypairGuard {
 public:
  KeypairGuard() = default;
  ~KeypairGuard() { OPENSSL_cleanse(&keypair_, sizeof(keypair_)); }
  KeypairGuard(const KeypairGuard&) = delete;
  KeypairGuard& operator=(const KeypairGuard&) = delete;
  secp256k1_keypair* get() { return &keypair_; }

 private:
  secp256k1_keypair keypair_{};
};

// Parsing an x-only key takes a square root in the field: about a tenth of a verify. A node
// verifies many txs of the same members, so each thread keeps the keys it parsed last, in
// slots chosen by the key's first bytes. A key that maps to a taken slot evicts it: a crafted
// key can only cost its sender the parse, never change a result (a slot is used only for
// exactly the same 32 bytes, whose parse is deterministic). Invalid keys are not kept.
class ParsedKeyCache {
 public:
  // Parses `x` into `out` (false when it is not a valid x-only key), from the cache if it can.
  bool Parse(const uint8_t* x, secp256k1_xonly_pubkey* out) {
    Slot& slot = slots_[(x[0] | (x[1] << 8)) % slots_.size()];
    if (slot.used && std::memcmp(slot.x.data(), x, slot.x.size()) == 0) {
      *out = slot.parsed;
      return true;
    }
    // Parsing fails for x coordinates >= p and for x with no point on the curve.
    if (secp256k1_xonly_pubkey_parse(Context(), out, x) != 1) return false;
    std::memcpy(slot.x.data(), x, slot.x.size());
    slot.parsed = *out;
    slot.used = true;
    return true;
  }

 private:
  struct Slot {
    std::array<uint8_t, 32> x{};
    secp256k1_xonly_pubkey parsed{};
    bool used = false;
  };
  std::array<Slot, 64> slots_{};
};

// Trivially destructible (plain data), so no thread-exit ordering concerns.
thread_local ParsedKeyCache t_parsed_keys;

bool VerifyImpl(ByteView public_key, ByteView message, ByteView signature) {
  if (public_key.size() != 32 || signature.size() != 64) return false;
  secp256k1_xonly_pubkey pubkey;
  if (!t_parsed_keys.Parse(public_key.data(), &pubkey)) return false;
  return secp256k1_schnorrsig_verify(Context(), signature.data(), message.data(), message.size(),
                                     &pubkey) == 1;
}

std::string ErrnoText(int err) { return std::strerror(err); }

// Writes all of data to fd, retrying short writes and EINTR.
bool WriteAll(int fd, const char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Closes fd on scope exit.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the result, so that a failed close (lost write) is seen.
  bool Close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

// Makes the new directory entry durable; without it a crash right after key generation can
// lose the file even though its contents were synced.
void SyncParentDirectory(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the file itself is already synced
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

PrivateKey::~PrivateKey() {
  OPENSSL_cleanse(secret_.data(), secret_.size());
  OPENSSL_cleanse(keypair_.data(), keypair_.size());
}

Result<PrivateKey> PrivateKey::Generate() {
  std::array<uint8_t, 32> secret{};
  // A uniformly random 32-byte string is >= n with probability below 2^-127, so the loop ends
  // on the first round in practice; the bound only guards against a broken random source.
  for (int attempt = 0; attempt < 16; ++attempt) {
    if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
      return MakeError(ErrorCode::kInternal,
                       "the operating system's random source failed (OpenSSL RAND_bytes)");
    }
    auto key = FromBytes(secret);
    if (key) {
      OPENSSL_cleanse(secret.data(), secret.size());
      return key;
    }
  }
  OPENSSL_cleanse(secret.data(), secret.size());
  return MakeError(
      ErrorCode::kInternal,
      "the random source produced 16 invalid secp256k1 secrets in a row; it is broken");
}

Result<PrivateKey> PrivateKey::FromBytes(ByteView secret) {
  if (secret.size() != 32) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a secret key has 32 bytes, got " + std::to_string(secret.size()));
  }
  if (secp256k1_ec_seckey_verify(Context(), secret.data()) != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not a valid secp256k1 secret key (it must be in [1, n-1])");
  }
  PrivateKey key;
  std::copy(secret.begin(), secret.end(), key.secret_.begin());
  KeypairGuard keypair;
  // Cannot fail for a secret that passed secp256k1_ec_seckey_verify.
  MT_ASSERT(secp256k1_keypair_create(Context(), keypair.get(), key.secret_.data()) == 1);
  secp256k1_xonly_pubkey xonly;
  MT_ASSERT(secp256k1_keypair_xonly_pub(Context(), &xonly, nullptr, keypair.get()) == 1);
  MT_ASSERT(secp256k1_xonly_pubkey_serialize(Context(), key.public_key_.data(), &xonly) == 1);
  std::memcpy(key.keypair_.data(), keypair.get(), key.keypair_.size());
  return key;
}

Signature PrivateKey::Sign(const Hash32& msg32, const Hash32& aux32) const {
  KeypairGuard keypair;
  // The object keeps the keypair as bytes so that the public header stays free of
  // libsecp256k1 types; libsecp256k1 lets its opaque structures be copied within a process.
  std::memcpy(keypair.get(), keypair_.data(), keypair_.size());
  Signature sig{};
  MT_ASSERT(secp256k1_schnorrsig_sign32(Context(), sig.data(), msg32.data(), keypair.get(),
                                        aux32.data()) == 1);
  // BIP340 recommends verifying a fresh signature: a fault during signing (bit flip, glitch)
  // could otherwise publish a bad signature, or one that leaks the key. libsecp256k1 leaves
  // the check to the caller.
  MT_ASSERT(VerifyImpl(public_key_, msg32, sig));
  return sig;
}

Signature PrivateKey::Sign(const Hash32& msg32) const {
  Hash32 aux{};
  // Signing must not silently fall back to no randomness; the signature would still be valid
  // but a process whose random source is broken cannot be trusted with keys.
  MT_ASSERT(RAND_bytes(aux.data(), static_cast<int>(aux.size())) == 1);
  return Sign(msg32, aux);
}

Signature PrivateKey::SignMessage(ByteView message, const Hash32& aux32) const {
  KeypairGuard keypair;
  std::memcpy(keypair.get(), keypair_.data(), keypair_.size());
  secp256k1_schnorrsig_extraparams params = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
  // With the default nonce function (BIP340's), ndata is the 32 bytes of aux randomness. The
  // library takes a non-const pointer but only reads it.
  Hash32 aux = aux32;
  params.ndata = aux.data();
  Signature sig{};
  MT_ASSERT(secp256k1_schnorrsig_sign_custom(Context(), sig.data(), message.data(), message.size(),
                                             keypair.get(), &params) == 1);
  MT_ASSERT(VerifyImpl(public_key_, message, sig));
  return sig;
}

bool VerifySchnorr(ByteView public_key, ByteView msg32, ByteView signature) {
  if (msg32.size() != 32) return false;
  return VerifyImpl(public_key, msg32, signature);
}

bool VerifySchnorrMessage(ByteView public_key, ByteView message, ByteView signature) {
  return VerifyImpl(public_key, message, signature);
}

Result<void> WriteKeyFile(const std::filesystem::path& path, const PrivateKey& key) {
  // O_EXCL refuses an existing file and also a symlink at path, so the key cannot be written
  // through a link planted elsewhere.
  const int raw_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (raw_fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "key file " + path.string() +
                           " already exists; refusing to overwrite a key (move it away first)");
    }
    if (err == ENOENT) {
      return MakeError(ErrorCode::kNotFound, "cannot create key file " + path.string() +
                                                 ": the directory does not exist");
    }
    if (err == EACCES || err == EPERM) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "cannot create key file " + path.string() + ": " + ErrnoText(err));
    }
    return MakeError(ErrorCode::kInternal,
                     "cannot create key file " + path.string() + ": " + ErrnoText(err));
  }
  FdGuard fd(raw_fd);
  // The umask can only remove bits from 0600, but be exact rather than rely on that.
  if (::fchmod(fd.get(), 0600) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return MakeError(ErrorCode::kInternal,
                     "cannot set mode 0600 on key file " + path.string() + ": " + ErrnoText(err));
  }

  // Two writes rather than appending the newline, so that no reallocation leaves a stray copy
  // of the secret's hex in freed memory.
  std::string hex = ToHex(key.secret());
  MT_ASSERT(hex.size() == 64);
  const bool written = WriteAll(fd.get(), hex.data(), hex.size()) && WriteAll(fd.get(), "\n", 1);
  const int write_err = errno;
  OPENSSL_cleanse(hex.data(), hex.size());
  if (!written || ::fsync(fd.get()) != 0 || !fd.Close()) {
    const int err = written ? errno : write_err;
    // A half-written key file would later be refused as garbage; better leave no file.
    ::unlink(path.c_str());
    return MakeError(ErrorCode::kInternal,
                     "cannot write key file " + path.string() + ": " + ErrnoText(err));
  }
  SyncParentDirectory(path);
  return {};
}

Result<PrivateKey> ReadKeyFile(const std::filesystem::path& path) {
  const int raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw_fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return MakeError(ErrorCode::kNotFound, "key file " + path.string() + " does not exist");
    }
    if (err == EACCES || err == EPERM) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "cannot open key file " + path.string() + ": " + ErrnoText(err));
    }
    return MakeError(ErrorCode::kInternal,
                     "cannot open key file " + path.string() + ": " + ErrnoText(err));
  }
  FdGuard fd(raw_fd);

  // fstat on the open descriptor checks the very file that is read, not whatever the path
  // names a moment later.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    const int err = errno;
    return MakeError(ErrorCode::kInternal,
                     "cannot stat key file " + path.string() + ": " + ErrnoText(err));
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "key file " + path.string() + " is not a regular file");
  }
  // Like ssh with its private keys: a key others can read may already be someone else's, and
  // refusing it makes the operator notice.
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return MakeError(ErrorCode::kPermissionDenied,
                     "key file " + path.string() + " has mode " + mode +
                         ", which lets group or others access it; run `chmod 600 " + path.string() +
                         "`");
  }

  std::array<char, kKeyFileMaxBytes + 1> buf{};
  size_t size = 0;
  // Bounded by the buffer: each round either makes progress or ends the loop.
  while (size < buf.size()) {
    const ssize_t n = ::read(fd.get(), buf.data() + size, buf.size() - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      OPENSSL_cleanse(buf.data(), buf.size());
      return MakeError(ErrorCode::kInternal,
                       "cannot read key file " + path.string() + ": " + ErrnoText(err));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }

  if (size > kKeyFileMaxBytes) {
    OPENSSL_cleanse(buf.data(), buf.size());
    return MakeError(ErrorCode::kInvalidArgument, "key file " + path.string() +
                                                      " is not a key file: it is larger than " +
                                                      std::to_string(kKeyFileMaxBytes) + " bytes");
  }
  // The file content is a secret: error messages describe it but never quote it.
  std::string_view text(buf.data(), size);
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);  // edited on Windows
  auto secret = Hash32FromHex(text);
  if (!secret) {
    OPENSSL_cleanse(buf.data(), buf.size());
    return MakeError(ErrorCode::kInvalidArgument,
                     "key file " + path.string() +
                         " is not a key file: expected 64 hex characters and a newline (" +
                         secret.error().message + ")");
  }
  OPENSSL_cleanse(buf.data(), buf.size());
  auto key = PrivateKey::FromBytes(*secret);
  OPENSSL_cleanse(secret->data(), secret->size());
  if (!key) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "key file " + path.string() + " does not hold a valid key: " + key.error().message);
  }
  return key;
}

}  // namespace minetrace::crypto

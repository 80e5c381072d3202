#include "minetrace/crypto/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "minetrace/crypto/sha256.h"

namespace minetrace::crypto {
namespace {

namespace fs = std::filesystem;

// secp256k1 group order n.
constexpr std::string_view kOrderHex =
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
constexpr std::string_view kOrderMinusOneHex =
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";

Hash32 HashOf(std::string_view text) { return DomainHash(kTxDomain, AsBytes(text)); }

PrivateKey KeyFromHex(std::string_view hex) {
  auto bytes = FromHex(hex);
  EXPECT_TRUE(bytes.has_value());
  auto key = PrivateKey::FromBytes(bytes.value_or(Bytes{}));
  EXPECT_TRUE(key.has_value()) << (key ? "" : key.error().ToString());
  return *key;
}

PrivateKey TestKey() {
  return KeyFromHex("b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef");
}

// A fresh directory under the system temp dir, removed with its contents at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "minetrace-keys-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteText(const fs::path& path, std::string_view text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

mode_t ModeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST(PrivateKey, SignThenVerifyRoundTrips) {
  const PrivateKey key = TestKey();
  const Hash32 msg = HashOf("dispatch lot 42");
  const Signature sig = key.Sign(msg);
  EXPECT_TRUE(VerifySchnorr(key.public_key(), msg, sig));
  Hash32 aux{};
  aux[0] = 7;
  EXPECT_TRUE(VerifySchnorr(key.public_key(), msg, key.Sign(msg, aux)));
}

TEST(PrivateKey, FixedAuxGivesDeterministicSignatures) {
  const PrivateKey key = TestKey();
  const Hash32 msg = HashOf("m");
  const Hash32 zero{};
  Hash32 other{};
  other[31] = 1;
  EXPECT_EQ(key.Sign(msg, zero), key.Sign(msg, zero));
  EXPECT_NE(key.Sign(msg, zero), key.Sign(msg, other));
}

// A key keeps its libsecp256k1 keypair: copies, assignments and keys of other secrets must
// each sign with their own secret.
TEST(PrivateKey, CopiesAndAssignedKeysSignWithTheirOwnSecret) {
  const PrivateKey key = TestKey();
  const Hash32 msg = HashOf("receive lot 7");
  const Hash32 zero{};
  const PrivateKey copy = key;
  EXPECT_EQ(copy.public_key(), key.public_key());
  EXPECT_EQ(copy.Sign(msg, zero), key.Sign(msg, zero));
  Bytes other_secret(32, 0);
  other_secret[31] = 2;
  PrivateKey other = *PrivateKey::FromBytes(other_secret);
  const Signature by_other = other.Sign(msg, zero);
  EXPECT_TRUE(VerifySchnorr(other.public_key(), msg, by_other));
  EXPECT_FALSE(VerifySchnorr(key.public_key(), msg, by_other));
  other = key;
  EXPECT_EQ(other.Sign(msg, zero), key.Sign(msg, zero));
  EXPECT_TRUE(VerifySchnorr(key.public_key(), msg, other.Sign(msg)));
}

// Parsed keys are kept per thread in a few slots: with more keys than slots, each signature
// must still verify under its own key only, and an invalid key must stay invalid after
// valid ones (and the other way round).
TEST(VerifySchnorr, ManyKeysEachVerifyOnlyTheirOwnSignatures) {
  std::vector<PrivateKey> keys;
  std::vector<Signature> sigs;
  const Hash32 msg = HashOf("record mine lot");
  for (int i = 1; i <= 200; ++i) {
    Bytes secret(32, 0);
    secret[30] = static_cast<uint8_t>(i >> 8);
    secret[31] = static_cast<uint8_t>(i);
    keys.push_back(*PrivateKey::FromBytes(secret));
    sigs.push_back(keys.back().Sign(msg, Hash32{}));
  }
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_TRUE(VerifySchnorr(keys[i].public_key(), msg, sigs[i])) << i;
      const size_t j = (i * 7 + 1) % keys.size();
      EXPECT_FALSE(VerifySchnorr(keys[j].public_key(), msg, sigs[i])) << i << " under " << j;
    }
  }
  // x = 2^256 - 1 is not below the field prime p, so it is no key.
  PublicKey invalid{};
  invalid.fill(0xff);
  EXPECT_FALSE(VerifySchnorr(invalid, msg, sigs[0]));
  EXPECT_TRUE(VerifySchnorr(keys[0].public_key(), msg, sigs[0]));
  EXPECT_FALSE(VerifySchnorr(invalid, msg, sigs[0]));
}

TEST(VerifySchnorr, RefusesWrongMessage) {
  const PrivateKey key = TestKey();
  const Signature sig = key.Sign(HashOf("receipt at smelter"));
  EXPECT_FALSE(VerifySchnorr(key.public_key(), HashOf("receipt at trader"), sig));
}

TEST(VerifySchnorr, RefusesWrongKey) {
  const PrivateKey key = TestKey();
  const PrivateKey other =
      KeyFromHex("0000000000000000000000000000000000000000000000000000000000000003");
  const Hash32 msg = HashOf("m");
  EXPECT_FALSE(VerifySchnorr(other.public_key(), msg, key.Sign(msg)));
}

TEST(VerifySchnorr, RefusesEveryFlippedSignatureBit) {
  const PrivateKey key = TestKey();
  const Hash32 msg = HashOf("m");
  const Signature sig = key.Sign(msg);
  for (size_t bit = 0; bit < sig.size() * 8; ++bit) {
    Signature bad = sig;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(VerifySchnorr(key.public_key(), msg, bad)) << "bit " << bit;
  }
}

TEST(VerifySchnorr, RefusesWrongSizes) {
  const PrivateKey key = TestKey();
  const Hash32 msg = HashOf("m");
  const Signature sig = key.Sign(msg);
  const ByteView pub(key.public_key());
  const ByteView s(sig);
  const ByteView m(msg);
  EXPECT_TRUE(VerifySchnorr(pub, m, s));
  EXPECT_FALSE(VerifySchnorr(pub.first(31), m, s));
  EXPECT_FALSE(VerifySchnorr({}, m, s));
  EXPECT_FALSE(VerifySchnorr(pub, m.first(31), s));
  EXPECT_FALSE(VerifySchnorr(pub, {}, s));
  EXPECT_FALSE(VerifySchnorr(pub, m, s.first(63)));
  EXPECT_FALSE(VerifySchnorr(pub, m, {}));
  Bytes long_sig(sig.begin(), sig.end());
  long_sig.push_back(0);
  EXPECT_FALSE(VerifySchnorr(pub, m, long_sig));
  Bytes long_pub(pub.begin(), pub.end());
  long_pub.push_back(0);
  EXPECT_FALSE(VerifySchnorr(long_pub, m, s));
}

TEST(VerifySchnorrMessage, AgreesWithSignMessageForOtherLengths) {
  const PrivateKey key = TestKey();
  const Hash32 aux{};
  const Bytes message = ToBytes("a message that is not 32 bytes long");
  const Signature sig = key.SignMessage(message, aux);
  EXPECT_TRUE(VerifySchnorrMessage(key.public_key(), message, sig));
  EXPECT_FALSE(VerifySchnorrMessage(key.public_key(), ToBytes("another message"), sig));
  EXPECT_FALSE(VerifySchnorr(key.public_key(), message, sig));
}

TEST(PrivateKey, FromBytesRefusesZero) {
  const Bytes zero(32, 0);
  auto key = PrivateKey::FromBytes(zero);
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
}

TEST(PrivateKey, FromBytesRefusesCurveOrderAndAbove) {
  for (std::string_view hex :
       {kOrderHex,
        std::string_view("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142"),
        std::string_view("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")}) {
    auto key = PrivateKey::FromBytes(*FromHex(hex));
    ASSERT_FALSE(key.has_value()) << hex;
    EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(PrivateKey, FromBytesAcceptsOneAndOrderMinusOne) {
  EXPECT_TRUE(PrivateKey::FromBytes(*FromHex(kOrderMinusOneHex)).has_value());
  Bytes one(32, 0);
  one[31] = 1;
  auto key = PrivateKey::FromBytes(one);
  ASSERT_TRUE(key.has_value());
  // 1 * G: the x coordinate of the generator.
  EXPECT_EQ(ToHex(key->public_key()),
            "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
}

TEST(PrivateKey, FromBytesRefusesWrongSizes) {
  for (size_t size : {size_t{0}, size_t{31}, size_t{33}, size_t{64}}) {
    auto key = PrivateKey::FromBytes(Bytes(size, 1));
    ASSERT_FALSE(key.has_value()) << size;
    EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(PrivateKey, GenerateGivesDistinctWorkingKeys) {
  auto a = PrivateKey::Generate();
  auto b = PrivateKey::Generate();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(a->secret(), b->secret());
  EXPECT_NE(a->public_key(), b->public_key());
  const Hash32 msg = HashOf("m");
  EXPECT_TRUE(VerifySchnorr(a->public_key(), msg, a->Sign(msg)));
  // The secret round-trips through FromBytes to the same public key.
  auto again = PrivateKey::FromBytes(a->secret());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->public_key(), a->public_key());
}

TEST(KeyFile, WriteThenReadRoundTrips) {
  TempDir dir;
  const fs::path path = dir.path() / "validator.key";
  const PrivateKey key = TestKey();
  ASSERT_TRUE(WriteKeyFile(path, key).has_value());
  auto read = ReadKeyFile(path);
  ASSERT_TRUE(read.has_value()) << read.error().ToString();
  EXPECT_EQ(read->secret(), key.secret());
  EXPECT_EQ(read->public_key(), key.public_key());
}

TEST(KeyFile, WrittenFileHasMode0600AndHexContent) {
  TempDir dir;
  const fs::path path = dir.path() / "k";
  const PrivateKey key = TestKey();
  // A permissive umask must not widen the mode.
  const mode_t old_umask = ::umask(0);
  auto written = WriteKeyFile(path, key);
  ::umask(old_umask);
  ASSERT_TRUE(written.has_value()) << written.error().ToString();
  EXPECT_EQ(ModeOf(path), mode_t{0600});
  std::ifstream in(path, std::ios::binary);
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, ToHex(key.secret()) + "\n");
}

TEST(KeyFile, WriteRefusesToOverwrite) {
  TempDir dir;
  const fs::path path = dir.path() / "k";
  ASSERT_TRUE(WriteKeyFile(path, TestKey()).has_value());
  const PrivateKey other =
      KeyFromHex("0000000000000000000000000000000000000000000000000000000000000003");
  auto again = WriteKeyFile(path, other);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  // The first key is still there, untouched.
  auto read = ReadKeyFile(path);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->secret(), TestKey().secret());
}

TEST(KeyFile, WriteIntoMissingDirectoryIsNotFound) {
  TempDir dir;
  auto written = WriteKeyFile(dir.path() / "no-such-dir" / "k", TestKey());
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, ErrorCode::kNotFound);
}

TEST(KeyFile, ReadRefusesGroupOrOtherReadableFile) {
  TempDir dir;
  const fs::path path = dir.path() / "k";
  const std::string text = ToHex(TestKey().secret()) + "\n";
  for (mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0604}, mode_t{0610}, mode_t{0601}}) {
    WriteText(path, text, mode);
    auto read = ReadKeyFile(path);
    ASSERT_FALSE(read.has_value()) << std::oct << mode;
    EXPECT_EQ(read.error().code, ErrorCode::kPermissionDenied);
    EXPECT_NE(read.error().message.find(path.string()), std::string::npos);
    EXPECT_NE(read.error().message.find("chmod 600 " + path.string()), std::string::npos)
        << read.error().message;
  }
  // The same content is fine once the mode is fixed; 0400 too.
  for (mode_t mode : {mode_t{0600}, mode_t{0400}}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    EXPECT_TRUE(ReadKeyFile(path).has_value()) << std::oct << mode;
  }
}

TEST(KeyFile, ReadMissingFileIsNotFound) {
  TempDir dir;
  auto read = ReadKeyFile(dir.path() / "absent.key");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound);
}

TEST(KeyFile, ReadRefusesGarbage) {
  TempDir dir;
  const fs::path path = dir.path() / "k";
  const std::string good = ToHex(TestKey().secret());
  const std::string cases[] = {
      "",
      "\n",
      "not a key\n",
      good.substr(0, 62) + "\n",      // too short
      good + "00\n",                  // too long
      good.substr(0, 63) + "g\n",     // not hex
      " " + good + "\n",              // leading space
      good + "\n\n",                  // two newlines
      std::string(64, '0') + "\n",    // zero is not a key
      std::string(kOrderHex) + "\n",  // n is not a key
      std::string(4096, 'a'),         // large
  };
  for (const std::string& text : cases) {
    std::error_code ec;
    fs::remove(path, ec);
    WriteText(path, text, 0600);
    auto read = ReadKeyFile(path);
    ASSERT_FALSE(read.has_value()) << "content: " << text.substr(0, 80);
    EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument) << read.error().message;
    EXPECT_NE(read.error().message.find(path.string()), std::string::npos);
  }
}

TEST(KeyFile, ReadAcceptsUppercaseAndMissingOrCrlfNewline) {
  TempDir dir;
  const fs::path path = dir.path() / "k";
  std::string upper = ToHex(TestKey().secret());
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& text :
       {upper + "\n", ToHex(TestKey().secret()), ToHex(TestKey().secret()) + "\r\n"}) {
    WriteText(path, text, 0600);
    auto read = ReadKeyFile(path);
    ASSERT_TRUE(read.has_value()) << read.error().ToString();
    EXPECT_EQ(read->secret(), TestKey().secret());
  }
}

TEST(KeyFile, ReadRefusesDirectory) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  auto read = ReadKeyFile(dir.path());
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace minetrace::crypto

#include "minetrace/crypto/sha256.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace minetrace::crypto {
namespace {

// FIPS 180-2 examples.
TEST(Sha256, EmptyInputMatchesKnownDigest) {
  EXPECT_EQ(ToHex(Sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, AbcMatchesKnownDigest) {
  EXPECT_EQ(ToHex(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlockMessageMatchesKnownDigest) {
  EXPECT_EQ(ToHex(Sha256(AsBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Hasher, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  const Hash32 expected = Sha256(AsBytes(data));
  // Split points around the 64-byte block boundary and at the ends.
  for (size_t split :
       {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{999}, size_t{1000}}) {
    Sha256Hasher hasher;
    hasher.Update(std::string_view(data).substr(0, split));
    hasher.Update(std::string_view(data).substr(split));
    EXPECT_EQ(hasher.Finish(), expected) << "split at " << split;
  }
  Sha256Hasher bytewise;
  for (char c : data) bytewise.Update(std::string_view(&c, 1));
  EXPECT_EQ(bytewise.Finish(), expected);
}

TEST(Sha256Hasher, EmptyUpdatesChangeNothing) {
  Sha256Hasher hasher;
  hasher.Update(ByteView{}).Update("abc").Update(std::string_view{});
  EXPECT_EQ(hasher.Finish(), Sha256(AsBytes("abc")));
}

TEST(Sha256Hasher, ResetAfterFinishStartsANewHash) {
  Sha256Hasher hasher;
  EXPECT_EQ(ToHex(hasher.Update("abc").Finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(hasher.Reset().Finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hasher.Reset().Update("abc").Finish(), Sha256(AsBytes("abc")));
}

TEST(Sha256Hasher, ResetMidwayForgetsWhatWasHashed) {
  Sha256Hasher hasher;
  hasher.Update("a long prefix that must not count, longer than one 64-byte block of input");
  hasher.Reset().Update("abc");
  EXPECT_EQ(hasher.Finish(), Sha256(AsBytes("abc")));
}

// Contexts are reused between hashers of a thread: hashers alive at the same time (more than
// the thread keeps spare) must not share one, and a reused one must start empty.
TEST(Sha256Hasher, ManyLiveHashersStayIndependent) {
  std::vector<std::unique_ptr<Sha256Hasher>> hashers;
  for (int i = 0; i < 10; ++i) {
    hashers.push_back(std::make_unique<Sha256Hasher>());
    hashers.back()->Update(std::to_string(i));
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(hashers[i]->Finish(), Sha256(AsBytes(std::to_string(i)))) << i;
  }
  hashers.clear();
  // Unfinished hashers were given back above; the next ones must not see their input.
  Sha256Hasher unfinished;
  unfinished.Update("left over");
  {
    Sha256Hasher inner;
    EXPECT_EQ(inner.Update("abc").Finish(), Sha256(AsBytes("abc")));
  }
  EXPECT_EQ(unfinished.Update("!").Finish(), Sha256(AsBytes("left over!")));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(ToHex(Sha256(AsBytes("abc"))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
}

// Every thread has its own contexts; hashers made on one thread may end on another.
TEST(Sha256Hasher, ThreadsHashConcurrentlyAndHashersMayChangeThread) {
  const Hash32 expected = Sha256(AsBytes("abc"));
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &wrong, &expected] {
      for (int i = 0; i < 2000; ++i) {
        if (Sha256(AsBytes("abc")) != expected) ++wrong[t];
        if (DomainHash(kTxDomain, AsBytes(std::to_string(i))) !=
            Sha256(AsBytes(std::string(kTxDomain) + std::to_string(i)))) {
          ++wrong[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;

  auto moved = std::make_unique<Sha256Hasher>();
  moved->Update("ab");
  Hash32 got{};
  std::thread other([&] {
    got = moved->Update("c").Finish();
    moved.reset();  // its context goes to this thread's cache, then freed at thread exit
  });
  other.join();
  EXPECT_EQ(got, expected);
}

TEST(DomainHash, EqualsSha256OfConcatenation) {
  const Bytes body = {0x00, 0x01, 0xfe, 0xff, 0x42};
  std::string concatenated(kTxDomain);
  concatenated += AsChars(body);
  EXPECT_EQ(DomainHash(kTxDomain, body), Sha256(AsBytes(concatenated)));
  EXPECT_EQ(DomainHash(kBlockDomain, {}), Sha256(AsBytes(kBlockDomain)));
}

TEST(DomainHash, DifferentDomainsGiveDifferentHashes) {
  const Bytes body = ToBytes("same body");
  EXPECT_NE(DomainHash(kTxDomain, body), DomainHash(kBlockDomain, body));
  EXPECT_NE(DomainHash(kTxDomain, body), DomainHash(kLedgerInfoDomain, body));
  EXPECT_NE(DomainHash(kTxDomain, body), Sha256(body));
}

}  // namespace
}  // namespace minetrace::crypto

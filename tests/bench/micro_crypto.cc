// Crypto micro-benchmarks (issue 7): BIP340 sign and verify, the VerifyPool's scaling,
// SHA-256 one-shot against a reused context, and the two hashes every tx needs.
// BM_Bip340Verify is read by the cluster script (`micro_bench --benchmark_filter=Verify`):
// its counters t_verify_ns and ceiling_tx_s are the signature ceiling of issue 7.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <sched.h>

#include <vector>

#include "micro_common.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/crypto/sha256.h"
#include "minetrace/crypto/verify_pool.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::bench {
namespace {

namespace lp = ledger::proof;

// Validators sharing the machine in the ceiling C / (n x t_verify) of issue 7.
constexpr double kCeilingValidators = 4;

// What `nproc` prints: the CPUs this process may run on.
double UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return CPU_COUNT(&set);
}

Hash32 MessageHash(uint64_t i) {
  const std::string text = "micro-bench message " + std::to_string(i);
  return crypto::Sha256(AsBytes(text));
}

void BM_Bip340Sign(benchmark::State& state) {
  const crypto::PrivateKey key = KeyFromSeed(1);
  const Hash32 msg = MessageHash(0);
  const Hash32 aux{};
  for (auto _ : state) {
    crypto::Signature sig = key.Sign(msg, aux);
    benchmark::DoNotOptimize(sig);
  }
}
BENCHMARK(BM_Bip340Sign);

// One signature check on one core, always of the same key: its parsed form comes from the
// thread's cache after the first check, as for a member the node verifies often. Counters,
// from the CPU time of this benchmark (a busy machine inflates it less than wall time):
// t_verify_ns, the time of one verify, and ceiling_tx_s = C / (n x t_verify) with C = nproc
// and n = 4 validators.
void BM_Bip340Verify(benchmark::State& state) {
  const crypto::PrivateKey key = KeyFromSeed(1);
  const Hash32 msg = MessageHash(0);
  const crypto::Signature sig = key.Sign(msg, Hash32{});
  for (auto _ : state) {
    bool ok = crypto::VerifySchnorr(key.public_key(), msg, sig);
    benchmark::DoNotOptimize(ok);
  }
  if (!crypto::VerifySchnorr(key.public_key(), msg, sig)) state.SkipWithError("bad signature");
  const double cores = UsableCores();
  // kIsIterationInvariantRate | kInvert gives seconds / (value x iterations): with value 1e-9
  // that is nanoseconds per verify.
  state.counters["t_verify_ns"] = benchmark::Counter(
      1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  // value x iterations / seconds = (C / n) / t_verify.
  state.counters["ceiling_tx_s"] =
      benchmark::Counter(cores / kCeilingValidators, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nproc"] = cores;
  state.counters["validators"] = kCeilingValidators;
}
BENCHMARK(BM_Bip340Verify);

// As BM_Bip340Verify, over 1024 keys in turn: far more than the 64 parsed keys a thread
// keeps (crypto/src/keys.cc), so nearly every verify parses its key again, as for a signer
// the node has not seen lately.
void BM_Bip340VerifyManyKeys(benchmark::State& state) {
  constexpr size_t kKeys = 1024;
  std::vector<crypto::PrivateKey> keys;
  std::vector<crypto::Signature> sigs;
  const Hash32 msg = MessageHash(0);
  for (size_t i = 0; i < kKeys; ++i) {
    Bytes secret(32, 0);
    secret[0] = 0x22;
    secret[30] = static_cast<uint8_t>(i >> 8);
    secret[31] = static_cast<uint8_t>(i);
    keys.push_back(*crypto::PrivateKey::FromBytes(secret));
    sigs.push_back(keys.back().Sign(msg, Hash32{}));
  }
  size_t i = 0;
  for (auto _ : state) {
    bool ok = crypto::VerifySchnorr(keys[i].public_key(), msg, sigs[i]);
    benchmark::DoNotOptimize(ok);
    i = (i + 1) % kKeys;
  }
}
BENCHMARK(BM_Bip340VerifyManyKeys);

// Batches of 1000 distinct (key, message, signature) jobs through VerifyPool::VerifyAll.
void BM_VerifyPool(benchmark::State& state) {
  constexpr size_t kBatch = 1000;
  std::vector<crypto::PrivateKey> keys;
  for (uint8_t s = 1; s <= 16; ++s) keys.push_back(KeyFromSeed(s));
  std::vector<crypto::VerifyJob> jobs;
  jobs.reserve(kBatch);
  for (size_t i = 0; i < kBatch; ++i) {
    const crypto::PrivateKey& key = keys[i % keys.size()];
    const Hash32 msg = MessageHash(i);
    jobs.push_back({key.public_key(), msg, key.Sign(msg, Hash32{})});
  }
  crypto::VerifyPool pool(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    std::vector<bool> ok = pool.VerifyAll(jobs);
    benchmark::DoNotOptimize(ok);
  }
  const std::vector<bool> ok = pool.VerifyAll(jobs);
  for (bool b : ok) {
    if (!b) state.SkipWithError("a signature of the batch does not verify");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}
// Real time: the work happens on the pool's threads, not on the benchmark's.
BENCHMARK(BM_VerifyPool)->ArgName("threads")->Arg(1)->Arg(2)->Arg(4)->UseRealTime();

std::string Message(size_t bytes) {
  std::string m(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) m[i] = static_cast<char>(i * 31 + 7);
  return m;
}

// crypto::Sha256, the one-shot call tx ids, block payload hashes and Merkle nodes use.
void BM_Sha256OneShot(benchmark::State& state) {
  const std::string m = Message(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    Hash32 h = crypto::Sha256(AsBytes(m));
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}
BENCHMARK(BM_Sha256OneShot)->ArgName("bytes")->Arg(32)->Arg(64)->Arg(200)->Arg(1000);

// OpenSSL's own one-shot EVP_Digest (a context allocated and freed per call): the reference
// the "2x" is measured against.
void BM_Sha256OpenSslEvpDigest(benchmark::State& state) {
  const std::string m = Message(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    Hash32 h{};
    unsigned int len = 0;
    EVP_Digest(m.data(), m.size(), h.data(), &len, EVP_sha256(), nullptr);
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}
BENCHMARK(BM_Sha256OpenSslEvpDigest)->ArgName("bytes")->Arg(32)->Arg(64)->Arg(200)->Arg(1000);

// One EVP_MD_CTX and one fetched EVP_MD reused for every hash: the floor of what EVP gives.
void BM_Sha256OpenSslReusedCtx(benchmark::State& state) {
  const std::string m = Message(static_cast<size_t>(state.range(0)));
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  for (auto _ : state) {
    Hash32 h{};
    unsigned int len = 0;
    EVP_DigestInit_ex(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, m.data(), m.size());
    EVP_DigestFinal_ex(ctx, h.data(), &len);
    benchmark::DoNotOptimize(h);
  }
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}
BENCHMARK(BM_Sha256OpenSslReusedCtx)->ArgName("bytes")->Arg(32)->Arg(64)->Arg(200)->Arg(1000);

// crypto::Sha256Hasher reused through Reset(): the loop form for hashing many messages.
void BM_Sha256HasherReset(benchmark::State& state) {
  const std::string m = Message(static_cast<size_t>(state.range(0)));
  crypto::Sha256Hasher hasher;
  for (auto _ : state) {
    Hash32 h = hasher.Reset().Update(m).Finish();
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}
BENCHMARK(BM_Sha256HasherReset)->ArgName("bytes")->Arg(32)->Arg(64)->Arg(200)->Arg(1000);

// A typical signed tx (a mine lot record): its id, SHA256(body), and its signing hash,
// SHA256("minetrace/tx/v1" || body).
v1::SignedTx TypicalSignedTx() {
  const crypto::PrivateKey agent = KeyFromSeed(3);
  return lp::SignTxWithAux(TypicalRecordBody(1, KeyStr(KeyFromSeed(4))), agent, Hash32{});
}

void BM_TxId(benchmark::State& state) {
  const v1::SignedTx tx = TypicalSignedTx();
  for (auto _ : state) {
    Hash32 id = lp::TxId(tx);
    benchmark::DoNotOptimize(id);
  }
  state.counters["body_bytes"] = static_cast<double>(tx.body().size());
}
BENCHMARK(BM_TxId);

void BM_TxSigningHash(benchmark::State& state) {
  const v1::SignedTx tx = TypicalSignedTx();
  for (auto _ : state) {
    Hash32 h = lp::TxSigningHash(AsBytes(tx.body()));
    benchmark::DoNotOptimize(h);
  }
  state.counters["body_bytes"] = static_cast<double>(tx.body().size());
}
BENCHMARK(BM_TxSigningHash);

}  // namespace
}  // namespace minetrace::bench

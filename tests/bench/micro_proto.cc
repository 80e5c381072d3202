// Protobuf micro-benchmarks (issue 7): encode and decode of a TxBody, a SignedTx and a block
// payload of 1000 signed txs (v1::BlockPayload, what a consensus block carries).
#include <benchmark/benchmark.h>

#include <string>

#include "micro_common.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/v1/consensus.pb.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::bench {
namespace {

namespace lp = ledger::proof;

v1::SignedTx TypicalSignedTx(uint64_t nonce) {
  return lp::SignTxWithAux(TypicalRecordBody(nonce, KeyStr(KeyFromSeed(4))), KeyFromSeed(3),
                           Hash32{});
}

template <class Msg>
void Encode(benchmark::State& state, const Msg& msg) {
  std::string out;
  for (auto _ : state) {
    out.clear();
    msg.SerializeToString(&out);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.counters["bytes"] = static_cast<double>(out.size());
}

template <class Msg>
void Decode(benchmark::State& state, const Msg& msg) {
  const std::string bytes = msg.SerializeAsString();
  Msg parsed;
  for (auto _ : state) {
    if (!parsed.ParseFromString(bytes)) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
  state.counters["bytes"] = static_cast<double>(bytes.size());
}

v1::BlockPayload PayloadOf1000() {
  v1::BlockPayload payload;
  for (uint64_t i = 1; i <= 1000; ++i) *payload.add_txs() = TypicalSignedTx(i);
  return payload;
}

void BM_EncodeTxBody(benchmark::State& state) {
  Encode(state, TypicalRecordBody(1, KeyStr(KeyFromSeed(4))));
}
BENCHMARK(BM_EncodeTxBody);
void BM_DecodeTxBody(benchmark::State& state) {
  Decode(state, TypicalRecordBody(1, KeyStr(KeyFromSeed(4))));
}
BENCHMARK(BM_DecodeTxBody);
void BM_EncodeSignedTx(benchmark::State& state) { Encode(state, TypicalSignedTx(1)); }
BENCHMARK(BM_EncodeSignedTx);
void BM_DecodeSignedTx(benchmark::State& state) { Decode(state, TypicalSignedTx(1)); }
BENCHMARK(BM_DecodeSignedTx);
void BM_EncodeBlockPayload1000(benchmark::State& state) { Encode(state, PayloadOf1000()); }
BENCHMARK(BM_EncodeBlockPayload1000)->Unit(benchmark::kMicrosecond);
void BM_DecodeBlockPayload1000(benchmark::State& state) { Decode(state, PayloadOf1000()); }
BENCHMARK(BM_DecodeBlockPayload1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace minetrace::bench

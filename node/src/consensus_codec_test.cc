// Goal: the consensus codec carries every plain consensus value to the wire and back
// unchanged, and refuses any malformed wire value with a message naming the field, without
// crashing. Method: round trips of hand-built values with distinct, non-zero fields (through
// serialized bytes too); one mutation per malformed field; a seeded fuzz loop over random
// bytes and mutated valid encodings.
#include "consensus_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "minetrace/v1/ledger.pb.h"

namespace minetrace::node {
namespace {

using consensus::Block;
using consensus::BlockRequest;
using consensus::BlockResponse;
using consensus::Message;
using consensus::Proposal;
using consensus::QuorumCertificate;
using consensus::SafetyData;
using consensus::Timeout;
using consensus::TimeoutCertificate;
using consensus::Vote;

// ---- sample values: every byte and number distinct, so a swapped field shows ----

Hash32 H(uint8_t seed) {
  Hash32 h{};
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(seed * 31 + i);
  return h;
}

crypto::Signature Sig(uint8_t seed) {
  crypto::Signature s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(seed * 17 + i * 3);
  return s;
}

QuorumCertificate SampleQc(uint64_t round, size_t signatures) {
  QuorumCertificate qc;
  qc.epoch = 3;
  qc.round = round;
  qc.block_id = H(static_cast<uint8_t>(round));
  qc.height = round + 1000;
  for (size_t i = 0; i < signatures; ++i) {
    qc.signatures.push_back(
        {static_cast<consensus::ValidatorIndex>(i * 2 + 1), Sig(static_cast<uint8_t>(round + i))});
  }
  return qc;
}

TimeoutCertificate SampleTc() {
  TimeoutCertificate tc;
  tc.epoch = 3;
  tc.round = 41;
  tc.timeouts = {{0, 38, Sig(90)}, {2, 39, Sig(91)}, {3, 37, Sig(92)}};
  tc.high_qc = SampleQc(39, 3);
  return tc;
}

Block SampleBlock(bool with_tc) {
  Block b;
  b.header.epoch = 3;
  b.header.round = 42;
  b.header.height = 1017;
  b.header.parent_id = H(7);
  b.header.proposer = 2;
  b.header.timestamp_ms = -1'700'000'000'123;  // negative: int64 must survive the sign
  b.header.payload_hash = H(8);
  b.header.ledger_root = {1016, H(9), 123'456'789'012ull};
  b.payload = {0x00, 0x01, 0xff, 0x00, 0x7f, 0x80};
  b.parent_qc = SampleQc(with_tc ? 39 : 41, 3);
  if (with_tc) b.previous_round_tc = SampleTc();
  b.proposer_signature = Sig(55);
  return b;
}

Vote SampleVote() { return Vote{3, 42, H(11), 1017, 3, Sig(12)}; }

Timeout SampleTimeout() { return Timeout{3, 43, SampleQc(41, 4), 1, Sig(13)}; }

// Every Message kind, each optional both present and absent.
std::vector<Message> SampleMessages() {
  return {
      Proposal{SampleBlock(false)},
      Proposal{SampleBlock(true)},
      SampleVote(),
      SampleTimeout(),
      BlockRequest{H(21)},
      BlockResponse{SampleBlock(true), SampleQc(42, 3)},
      BlockResponse{SampleBlock(false), std::nullopt},
  };
}

// Proposal, BlockRequest and BlockResponse have no operator== (engine.h); compare them by
// their members, which do.
bool SameMessage(const Message& a, const Message& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&b](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, Proposal>) {
          return x.block == y.block;
        } else if constexpr (std::is_same_v<T, BlockRequest>) {
          return x.block_id == y.block_id;
        } else if constexpr (std::is_same_v<T, BlockResponse>) {
          return x.block == y.block && x.qc == y.qc;
        } else {
          return x == y;  // Vote, Timeout
        }
      },
      a);
}

// Through bytes as well as through the object: what a peer actually receives.
v1::ConsensusMessage ThroughWire(const v1::ConsensusMessage& m) {
  v1::PeerMessage envelope;
  *envelope.mutable_consensus() = m;
  v1::PeerMessage parsed;
  EXPECT_TRUE(parsed.ParseFromString(envelope.SerializeAsString()));
  EXPECT_TRUE(parsed.has_consensus());
  return parsed.consensus();
}

void ExpectInvalid(const Result<Message>& r, const std::string& expected) {
  ASSERT_FALSE(r.has_value()) << "accepted; wanted: " << expected;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find(expected), std::string::npos)
      << "message: " << r.error().message << "\nwanted: " << expected;
}

// ---- round trips ----

TEST(ConsensusCodec, QcRoundTripsWithSignatures) {
  QuorumCertificate qc = SampleQc(17, 5);
  auto back = QcFromProto(QcToProto(qc));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, qc);
}

TEST(ConsensusCodec, GenesisQcWithoutSignaturesRoundTrips) {
  QuorumCertificate qc = SampleQc(0, 0);
  auto back = QcFromProto(QcToProto(qc));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, qc);
  EXPECT_TRUE(back->signatures.empty());
}

TEST(ConsensusCodec, BlockRoundTripsWithAndWithoutPreviousRoundTc) {
  for (bool with_tc : {false, true}) {
    SCOPED_TRACE(with_tc ? "with tc" : "without tc");
    Block block = SampleBlock(with_tc);
    v1::ConsensusBlock proto = BlockToProto(block);
    EXPECT_EQ(proto.has_previous_round_tc(), with_tc);
    auto back = BlockFromProto(proto);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, block);
    EXPECT_EQ(back->previous_round_tc.has_value(), with_tc);
  }
}

TEST(ConsensusCodec, BlockIdSurvivesRoundTrip) {
  for (bool with_tc : {false, true}) {
    Block block = SampleBlock(with_tc);
    v1::ConsensusBlock parsed;
    ASSERT_TRUE(parsed.ParseFromString(BlockToProto(block).SerializeAsString()));
    auto back = BlockFromProto(parsed);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(consensus::BlockId(back->header), consensus::BlockId(block.header));
  }
}

TEST(ConsensusCodec, HeaderRoundTripsAlone) {
  // A CommittedBlock's commit proof carries only the child's header.
  const consensus::BlockHeader header = SampleBlock(true).header;
  auto back = HeaderFromProto(HeaderToProto(header));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, header);
  EXPECT_EQ(consensus::BlockId(*back), consensus::BlockId(header));
}

TEST(ConsensusCodec, PayloadBytesPassThroughUnchanged) {
  v1::BlockPayload payload;
  v1::SignedTx* tx = payload.add_txs();
  tx->set_body(std::string("\x00\x01\x02 body", 8));
  tx->set_signer(std::string(32, '\x05'));
  tx->set_signature(std::string(64, '\x06'));
  std::string encoded = payload.SerializeAsString();

  Block block = SampleBlock(false);
  block.payload = ToBytes(encoded);
  auto back = BlockFromProto(BlockToProto(block));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(ToString(back->payload), encoded);

  block.payload.clear();
  back = BlockFromProto(BlockToProto(block));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->payload.empty());
}

TEST(ConsensusCodec, EveryMessageKindRoundTripsThroughBytes) {
  std::vector<Message> messages = SampleMessages();
  for (size_t i = 0; i < messages.size(); ++i) {
    SCOPED_TRACE("message " + std::to_string(i));
    auto back = MessageFromProto(ThroughWire(MessageToProto(messages[i])));
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->index(), messages[i].index());
    EXPECT_TRUE(SameMessage(*back, messages[i]));
  }
}

TEST(ConsensusCodec, BlockResponseQcPresentAndAbsentStaysSo) {
  v1::ConsensusMessage with = MessageToProto(BlockResponse{SampleBlock(false), SampleQc(42, 3)});
  v1::ConsensusMessage without = MessageToProto(BlockResponse{SampleBlock(false), std::nullopt});
  EXPECT_TRUE(with.block_response().has_qc());
  EXPECT_FALSE(without.block_response().has_qc());
  auto a = MessageFromProto(ThroughWire(with));
  auto b = MessageFromProto(ThroughWire(without));
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(std::get<BlockResponse>(*a).qc.has_value());
  EXPECT_FALSE(std::get<BlockResponse>(*b).qc.has_value());
}

TEST(ConsensusCodec, SafetyDataRoundTrips) {
  SafetyData safety{3, 42, 44, SampleQc(41, 3)};
  v1::SafetyRecord parsed;
  ASSERT_TRUE(parsed.ParseFromString(SafetyToProto(safety).SerializeAsString()));
  auto back = SafetyFromProto(parsed);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, safety);
}

// ---- malformed input ----

struct Malformation {
  std::string expected;  // a substring of the error message: the field path and the problem
  std::function<void(v1::ConsensusMessage&)> mutate;
};

// Each case starts from a valid encoding of the message kind it touches.
TEST(ConsensusCodec, RefusesEachMalformedFieldNamingIt) {
  const v1::ConsensusMessage proposal = MessageToProto(Proposal{SampleBlock(true)});
  const v1::ConsensusMessage vote = MessageToProto(SampleVote());
  const v1::ConsensusMessage timeout = MessageToProto(SampleTimeout());
  const v1::ConsensusMessage request = MessageToProto(BlockRequest{H(21)});
  const v1::ConsensusMessage response =
      MessageToProto(BlockResponse{SampleBlock(true), SampleQc(42, 3)});
  auto block = [](v1::ConsensusMessage& m) { return m.mutable_proposal()->mutable_block(); };
  auto header = [&](v1::ConsensusMessage& m) { return block(m)->mutable_header(); };

  const std::vector<std::pair<const v1::ConsensusMessage*, Malformation>> cases = {
      {&vote,
       {"vote.block_id must be 32 bytes, got 5",
        [](auto& m) { m.mutable_vote()->set_block_id("12345"); }}},
      {&vote,
       {"vote.block_id must be 32 bytes, got 0",
        [](auto& m) { m.mutable_vote()->clear_block_id(); }}},
      {&vote,
       {"vote.signature must be 64 bytes, got 63",
        [](auto& m) { m.mutable_vote()->set_signature(std::string(63, 'x')); }}},
      {&vote,
       {"vote.signature must be 64 bytes, got 65",
        [](auto& m) { m.mutable_vote()->set_signature(std::string(65, 'x')); }}},
      {&proposal,
       {"proposal.block is missing", [](auto& m) { m.mutable_proposal()->clear_block(); }}},
      {&proposal, {"proposal.block.header is missing", [&](auto& m) { block(m)->clear_header(); }}},
      {&proposal,
       {"proposal.block.header.parent_id must be 32 bytes, got 33",
        [&](auto& m) { header(m)->set_parent_id(std::string(33, 'p')); }}},
      {&proposal,
       {"proposal.block.header.payload_hash must be 32 bytes, got 0",
        [&](auto& m) { header(m)->clear_payload_hash(); }}},
      {&proposal,
       {"proposal.block.header.ledger_root is missing",
        [&](auto& m) { header(m)->clear_ledger_root(); }}},
      {&proposal,
       {"proposal.block.header.ledger_root.accumulator_root must be 32 bytes, got 31",
        [&](auto& m) {
          header(m)->mutable_ledger_root()->set_accumulator_root(std::string(31, 'a'));
        }}},
      {&proposal,
       {"proposal.block.parent_qc is missing", [&](auto& m) { block(m)->clear_parent_qc(); }}},
      {&proposal,
       {"proposal.block.parent_qc.block_id must be 32 bytes, got 1",
        [&](auto& m) { block(m)->mutable_parent_qc()->set_block_id("b"); }}},
      {&proposal,
       {"proposal.block.parent_qc.signatures[1].signature must be 64 bytes, got 0",
        [&](auto& m) { block(m)->mutable_parent_qc()->mutable_signatures(1)->clear_signature(); }}},
      {&proposal,
       {"proposal.block.previous_round_tc.timeouts[2].signature must be 64 bytes, got 32",
        [&](auto& m) {
          block(m)->mutable_previous_round_tc()->mutable_timeouts(2)->set_signature(
              std::string(32, 's'));
        }}},
      {&proposal,
       {"proposal.block.previous_round_tc.high_qc is missing",
        [&](auto& m) { block(m)->mutable_previous_round_tc()->clear_high_qc(); }}},
      {&proposal,
       {"proposal.block.previous_round_tc.high_qc.block_id must be 32 bytes, got 2",
        [&](auto& m) {
          block(m)->mutable_previous_round_tc()->mutable_high_qc()->set_block_id("xy");
        }}},
      {&proposal,
       {"proposal.block.proposer_signature must be 64 bytes, got 0",
        [&](auto& m) { block(m)->clear_proposer_signature(); }}},
      {&timeout,
       {"timeout.high_qc is missing", [](auto& m) { m.mutable_timeout()->clear_high_qc(); }}},
      {&timeout,
       {"timeout.high_qc.signatures[0].signature must be 64 bytes, got 3",
        [](auto& m) {
          m.mutable_timeout()->mutable_high_qc()->mutable_signatures(0)->set_signature("abc");
        }}},
      {&timeout,
       {"timeout.signature must be 64 bytes, got 0",
        [](auto& m) { m.mutable_timeout()->clear_signature(); }}},
      {&request,
       {"block_request.block_id must be 32 bytes, got 64",
        [](auto& m) { m.mutable_block_request()->set_block_id(std::string(64, 'i')); }}},
      {&response,
       {"block_response.block is missing",
        [](auto& m) { m.mutable_block_response()->clear_block(); }}},
      {&response,
       {"block_response.block.header.parent_id must be 32 bytes, got 0",
        [](auto& m) {
          m.mutable_block_response()->mutable_block()->mutable_header()->clear_parent_id();
        }}},
      {&response,
       {"block_response.qc.block_id must be 32 bytes, got 4",
        [](auto& m) { m.mutable_block_response()->mutable_qc()->set_block_id("four"); }}},
      {&vote, {"consensus message kind is not set", [](auto& m) { m.clear_kind(); }}},
  };
  for (const auto& [valid, malformation] : cases) {
    SCOPED_TRACE(malformation.expected);
    ASSERT_TRUE(MessageFromProto(*valid)) << "the starting point must be valid";
    v1::ConsensusMessage m = *valid;
    malformation.mutate(m);
    ExpectInvalid(MessageFromProto(m), malformation.expected);
    ExpectInvalid(MessageFromProto(ThroughWire(m)), malformation.expected);
  }
}

TEST(ConsensusCodec, RefusesCertificatesOverTheEntryBound) {
  // Exactly at the bound is accepted (shape only; the engine judges the quorum).
  QuorumCertificate at_bound = SampleQc(5, kMaxCertificateEntries);
  ASSERT_TRUE(QcFromProto(QcToProto(at_bound)));

  v1::QuorumCertificate over = QcToProto(at_bound);
  *over.add_signatures() = over.signatures(0);
  auto qc = QcFromProto(over);
  ASSERT_FALSE(qc);
  EXPECT_EQ(qc.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(qc.error().message, "qc.signatures has 1025 entries, at most 1024 allowed");

  v1::ConsensusBlock block = BlockToProto(SampleBlock(true));
  v1::TimeoutCertificate* tc = block.mutable_previous_round_tc();
  while (static_cast<size_t>(tc->timeouts_size()) <= kMaxCertificateEntries) {
    *tc->add_timeouts() = tc->timeouts(0);
  }
  auto b = BlockFromProto(block);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().message,
            "block.previous_round_tc.timeouts has 1025 entries, at most 1024 allowed");
}

TEST(ConsensusCodec, StandaloneDecodersNameTheirRoot) {
  v1::QuorumCertificate qc = QcToProto(SampleQc(3, 1));
  qc.set_block_id("short");
  auto q = QcFromProto(qc);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().message, "qc.block_id must be 32 bytes, got 5");

  v1::ConsensusBlock block = BlockToProto(SampleBlock(false));
  block.mutable_header()->set_payload_hash("");
  auto b = BlockFromProto(block);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().message, "block.header.payload_hash must be 32 bytes, got 0");

  v1::ConsensusBlockHeader header = HeaderToProto(SampleBlock(false).header);
  header.clear_ledger_root();
  auto h = HeaderFromProto(header);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message, "header.ledger_root is missing");

  v1::SafetyRecord record = SafetyToProto(SafetyData{1, 2, 3, SampleQc(2, 1)});
  record.mutable_high_qc()->mutable_signatures(0)->set_signature(std::string(10, 'z'));
  auto s = SafetyFromProto(record);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "safety.high_qc.signatures[0].signature must be 64 bytes, got 10");
  record.clear_high_qc();
  s = SafetyFromProto(record);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "safety.high_qc is missing");
}

// ---- fuzz ----

// Byte-level mutations of a valid encoding: most land in lengths, tags and varints, which is
// where a parser or a decoder would trust the input too far.
std::string Mutate(std::string bytes, std::mt19937_64& rng) {
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  size_t mutations = 1 + pick(4);
  for (size_t i = 0; i < mutations; ++i) {
    switch (pick(6)) {
      case 0:  // flip one bit
        if (!bytes.empty()) bytes[pick(bytes.size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1:  // overwrite a byte
        if (!bytes.empty()) bytes[pick(bytes.size())] = static_cast<char>(rng());
        break;
      case 2:  // truncate
        bytes.resize(pick(bytes.size() + 1));
        break;
      case 3: {  // insert random bytes
        size_t at = pick(bytes.size() + 1);
        std::string extra(1 + pick(8), '\0');
        for (char& c : extra) c = static_cast<char>(rng());
        bytes.insert(at, extra);
        break;
      }
      case 4: {  // erase a range
        if (bytes.empty()) break;
        size_t at = pick(bytes.size());
        bytes.erase(at, 1 + pick(bytes.size() - at));
        break;
      }
      default: {  // duplicate a range (repeated fields, merged sub-messages)
        if (bytes.empty()) break;
        size_t at = pick(bytes.size());
        size_t len = 1 + pick(std::min<size_t>(bytes.size() - at, 64));
        bytes.insert(pick(bytes.size() + 1), bytes.substr(at, len));
        break;
      }
    }
  }
  return bytes;
}

// Decodes whatever `m` holds; when a decode succeeds, the value must re-encode to something
// that decodes to the same value. Returns whether anything decoded.
bool DecodeAll(const v1::PeerMessage& m) {
  bool accepted = false;
  if (m.has_consensus()) {
    auto msg = MessageFromProto(m.consensus());
    if (msg) {
      accepted = true;
      auto again = MessageFromProto(MessageToProto(*msg));
      EXPECT_TRUE(again && SameMessage(*again, *msg));
    }
  }
  if (m.has_sync_response()) {
    for (const v1::CommittedBlock& c : m.sync_response().blocks()) {
      auto block = BlockFromProto(c.block());
      auto qc = QcFromProto(c.qc());
      if (block) {
        accepted = true;
        auto again = BlockFromProto(BlockToProto(*block));
        EXPECT_TRUE(again && *again == *block);
      }
      if (qc) {
        auto again = QcFromProto(QcToProto(*qc));
        EXPECT_TRUE(again && *again == *qc);
      }
      if (c.has_commit_child()) {
        auto child = HeaderFromProto(c.commit_child());
        if (child) {
          auto again = HeaderFromProto(HeaderToProto(*child));
          EXPECT_TRUE(again && *again == *child);
        }
      }
      if (c.has_commit_qc()) (void)QcFromProto(c.commit_qc());
    }
  }
  return accepted;
}

TEST(ConsensusCodecFuzz, RandomAndMutatedBytesNeverCrash) {
  constexpr uint64_t kSeed = 0x6d696e6574726163;  // "minetrac"
  constexpr int kIterations = 20'000;
  std::cout << "[ fuzz     ] seed " << kSeed << ", " << kIterations << " iterations\n";
  std::mt19937_64 rng(kSeed);

  std::vector<std::string> corpus;
  for (const Message& message : SampleMessages()) {
    v1::PeerMessage m;
    *m.mutable_consensus() = MessageToProto(message);
    corpus.push_back(m.SerializeAsString());
  }
  {
    v1::PeerMessage m;
    v1::SyncResponse* sync = m.mutable_sync_response();
    sync->set_committed_height(1017);
    for (bool with_tc : {false, true}) {
      v1::CommittedBlock* c = sync->add_blocks();
      *c->mutable_block() = BlockToProto(SampleBlock(with_tc));
      *c->mutable_qc() = QcToProto(SampleQc(42, 3));
      if (with_tc) {
        *c->mutable_commit_child() = HeaderToProto(SampleBlock(false).header);
        *c->mutable_commit_qc() = QcToProto(SampleQc(43, 3));
      }
    }
    corpus.push_back(m.SerializeAsString());
  }
  {
    v1::PeerMessage m;
    m.mutable_sync_request()->set_from_height(5);
    m.mutable_sync_request()->set_max_blocks(64);
    corpus.push_back(m.SerializeAsString());
    v1::PeerMessage g;
    v1::SignedTx* tx = g.mutable_txs()->add_txs();
    tx->set_body("body");
    tx->set_signer(std::string(32, 'k'));
    corpus.push_back(g.SerializeAsString());
  }

  int parsed = 0;
  int accepted_mutants = 0;
  for (int i = 0; i < kIterations; ++i) {
    std::string bytes;
    bool mutant = rng() % 4 != 0;
    if (mutant) {
      bytes = Mutate(corpus[rng() % corpus.size()], rng);
    } else {
      bytes.resize(rng() % 512);
      for (char& c : bytes) c = static_cast<char>(rng());
    }

    v1::PeerMessage peer;
    if (peer.ParseFromString(bytes)) {
      ++parsed;
      if (DecodeAll(peer) && mutant) ++accepted_mutants;
    }
    // The same bytes read as a bare consensus message and as a safety record (as from disk).
    v1::ConsensusMessage consensus_message;
    if (consensus_message.ParseFromString(bytes)) (void)MessageFromProto(consensus_message);
    v1::SafetyRecord record;
    if (record.ParseFromString(bytes)) (void)SafetyFromProto(record);
    if (::testing::Test::HasFailure()) {
      FAIL() << "seed " << kSeed << " iteration " << i;
    }
  }
  std::cout << "[ fuzz     ] " << parsed << " parsed as PeerMessage, " << accepted_mutants
            << " mutants decoded\n";
  // The loop must exercise the decoders, not only the parser: most byte mutations break the
  // encoding, but a fair share (bit flips in numbers, payload bytes) must still decode.
  EXPECT_GT(parsed, kIterations / 20);
  EXPECT_GT(accepted_mutants, kIterations / 100);
}

}  // namespace
}  // namespace minetrace::node

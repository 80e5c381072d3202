// Goal: docs/PROTOCOL.md's worked example is true. Method: recompute every value of the
// example (keys, body bytes, signing hash, signature, tx id, receipt bytes and hash,
// accumulator root, block id) with the library code the node uses, and require that each
// hex string appears verbatim in PROTOCOL.md. Run with MINETRACE_PRINT_EXAMPLE=1 to print
// the values when the example is changed on purpose.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

#include "minetrace/crypto/keys.h"
#include "minetrace/crypto/sha256.h"
#include "minetrace/ledger/proof/merkle.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace {
namespace {

namespace proof = ledger::proof;

crypto::PrivateKey Secret(uint8_t last) {
  Bytes secret(32, 0);
  secret[31] = last;
  return *crypto::PrivateKey::FromBytes(secret);
}

std::string Hex(std::string_view s) { return ToHex(AsBytes(s)); }
std::string Hex(const Hash32& h) { return ToHex(h); }

TEST(ProtocolExample, EveryValueInPROTOCOLmdIsRecomputed) {
  crypto::PrivateKey admin = Secret(3);
  crypto::PrivateKey agent = Secret(4);

  v1::TxBody body;
  body.set_chain_id("minetrace-example");
  body.set_nonce(1);
  body.set_created_at_ms(1790000000000);
  auto* reg = body.mutable_register_member();
  reg->set_member_key(std::string(agent.public_key().begin(), agent.public_key().end()));
  reg->set_name("Kalimbi agent");
  reg->add_roles(v1::ROLE_AGENT);
  reg->set_country("CD");
  Hash32 zero_aux{};
  v1::SignedTx tx = proof::SignTxWithAux(body, admin, zero_aux);
  Hash32 signing_hash = proof::TxSigningHash(AsBytes(tx.body()));
  Hash32 tx_id = proof::TxId(tx);
  // The signing hash is SHA256 over the ASCII domain tag followed by the body bytes.
  EXPECT_EQ(signing_hash, crypto::Sha256(AsBytes("minetrace/tx/v1" + tx.body())));
  EXPECT_TRUE(crypto::VerifySchnorr(AsBytes(tx.signer()), signing_hash, AsBytes(tx.signature())));

  v1::Receipt receipt;
  receipt.set_tx_id(proof::HashString(tx_id));
  receipt.set_signer(tx.signer());
  receipt.set_height(1);
  receipt.set_index(0);
  receipt.set_status(v1::TX_STATUS_OK);
  receipt.set_block_time_ms(1790000000500);
  receipt.set_leaf_index(0);
  std::string receipt_bytes = receipt.SerializeAsString();
  Hash32 receipt_hash = proof::ReceiptHash(AsBytes(receipt_bytes));
  EXPECT_EQ(receipt_hash, proof::LeafHash(AsBytes(receipt_bytes)));

  v1::BlockHeader header;
  header.set_chain_id("minetrace-example");
  header.set_height(1);
  header.set_parent_id(std::string(32, '\0'));
  header.set_timestamp_ms(1790000000500);
  header.set_proposer(std::string(admin.public_key().begin(), admin.public_key().end()));
  Hash32 tx_leaf = proof::TxRootLeaf(tx);
  header.set_tx_root(proof::HashString(proof::MerkleRootOfLeafHashes({&tx_leaf, 1})));
  header.set_tx_count(1);
  header.set_parent_accumulator_root(proof::HashString(proof::EmptyRoot()));
  header.set_parent_leaf_count(0);
  std::string header_bytes = header.SerializeAsString();
  Hash32 block_id = proof::BlockId(AsBytes(header_bytes));

  // A two-leaf accumulator: the receipt above, then the same receipt at index 1.
  v1::Receipt second = receipt;
  second.set_index(1);
  second.set_leaf_index(1);
  Hash32 second_hash = proof::ReceiptHash(AsBytes(second.SerializeAsString()));
  Hash32 two_leaf_root = proof::NodeHash(receipt_hash, second_hash);
  Hash32 leaves[2] = {receipt_hash, second_hash};
  EXPECT_EQ(two_leaf_root, proof::MerkleRootOfLeafHashes(leaves));

  std::vector<std::pair<std::string, std::string>> values = {
      {"admin public key", ToHex(admin.public_key())},
      {"agent public key", ToHex(agent.public_key())},
      {"body", Hex(tx.body())},
      {"signing hash", Hex(signing_hash)},
      {"signature", Hex(tx.signature())},
      {"tx id", Hex(tx_id)},
      {"receipt bytes", Hex(receipt_bytes)},
      {"receipt hash", Hex(receipt_hash)},
      {"second receipt hash", Hex(second_hash)},
      {"two-leaf root", Hex(two_leaf_root)},
      {"header bytes", Hex(header_bytes)},
      {"block id", Hex(block_id)},
  };
  if (std::getenv("MINETRACE_PRINT_EXAMPLE") != nullptr) {
    for (const auto& [name, hex] : values) std::cout << name << ": " << hex << "\n";
  }
  std::ifstream in(MINETRACE_PROTOCOL_MD);
  ASSERT_TRUE(in) << "cannot read " << MINETRACE_PROTOCOL_MD;
  std::stringstream doc;
  doc << in.rdbuf();
  // Long hex values may be wrapped in the document: compare with whitespace removed.
  std::string flat;
  for (char c : doc.str()) {
    if (!std::isspace(static_cast<unsigned char>(c))) flat.push_back(c);
  }
  for (const auto& [name, hex] : values) {
    EXPECT_NE(flat.find(hex), std::string::npos)
        << "PROTOCOL.md does not show the " << name << " " << hex;
  }
}

}  // namespace
}  // namespace minetrace

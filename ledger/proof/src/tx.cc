#include "minetrace/ledger/proof/tx.h"

#include "minetrace/crypto/sha256.h"

namespace minetrace::ledger::proof {

Hash32 TxSigningHash(ByteView body) { return crypto::DomainHash(crypto::kTxDomain, body); }

v1::SignedTx SignTxWithAux(const v1::TxBody& body, const crypto::PrivateKey& key,
                           const Hash32& aux) {
  v1::SignedTx tx;
  tx.set_body(body.SerializeAsString());
  tx.set_signer(std::string(key.public_key().begin(), key.public_key().end()));
  crypto::Signature sig = key.Sign(TxSigningHash(AsBytes(tx.body())), aux);
  tx.set_signature(std::string(sig.begin(), sig.end()));
  return tx;
}

v1::SignedTx SignTx(const v1::TxBody& body, const crypto::PrivateKey& key) {
  v1::SignedTx tx;
  tx.set_body(body.SerializeAsString());
  tx.set_signer(std::string(key.public_key().begin(), key.public_key().end()));
  crypto::Signature sig = key.Sign(TxSigningHash(AsBytes(tx.body())));
  tx.set_signature(std::string(sig.begin(), sig.end()));
  return tx;
}

Hash32 TxId(const v1::SignedTx& tx) { return crypto::Sha256(AsBytes(tx.body())); }

Hash32 TxRootLeaf(const v1::SignedTx& tx) {
  Hash32 id = TxId(tx);
  const uint8_t prefix = 0x00;
  crypto::Sha256Hasher h;
  h.Update(ByteView(&prefix, 1)).Update(ByteView(id)).Update(tx.signer()).Update(tx.signature());
  return h.Finish();
}

Result<v1::TxBody> CheckTxEnvelope(const v1::SignedTx& tx, bool verify_signature) {
  if (tx.signer().size() != 32) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "signer must be a 32-byte x-only public key, got " +
                         std::to_string(tx.signer().size()) + " bytes");
  }
  if (tx.signature().size() != 64) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "signature must be 64 bytes (BIP340), got " +
                         std::to_string(tx.signature().size()) + " bytes");
  }
  if (tx.body().empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "transaction body is empty");
  }
  v1::TxBody body;
  if (!body.ParseFromString(tx.body())) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "transaction body is not a valid minetrace.v1.TxBody protobuf");
  }
  if (body.action_case() == v1::TxBody::ACTION_NOT_SET) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "transaction body has no action (unknown or missing action field)");
  }
  if (verify_signature &&
      !crypto::VerifySchnorr(AsBytes(tx.signer()), TxSigningHash(AsBytes(tx.body())),
                             AsBytes(tx.signature()))) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "signature does not verify: it must be BIP340 by the signer over "
                     "SHA256(\"minetrace/tx/v1\" || body)");
  }
  return body;
}

Hash32 ReceiptHash(ByteView receipt_bytes) {
  crypto::Sha256Hasher h;
  const uint8_t prefix = 0x00;
  h.Update(ByteView(&prefix, 1));
  h.Update(receipt_bytes);
  return h.Finish();
}

Hash32 BlockId(ByteView header_bytes) {
  return crypto::DomainHash(crypto::kBlockDomain, header_bytes);
}

Hash32 LedgerInfoSigningHash(ByteView ledger_info_bytes) {
  return crypto::DomainHash(crypto::kLedgerInfoDomain, ledger_info_bytes);
}

}  // namespace minetrace::ledger::proof

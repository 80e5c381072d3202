// The transaction envelope rules shared by every party that signs or checks transactions:
// the node, the CLI and the offline proof verifier. The signature covers the exact body bytes
// received (docs/PROTOCOL.md): nothing here re-serializes a body to verify it.
// Thread-safety: free functions over values.
#pragma once

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::ledger::proof {

// Serializes body, signs SHA256("minetrace/tx/v1" || body) with fresh aux randomness.
v1::SignedTx SignTx(const v1::TxBody& body, const crypto::PrivateKey& key);
// As SignTx, with the given BIP340 aux randomness (all zero = deterministic; for examples).
v1::SignedTx SignTxWithAux(const v1::TxBody& body, const crypto::PrivateKey& key,
                           const Hash32& aux);

// tx_id = SHA256(body bytes).
Hash32 TxId(const v1::SignedTx& tx);
// The leaf a block's tx_root commits to for `tx`: SHA256(0x00 || tx_id || signer ||
// signature). Unlike the id, it binds who signed.
Hash32 TxRootLeaf(const v1::SignedTx& tx);
Hash32 TxSigningHash(ByteView body);

// Stateless checks a node makes before anything else: sizes of signer and signature, body
// parses as a TxBody with an action, and the signature verifies. kInvalidArgument otherwise,
// with a message naming what is wrong. On success returns the parsed body.
Result<v1::TxBody> CheckTxEnvelope(const v1::SignedTx& tx, bool verify_signature);

// The accumulator leaf (and lot-link) hash of a receipt: SHA256(0x00 || receipt bytes).
Hash32 ReceiptHash(ByteView receipt_bytes);

// block_id = SHA256("minetrace/block/v1" || header bytes).
Hash32 BlockId(ByteView header_bytes);

// The message validators sign for a ledger info: SHA256("minetrace/ledgerinfo/v1" || bytes).
Hash32 LedgerInfoSigningHash(ByteView ledger_info_bytes);

inline Bytes ToBytesOf(const Hash32& h) { return Bytes(h.begin(), h.end()); }
inline std::string HashString(const Hash32& h) { return std::string(h.begin(), h.end()); }

}  // namespace minetrace::ledger::proof

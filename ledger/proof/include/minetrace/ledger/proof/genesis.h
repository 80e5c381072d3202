// Genesis: the chain id, the validator set and the founding administrators, the root of trust
// of a minetrace network. It is written by `minetrace testnet` as TOML (hex keys, readable by
// an operator) and loaded here into the protobuf Genesis. The genesis hash is
// SHA256(serialized Genesis), stored by a node on first start and compared on every start.
//
// Format:
//   chain_id = "minetrace-local"
//   genesis_time_ms = 1790000000000
//   [[validators]]
//   name = "validator-0"
//   key = "<64 hex>"
//   address = "127.0.0.1:7100"
//   [[administrators]]
//   name = "secretariat"
//   key = "<64 hex>"
#pragma once

#include <filesystem>
#include <string>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::ledger::proof {

// Refuses (kInvalidArgument, naming the field) a missing chain id, no validators, no
// administrators, a key that is not 64 hex characters, or the same key twice in a list.
Result<v1::Genesis> ParseGenesisToml(std::string_view toml_text);
Result<v1::Genesis> LoadGenesisFile(const std::filesystem::path& path);
std::string GenesisToToml(const v1::Genesis& genesis);
Hash32 GenesisHash(const v1::Genesis& genesis);

}  // namespace minetrace::ledger::proof

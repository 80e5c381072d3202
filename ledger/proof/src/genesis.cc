#include "minetrace/ledger/proof/genesis.h"

#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "minetrace/crypto/sha256.h"

namespace minetrace::ledger::proof {
namespace {

Result<std::string> ParseKey(const toml::table& entry, const std::string& where) {
  auto hex = entry["key"].value<std::string>();
  if (!hex) return MakeError(ErrorCode::kInvalidArgument, where + ": missing key");
  auto key = Hash32FromHex(*hex);
  if (!key) {
    return MakeError(ErrorCode::kInvalidArgument,
                     where + ": key must be 64 hex characters (" + key.error().message + ")");
  }
  return std::string(key->begin(), key->end());
}

}  // namespace

Result<v1::Genesis> ParseGenesisToml(std::string_view toml_text) {
  // toml++ (as Debian builds it) reports parse errors by exception; it stops here.
  toml::table t;
  try {
    t = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "genesis is not valid TOML: " << e.description() << " at line "
        << e.source().begin.line;
    return MakeError(ErrorCode::kInvalidArgument, msg.str());
  }
  v1::Genesis g;
  auto chain_id = t["chain_id"].value<std::string>();
  if (!chain_id || chain_id->empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "genesis: chain_id is missing or empty");
  }
  g.set_chain_id(*chain_id);
  g.set_genesis_time_ms(t["genesis_time_ms"].value_or<int64_t>(0));

  std::set<std::string> seen;
  if (const toml::array* vals = t["validators"].as_array()) {
    for (size_t i = 0; i < vals->size(); ++i) {
      const toml::table* v = (*vals)[i].as_table();
      std::string where = "genesis validators[" + std::to_string(i) + "]";
      if (!v) return MakeError(ErrorCode::kInvalidArgument, where + " is not a table");
      auto key = ParseKey(*v, where);
      if (!key) return tl::unexpected(key.error());
      if (!seen.insert("v" + *key).second) {
        return MakeError(ErrorCode::kInvalidArgument, where + ": key listed twice");
      }
      auto* out = g.add_validators();
      out->set_key(*key);
      out->set_name((*v)["name"].value_or<std::string>(""));
      out->set_address((*v)["address"].value_or<std::string>(""));
    }
  }
  if (g.validators().empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "genesis: at least one [[validators]] needed");
  }
  if (const toml::array* admins = t["administrators"].as_array()) {
    for (size_t i = 0; i < admins->size(); ++i) {
      const toml::table* a = (*admins)[i].as_table();
      std::string where = "genesis administrators[" + std::to_string(i) + "]";
      if (!a) return MakeError(ErrorCode::kInvalidArgument, where + " is not a table");
      auto key = ParseKey(*a, where);
      if (!key) return tl::unexpected(key.error());
      if (!seen.insert("a" + *key).second) {
        return MakeError(ErrorCode::kInvalidArgument, where + ": key listed twice");
      }
      auto* out = g.add_administrators();
      out->set_key(*key);
      out->set_name((*a)["name"].value_or<std::string>(""));
    }
  }
  if (g.administrators().empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "genesis: at least one [[administrators]] needed");
  }
  return g;
}

Result<v1::Genesis> LoadGenesisFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return MakeError(ErrorCode::kNotFound, "cannot read genesis file " + path.string());
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto g = ParseGenesisToml(buf.str());
  if (!g) {
    return MakeError(g.error().code, path.string() + ": " + g.error().message);
  }
  return g;
}

std::string GenesisToToml(const v1::Genesis& genesis) {
  // toml++ does the quoting, so names with quotes or backslashes stay valid TOML.
  toml::table t;
  t.insert("chain_id", genesis.chain_id());
  t.insert("genesis_time_ms", genesis.genesis_time_ms());
  toml::array validators;
  for (const auto& v : genesis.validators()) {
    validators.push_back(toml::table{{"name", v.name()},
                                     {"key", ToHex(AsBytes(v.key()))},
                                     {"address", v.address()}});
  }
  t.insert("validators", std::move(validators));
  toml::array admins;
  for (const auto& a : genesis.administrators()) {
    admins.push_back(toml::table{{"name", a.name()}, {"key", ToHex(AsBytes(a.key()))}});
  }
  t.insert("administrators", std::move(admins));
  std::ostringstream out;
  out << "# minetrace genesis: the chain id, validator set and founding administrators.\n"
      << "# Every node of the network must start with this exact file.\n"
      << t << "\n";
  return out.str();
}

Hash32 GenesisHash(const v1::Genesis& genesis) {
  return crypto::Sha256(AsBytes(genesis.SerializeAsString()));
}

}  // namespace minetrace::ledger::proof

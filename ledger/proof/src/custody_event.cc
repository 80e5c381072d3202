#include "minetrace/ledger/proof/custody_event.h"

namespace minetrace::ledger::proof {
namespace {

std::string Counterparty(const v1::TxBody& body) {
  switch (body.action_case()) {
    case v1::TxBody::kDispatchLots:
      return body.dispatch_lots().receiver_key();
    case v1::TxBody::kRecordMineLot:
      return body.record_mine_lot().producer_key();
    case v1::TxBody::kDispatchShipment:
      return body.dispatch_shipment().smelter_key();
    default:
      return {};
  }
}

uint64_t StatedWeight(const v1::TxBody& body, const std::string& lot_id) {
  switch (body.action_case()) {
    case v1::TxBody::kRecordMineLot:
      return body.record_mine_lot().tag_id() == lot_id ? body.record_mine_lot().weight_grams() : 0;
    case v1::TxBody::kReceiveLots:
      for (const auto& r : body.receive_lots().lots()) {
        if (r.lot_id() == lot_id) return r.weight_grams();
      }
      return 0;
    case v1::TxBody::kProcessLots:
      for (const auto& o : body.process_lots().outputs()) {
        if (o.tag_id() == lot_id) return o.weight_grams();  // an output's lot id is its tag id
      }
      return 0;
    default:
      return 0;
  }
}

}  // namespace

std::string TxActionName(const v1::TxBody& body) {
  const auto* oneof = v1::TxBody::descriptor()->FindOneofByName("action");
  const auto* field = v1::TxBody::GetReflection()->GetOneofFieldDescriptor(body, oneof);
  return field == nullptr ? std::string() : std::string(field->name());
}

v1::CustodyEvent CustodyEventOf(const v1::TxBody& body, std::string_view signer,
                                const v1::Receipt& receipt, const Hash32& receipt_hash,
                                const std::string& lot_id) {
  v1::CustodyEvent e;
  e.set_action(TxActionName(body));
  e.set_actor(std::string(signer));
  e.set_counterparty(Counterparty(body));
  e.set_device_time_ms(body.created_at_ms());
  e.set_ledger_time_ms(receipt.block_time_ms());
  e.set_height(receipt.height());
  e.set_weight_grams(StatedWeight(body, lot_id));
  e.set_tx_id(receipt.tx_id());
  e.set_receipt_hash(std::string(receipt_hash.begin(), receipt_hash.end()));
  return e;
}

}  // namespace minetrace::ledger::proof

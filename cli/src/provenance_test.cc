#include "provenance.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "format.h"
#include "minetrace/base/bytes.h"
#include "records.h"

namespace minetrace::cli {
namespace {

const std::string kExporter(32, '\x01');
const std::string kProcessor(32, '\x02');
const std::string kAgent(32, '\x03');
const std::string kCoop(32, '\x04');

v1::Member Member(const std::string& key, const std::string& name, v1::Role role) {
  v1::Member m;
  m.set_key(key);
  m.set_name(name);
  m.add_roles(role);
  m.set_status(v1::MEMBER_STATUS_ACTIVE);
  return m;
}

v1::ProvenanceLot MineLot(const std::string& id, const std::string& site, uint64_t grams,
                          v1::SiteStatus then) {
  v1::ProvenanceLot pl;
  v1::Lot& l = *pl.mutable_lot();
  l.set_lot_id(id);
  l.set_tag_id(id);
  l.set_site_id(site);
  l.set_mineral(v1::MINERAL_CASSITERITE);
  l.set_weight_grams(grams);
  l.set_origin_weight_grams(grams);
  l.set_grade_basis_points(4500);
  l.set_status(v1::LOT_STATUS_CONSUMED);
  l.set_origin(v1::LOT_ORIGIN_MINE);
  l.set_site_status_at_record(then);
  l.set_recorded_by(kAgent);
  l.set_producer_key(kCoop);
  v1::CustodyEvent* e = pl.add_events();
  e->set_action("record_mine_lot");
  e->set_actor(kAgent);
  e->set_counterparty(kCoop);
  e->set_height(3);
  e->set_ledger_time_ms(1772357400000);         // 2026-03-01T09:30:00Z
  e->set_device_time_ms(1772357400000 - 86'400'000);  // signed offline a day before
  e->set_weight_grams(grams);
  return pl;
}

// A certified shipment of one processed lot made from two mine lots of two sites.
v1::Provenance Example() {
  v1::Provenance p;
  v1::Shipment& s = *p.mutable_shipment();
  s.set_shipment_id("EXP-1");
  s.set_exporter_key(kExporter);
  s.add_lot_ids("P0000001");
  s.set_mineral(v1::MINERAL_CASSITERITE);
  s.set_weight_grams(40500);
  s.set_destination_country("MY");
  s.set_status(v1::SHIPMENT_STATUS_CERTIFIED);
  s.mutable_certificate()->set_number("RW-ICGLR-000123");
  s.mutable_certificate()->set_date_ms(1772323200000);
  s.mutable_certificate()->set_certifier_key(std::string(32, '\x05'));
  s.mutable_certificate()->set_height(40);

  v1::ProvenanceLot* out = p.add_lots();
  v1::Lot& l = *out->mutable_lot();
  l.set_lot_id("P0000001");
  l.set_tag_id("P0000001");
  l.set_mineral(v1::MINERAL_CASSITERITE);
  l.set_weight_grams(40500);
  l.set_grade_basis_points(6225);
  l.set_status(v1::LOT_STATUS_IN_SHIPMENT);
  l.set_holder_key(kExporter);
  l.set_shipment_id("EXP-1");
  l.set_origin(v1::LOT_ORIGIN_PROCESSING);
  l.add_parent_lot_ids("T0000012");
  l.add_parent_lot_ids("T0000013");
  l.add_mine_site_ids("CD-A");
  l.add_mine_site_ids("CD-B");
  l.set_processed_by(kProcessor);
  l.set_processing_input_grams(50600);
  l.set_processing_loss_grams(10100);
  v1::CustodyEvent* e = out->add_events();
  e->set_action("process_lots");
  e->set_actor(kProcessor);
  e->set_height(12);
  e->set_ledger_time_ms(1772400000000);
  e->set_device_time_ms(1772400000000);
  e->set_weight_grams(40500);

  *p.add_lots() = MineLot("T0000012", "CD-A", 25300, v1::SITE_STATUS_GREEN);
  *p.add_lots() = MineLot("T0000013", "CD-B", 25300, v1::SITE_STATUS_GREEN);

  v1::MineSite* a = p.add_sites();
  a->set_site_id("CD-A");
  a->set_name("Nyabibwe");
  a->set_country("CD");
  a->set_status(v1::SITE_STATUS_RED);
  a->set_status_reason("armed group present");
  v1::MineSite* b = p.add_sites();
  b->set_site_id("CD-B");
  b->set_name("Rubaya \"East\"");
  b->set_country("CD");
  b->set_status(v1::SITE_STATUS_GREEN);

  *p.add_members() = Member(kExporter, "Exporter Ltd", v1::ROLE_EXPORTER);
  p.mutable_members(0)->set_audit_flag(v1::AUDIT_FLAG_YELLOW);
  *p.add_members() = Member(kProcessor, "Processor SA", v1::ROLE_PROCESSOR);
  *p.add_members() = Member(kAgent, "Agent A", v1::ROLE_AGENT);
  *p.add_members() = Member(kCoop, "Coop N", v1::ROLE_COOPERATIVE);

  v1::Flag* f = p.add_flags();
  f->set_flag_id("FLG-000000001");
  f->set_kind("grade_jump");
  f->set_lot_id("P0000001");
  f->set_detail("output grade 62.25 % from inputs of 45.00 %");
  f->set_tx_status(v1::TX_STATUS_OK);

  v1::Incident* open = p.add_incidents();
  open->set_incident_id("INC-0000001");
  open->set_subject_kind(v1::INCIDENT_SUBJECT_LOT);
  open->set_subject_id("T0000013");
  open->set_category(v1::INCIDENT_CATEGORY_ARMED_GROUPS);
  open->set_level(1);
  open->set_status(v1::INCIDENT_STATUS_OPEN);
  open->set_description("armed escort seen with the bags");
  v1::Incident* site = p.add_incidents();
  site->set_incident_id("INC-0000002");
  site->set_subject_kind(v1::INCIDENT_SUBJECT_SITE);
  site->set_subject_id("CD-A");
  site->set_category(v1::INCIDENT_CATEGORY_CHILD_LABOUR);
  site->set_level(2);
  site->set_status(v1::INCIDENT_STATUS_RESOLVED);
  site->set_outcome(v1::INCIDENT_OUTCOME_MITIGATED);
  site->set_description("children at the washing site");
  v1::Incident* member = p.add_incidents();
  member->set_incident_id("INC-0000003");
  member->set_subject_kind(v1::INCIDENT_SUBJECT_MEMBER);
  member->set_subject_id(ToHex(AsBytes(kExporter)));
  member->set_category(v1::INCIDENT_CATEGORY_BRIBERY_FRAUD);
  member->set_level(3);
  member->set_status(v1::INCIDENT_STATUS_OPEN);
  member->set_description("paperwork irregular");
  return p;
}

std::string Tree(const v1::Provenance& p) {
  std::ostringstream out;
  PrintProvenanceTree(out, p);
  return out.str();
}

void ExpectHas(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "missing:\n" << part << "\nin:\n" << text;
}

TEST(ProvenanceTree, DrawsTheShipmentDownToTheMineSites) {
  const std::string tree = Tree(Example());
  const std::string exporter8 = ToHex(AsBytes(kExporter)).substr(0, 8);
  ExpectHas(tree, "shipment EXP-1  certified  cassiterite  40.500 kg  1 lot  to MY\n");
  ExpectHas(tree, "  exporter     Exporter Ltd (" + exporter8 + ")  audit flag yellow\n");
  ExpectHas(tree, "  certificate  RW-ICGLR-000123 dated 2026-03-01T00:00:00.000Z by ");
  // The processed lot, its inputs as children, each mine lot with its site.
  ExpectHas(tree, "`-- lot P0000001  processing  cassiterite  40.500 kg  62.25 %  in-shipment"
                  "  holder Exporter Ltd (" + exporter8 + ")  shipment EXP-1\n");
  ExpectHas(tree, "    |  processed by Processor SA (02020202) from T0000012, T0000013 (input "
                  "50.600 kg, loss 10.100 kg)\n");
  ExpectHas(tree, "    |  h12  2026-03-01T21:20:00.000Z  process_lots  by Processor SA "
                  "(02020202)  40.500 kg\n");
  ExpectHas(tree, "    |  flag FLG-000000001  grade_jump: output grade 62.25 %");
  ExpectHas(tree, "    +-- lot T0000012  mine  cassiterite  25.300 kg  45.00 %  consumed\n");
  ExpectHas(tree, "    |      site CD-A \"Nyabibwe\" CD  now red (armed group present), last "
                  "inspection -; green when the lot was recorded\n");
  ExpectHas(tree, "    |        site incident INC-0000002  resolved  level 2  child-labour  "
                  "outcome mitigated: children at the washing site\n");
  ExpectHas(tree, "    `-- lot T0000013  mine");
  ExpectHas(tree, "        recorded by Agent A (03030303), producer Coop N (04040404), origin "
                  "weight 25.300 kg\n");
  // Signed offline a day before its block: the device time is shown.
  ExpectHas(tree, "h3  2026-03-01T09:30:00.000Z  record_mine_lot  by Agent A (03030303) -> "
                  "Coop N (04040404)  25.300 kg  (signed 2026-02-28T09:30:00.000Z)\n");
  ExpectHas(tree, "        incident INC-0000001  open  level 1  armed-groups  BLOCKS EXPORT: "
                  "armed escort seen with the bags\n");
  // Members with full keys, and the incident against the exporter.
  ExpectHas(tree, "members:\n  " + ToHex(AsBytes(kExporter)) +
                      "  Exporter Ltd  exporter  active  audit flag yellow\n    incident "
                      "INC-0000003  open  level 3  bribery-fraud: paperwork irregular\n");
  ExpectHas(tree, "3 lots, 2 sites, 1 flag, 3 incidents\n");
}

// From a verified proof bundle: sites as registered (no status now), the site status at
// record with the tx it rests on or "?", and members without a status.
TEST(ProvenanceTree, FromABundleShowsOnlyWhatTheBundleProves) {
  v1::Provenance p = Example();
  p.clear_flags();
  p.clear_incidents();
  for (v1::MineSite& site : *p.mutable_sites()) {
    site.set_status(v1::SITE_STATUS_UNSPECIFIED);
    site.set_registered_height(2);
  }
  for (v1::Member& m : *p.mutable_members()) {
    m.set_status(v1::MEMBER_STATUS_UNSPECIFIED);
    m.set_audit_flag(v1::AUDIT_FLAG_UNSPECIFIED);
    m.set_country("CD");
    m.set_registered_height(1);
  }
  p.mutable_lots(2)->mutable_lot()->set_site_status_at_record(v1::SITE_STATUS_UNSPECIFIED);
  BundleTreeNotes notes;
  notes.site_status_basis["T0000012"] = "record_inspection at height 2";
  std::ostringstream out;
  PrintProvenanceTree(out, p, &notes);
  const std::string tree = out.str();
  ExpectHas(tree, "site CD-A \"Nyabibwe\" CD, registered at height 2; green (per "
                  "record_inspection at height 2) when the lot was recorded\n");
  ExpectHas(tree, "; ? (no status tx in the bundle) when the lot was recorded\n");
  EXPECT_EQ(tree.find(" now "), std::string::npos) << tree;
  ExpectHas(tree, "members:\n  " + ToHex(AsBytes(kExporter)) +
                      "  Exporter Ltd  exporter  CD  registered at height 1\n");
}

TEST(ProvenanceTree, ALotReachedTwiceIsShownOnceAndMissingLotsAreNamed) {
  v1::Provenance p = Example();
  // Both inputs of P0000001 are the same lot: a diamond after a split and a merge.
  p.mutable_lots(0)->mutable_lot()->set_parent_lot_ids(1, "T0000012");
  p.mutable_lots(0)->mutable_lot()->add_parent_lot_ids("T9999999");  // beyond the cap
  p.set_truncated(true);
  const std::string tree = Tree(p);
  ExpectHas(tree, "    +-- lot T0000012  (shown above)\n");
  ExpectHas(tree, "    `-- lot T9999999  (not shown: more than 10,000 upstream lots)\n");
  ExpectHas(tree, "(TRUNCATED: more than 10,000 upstream lots)");
}

TEST(ProvenanceTree, ASiteIsDescribedOnceThenReferred) {
  v1::Provenance p = Example();
  p.mutable_lots(2)->mutable_lot()->set_site_id("CD-A");  // both mine lots from one site
  const std::string tree = Tree(p);
  ExpectHas(tree, "site CD-A \"Nyabibwe\" CD  now red");
  ExpectHas(tree, "        site CD-A (see above); green when the lot was recorded\n");
  EXPECT_EQ(tree.find("site CD-A \"Nyabibwe\""), tree.rfind("site CD-A \"Nyabibwe\""));
  EXPECT_EQ(tree.find("site incident INC-0000002"), tree.rfind("site incident INC-0000002"));
}

TEST(ProvenanceTree, ALotWithoutAShipmentIsTheRoot) {
  v1::Provenance p = Example();
  p.clear_shipment();
  const std::string tree = Tree(p);
  EXPECT_EQ(tree.rfind("`-- lot P0000001  processing", 0), 0u) << tree;
}

TEST(ProvenanceDot, IsADigraphOfLotsToParentsAndSites) {
  const std::string dot = ProvenanceDot(Example());
  EXPECT_EQ(dot.rfind("digraph provenance {\n", 0), 0u) << dot;
  ExpectHas(dot, "  \"shipment:EXP-1\" -> \"lot:P0000001\";\n");
  ExpectHas(dot, "  \"lot:P0000001\" -> \"lot:T0000012\";\n");
  ExpectHas(dot, "  \"lot:P0000001\" -> \"lot:T0000013\";\n");
  ExpectHas(dot, "  \"lot:T0000012\" -> \"site:CD-A\" [label=\"green at record\"];\n");
  ExpectHas(dot, "\"lot:P0000001\" [label=\"P0000001\\nprocessing cassiterite\\n40.500 kg  "
                 "62.25 %\\nin-shipment\\n1 flag\", color=orange];\n");
  ExpectHas(dot, "\"lot:T0000013\" [label=\"T0000013\\nmine cassiterite\\n25.300 kg  45.00 "
                 "%\\nconsumed\\nopen level-1 incident\", color=red, penwidth=2];\n");
  // Quotes in names are escaped; sites are filled by their status now.
  ExpectHas(dot, "\"site:CD-B\" [shape=house, style=filled, fillcolor=palegreen, "
                 "label=\"CD-B\\nRubaya \\\"East\\\"\\nnow green\"];\n");
  ExpectHas(dot, "fillcolor=salmon");
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
}

TEST(ProvenanceJson, IsTheMessageAndParsesBack) {
  const v1::Provenance p = Example();
  auto json = ToJson(p);
  ASSERT_TRUE(json) << json.error().message;
  ExpectHas(*json, "\"certificate\":{\"number\":\"RW-ICGLR-000123\"");
  v1::Provenance back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &back).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(p, back));
}

TEST(Records, LinesAndDetails) {
  const v1::Provenance p = Example();
  std::ostringstream out;
  PrintIncidentLine(out, p.incidents(0));
  PrintFlagLine(out, p.flags(0));
  PrintShipmentLine(out, p.shipment());
  EXPECT_EQ(out.str(),
            "INC-0000001  open  level 1  armed-groups  lot T0000013  reported -  armed escort "
            "seen with the bags\n"
            "FLG-000000001  grade_jump  lot P0000001  height 0  -  tx OK: output grade 62.25 % "
            "from inputs of 45.00 %\n"
            "EXP-1  certified  cassiterite  40.500 kg  1 lot  to MY  exporter " +
                ToHex(AsBytes(kExporter)) + "  certificate RW-ICGLR-000123\n");
  EXPECT_EQ(OneLine("caf\xC3\xA9 au lait", 4), "caf...");  // never half of "é"
  EXPECT_EQ(OneLine("a\nb", 10), "a b");

  v1::SiteProduction production;
  production.mutable_site()->set_site_id("CD-A");
  production.mutable_site()->set_production_estimate_kg_per_month(1000);
  v1::MonthProduction* m = production.add_months();
  m->set_month(680);
  m->set_start_ms(1762560000000);
  m->set_tagged_grams(1200500);
  m->set_estimate_grams(1000000);
  m->set_above_estimate(true);
  production.add_months()->set_month(681);
  std::ostringstream prod;
  PrintSiteProduction(prod, production);
  ExpectHas(prod.str(), "680    2025-11-08T00:00:00.000Z        1200.500        1000.000  ABOVE "
                        "ESTIMATE\n");
  ExpectHas(prod.str(), "2 months, 1200.500 kg tagged, 1 above the estimate\n");
}

}  // namespace
}  // namespace minetrace::cli

// Views of a v1::Provenance (`minetrace query provenance`): the upstream graph of a lot or a
// shipment back to its mine lots and sites.
//  - tree: for a person. The shipment (if one was asked for), then each lot with its children
//    upstream (the lots it was made from) drawn as an ASCII tree down to the mine lots; each
//    lot shows origin, mineral, weight, grade, status and holder, its mine site with the
//    site's status when the lot was recorded and now, who recorded, produced or processed it,
//    every custody event (height, ledger time, action, actor -> counterparty, weight), and
//    the flags and incidents against it, its tag and its site. A lot reached twice is shown
//    once ("shown above"). Members are named by name and the first 8 hex digits of their key;
//    the full keys are listed at the end with each member's roles, status, audit flag and
//    incidents.
//    From a verified proof bundle (`minetrace proof verify`), BundleTreeNotes changes what
//    cannot be proven: a site is shown as registered (not its status now), each mine lot's
//    site status at record names the tx it rests on (or "?"), and members show no status.
//  - dot: a Graphviz digraph: shipment -> lots, lot -> parent lots, mine lot -> site (edge
//    labelled with the site status at record); sites filled by their current status, lots
//    with an open level-1 incident drawn red, lots with flags orange.
//  - json: ToJson of the message (format.h).
// Thread-safety: free functions over values.
#pragma once

#include <map>
#include <ostream>
#include <string>

#include "minetrace/v1/node.pb.h"

namespace minetrace::cli {

// What a tree from a verified proof bundle says beyond the provenance message.
struct BundleTreeNotes {
  // By mine lot id: what its site status at record rests on, e.g. "record_inspection at
  // height 12". A lot without an entry has no proven status ("?").
  std::map<std::string, std::string> site_status_basis;
};

// `bundle` is null for a node's query, else the notes of a verified proof bundle.
void PrintProvenanceTree(std::ostream& out, const v1::Provenance& provenance,
                         const BundleTreeNotes* bundle = nullptr);
std::string ProvenanceDot(const v1::Provenance& provenance);

}  // namespace minetrace::cli

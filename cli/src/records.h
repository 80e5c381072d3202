// Human-readable views of the issue-5 records for `minetrace query`: incidents, flags,
// shipments, inspections, site production and holdings. Detail views are label/value rows
// like the lot and site views of format.h; list views are one line per record. Keys are full
// hex, weights kg with 3 decimals, grades percent, times UTC ISO 8601.
// Thread-safety: free functions; they write only to the stream they are given.
#pragma once

#include <ostream>
#include <string>

#include "minetrace/v1/ledger.pb.h"
#include "minetrace/v1/node.pb.h"

namespace minetrace::cli {

void PrintIncident(std::ostream& out, const v1::Incident& incident);
// "INC-0000001  open  level 1  armed-groups  site CD-SK-0042  reported <time>  <description>"
// (the description cut to 60 characters).
void PrintIncidentLine(std::ostream& out, const v1::Incident& incident);
// "FLG-000000001  grade_jump  lot L  site S  tag T  shipment H  member <hex>  height N  tx OK
//  [incident INC-...]: detail", naming only what the flag has.
void PrintFlagLine(std::ostream& out, const v1::Flag& flag);
void PrintShipment(std::ostream& out, const v1::Shipment& shipment);
// "EXP-1  certified  cassiterite  5012.500 kg  3 lots  to MY  exporter <hex>"
void PrintShipmentLine(std::ostream& out, const v1::Shipment& shipment);
// "#1  <inspected at>  yellow  \"inspector\"  report <hex>  recorded height N by <hex>: summary"
void PrintInspectionLine(std::ostream& out, const v1::Inspection& inspection);
// The site line, then one line per month: start date, tagged kg, estimate kg, ABOVE.
void PrintSiteProduction(std::ostream& out, const v1::SiteProduction& production);
void PrintHoldings(std::ostream& out, const v1::Holdings& holdings);

// Cuts `text` to at most `max_bytes` bytes without splitting a UTF-8 character, adding "..."
// when it was cut; line breaks become spaces.
std::string OneLine(const std::string& text, size_t max_bytes);

}  // namespace minetrace::cli

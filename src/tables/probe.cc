#include "tables/probe.h"

namespace weir::tables {

table_probe table_probe::make(metrics::registry& r, const std::string& pipeline,
                              const std::string& table) {
  metrics::labels l{{"pipeline", pipeline}, {"table", table}};
  table_probe p;
  p.rows = &r.add_gauge("weir_table_rows", "Rows in a table (latest value per key).", l);
  p.updates = &r.add_counter(
      "weir_table_updates_total",
      "Table updates applied: topic records put or removed, file reloads that succeeded.", l);
  auto with_error = [&](const char* e) {
    auto x = l;
    x.emplace_back("error", e);
    return x;
  };
  p.invalid_records = &r.add_counter(
      "weir_table_errors_total", "Table records skipped and file reloads that failed, by error.",
      with_error("invalid_record"));
  p.reload_failures = &r.add_counter(
      "weir_table_errors_total", "Table records skipped and file reloads that failed, by error.",
      with_error("reload_failed"));
  return p;
}

}  // namespace weir::tables

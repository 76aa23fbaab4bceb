#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "weir/kafka/client.h"

namespace weir::app {

// Worker settings from flags and their WEIR_* environment twins.
struct worker_options {
  kafka::client_settings kafka;
  std::string state_dir = "./weir-state";
  std::string metrics_listen = "127.0.0.1:9464";
  int threads = 1;
  std::string instance_id;
  // The process's memory budget in bytes (--memory-limit); 0: none, fixed
  // bounded defaults. See memory_split in run.cc.
  std::uint64_t memory_limit = 0;
  // How long each topic lookup at start waits for the broker to answer
  // (--startup-timeout): unreachable brokers and refused credentials surface
  // only as a lookup that never completes.
  std::chrono::milliseconds startup_timeout{30'000};
};

int validate(const std::vector<std::string>& files);
int explain(const std::string& file);
// Runs the inline `tests:` of each file without Kafka, on virtual time.
int test(const std::vector<std::string>& files);
int run(const std::vector<std::string>& files, const worker_options& options);

}  // namespace weir::app

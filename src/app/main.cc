#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "app/kafka_properties.h"
#include "weir/core/log.h"
#include "weir/core/time.h"

#ifndef WEIR_VERSION
#define WEIR_VERSION "dev"
#endif

int main(int argc, char** argv) {
  CLI::App app{"weir: a stream processor for Kafka"};
  app.require_subcommand(1);
  weir::app::worker_options opts;
  std::string log_level = "info";
  std::string log_format = "text";
  std::vector<std::string> files;
  std::vector<std::string> kafka_properties;

  auto* run =
      app.add_subcommand("run", "Run pipelines until SIGINT/SIGTERM, then checkpoint and exit 0");
  run->add_option("pipelines", files, "Pipeline files")->required()->check(CLI::ExistingFile);
  run->add_option("--bootstrap-servers", opts.kafka.bootstrap_servers, "Kafka bootstrap servers")
      ->envname("WEIR_BOOTSTRAP_SERVERS")
      ->capture_default_str();
  run->add_option("--state-dir", opts.state_dir, "Directory of the local state (RocksDB)")
      ->envname("WEIR_STATE_DIR")
      ->capture_default_str();
  run->add_option("--metrics-listen", opts.metrics_listen,
                  "host:port for /metrics, /healthz and /readyz (empty: off)")
      ->envname("WEIR_METRICS_LISTEN")
      ->capture_default_str();
  run->add_option("--threads", opts.threads, "Worker threads (consumer-group members) per pipeline")
      ->envname("WEIR_THREADS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  run->add_option("--instance-id", opts.instance_id, "Stable id of this deployment slot")
      ->envname("WEIR_INSTANCE_ID");
  run->add_option("--memory-limit", opts.memory_limit,
                  "Memory budget of the process, split between RocksDB, the Kafka clients and "
                  "window state (512Mi, 2Gi, 1G, 800M or bytes; unset: fixed defaults)")
      ->envname("WEIR_MEMORY_LIMIT")
      ->transform(CLI::AsSizeValue(true));
  std::string startup_timeout = "30s";
  run->add_option("--startup-timeout", startup_timeout,
                  "How long each topic lookup at start waits for the broker (250ms, 10s, 2m)")
      ->envname("WEIR_STARTUP_TIMEOUT")
      ->capture_default_str()
      ->check([](const std::string& text) -> std::string {
        auto d = weir::core::parse_duration(text);
        if (!d) return d.err().message;
        return *d > 0 ? "" : "must be more than 0";
      });
  run->add_option("--kafka-property", kafka_properties,
                  "librdkafka property KEY=VALUE (repeatable): SASL, SSL, tuning; VALUE may be "
                  "env:NAME or file:PATH to keep secrets off the command line")
      ->envname("WEIR_KAFKA_PROPERTIES")
      ->delimiter(',');
  for (auto* sub : {run}) {
    sub->add_option("--log-level", log_level, "debug, info, warn or error")
        ->envname("WEIR_LOG_LEVEL")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
    sub->add_option("--log-format", log_format, "text or json")
        ->envname("WEIR_LOG_FORMAT")
        ->check(CLI::IsMember({"text", "json"}));
  }

  auto* validate = app.add_subcommand(
      "validate", "Check pipeline files; every problem as FILE:LINE:COL: message");
  validate->add_option("pipelines", files, "Pipeline files")->required();

  auto* test = app.add_subcommand("test", "Run the inline tests: of pipeline files, without Kafka");
  test->add_option("pipelines", files, "Pipeline files")->required();
  // Quiet by default: tests feed bad records on purpose, and failures list
  // the record errors themselves.
  std::string test_log_level = "error";
  test->add_option("--log-level", test_log_level, "debug, info, warn or error (default error)")
      ->envname("WEIR_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  std::string explain_file;
  auto* explain = app.add_subcommand(
      "explain", "Print the pipeline as the worker runs it: steps, keys, state, time policy");
  explain->add_option("pipeline", explain_file, "Pipeline file")->required();

  app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  weir::core::log::level lvl = weir::core::log::level::info;
  weir::core::log::parse_level(app.got_subcommand("test") ? test_log_level : log_level, lvl);
  weir::core::log::configure(
      lvl, log_format == "json" ? weir::core::log::format::json : weir::core::log::format::text);
  // Values may be env:NAME or file:PATH; never print one, it may be a secret.
  auto resolved = weir::app::resolve_kafka_properties(kafka_properties);
  if (!resolved) {
    std::fprintf(stderr, "%s\n", resolved.err().message.c_str());
    return 2;
  }
  opts.kafka.properties = std::move(*resolved);
  if (app.got_subcommand("run")) {
    opts.startup_timeout = std::chrono::milliseconds(*weir::core::parse_duration(startup_timeout));
  }

  if (app.got_subcommand("version")) {
    std::printf("weir %s\n", WEIR_VERSION);
    return 0;
  }
  if (app.got_subcommand("validate")) return weir::app::validate(files);
  if (app.got_subcommand("explain")) return weir::app::explain(explain_file);
  if (app.got_subcommand("test")) return weir::app::test(files);
  return weir::app::run(files, opts);
}

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "app/commands.h"
#include "app/load.h"
#include "weir/config/test_spec.h"
#include "weir/core/log.h"
#include "weir/metrics/http_server.h"
#include "weir/runtime/changelog.h"
#include "weir/runtime/worker.h"
#include "weir/state/database.h"

#ifndef WEIR_VERSION
#define WEIR_VERSION "dev"
#endif

namespace weir::app {
namespace {

// Checks that a topic exists; returns its partition count or an error line.
core::result<int> topic_partitions(const worker_options& o, const std::string& topic) {
  return kafka::partition_count(o.kafka, topic, o.startup_timeout);
}

// How a --memory-limit is shared out (docs/operations.md, "Memory"): a
// quarter to RocksDB's shared block cache, which the memtables (at most half
// of it) are charged to; a quarter to the Kafka clients, evenly over the
// workers; a quarter to the window state held in memory (state::cache_budget,
// shared by every window task); the last quarter is left for records in
// flight, the checkpoint being written, the allocator and code.
struct memory_split {
  state::rocksdb_options rocksdb;
  kafka::queue_limits queues;
};

constexpr std::uint64_t smallest_memory_limit = std::uint64_t{64} << 20;

memory_split split_memory(std::uint64_t limit, std::size_t workers) {
  memory_split m;
  if (limit == 0) return m;  // the defaults of each part
  m.rocksdb.block_cache_bytes = limit / 4;
  m.rocksdb.write_buffer_bytes = limit / 8;
  m.rocksdb.state_cache_bytes = limit / 4;
  m.queues = kafka::queue_limits_for(limit / 4 / std::max<std::size_t>(workers, 1));
  return m;
}

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + "Mi";
}

}  // namespace

int run(const std::vector<std::string>& files, const worker_options& options) {
  // Signals are taken by sigtimedwait below, never by a handler, so worker
  // threads are never interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  metrics::registry registry;
  metrics::add_process_metrics(registry, WEIR_VERSION);

  std::vector<std::unique_ptr<runtime::topology>> topologies;
  bool bad = false;
  for (const auto& file : files) {
    std::string missing;
    auto partitions = [&](const std::string& topic) -> std::optional<int> {
      auto n = topic_partitions(options, topic);
      if (!n) {
        missing = n.err().message;
        return std::nullopt;
      }
      return *n;
    };
    auto loaded = load(file, partitions, registry);
    for (const auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.c_str());
    if (!missing.empty()) {
      core::log::error("source topic unavailable", {{"file", file}, {"error", missing}});
      bad = true;
      continue;
    }
    if (!loaded.topology) {
      bad = true;
      continue;
    }
    // Every topic weir writes to must exist: it never creates them.
    const auto& spec = loaded.topology->spec;
    std::vector<std::string> outputs = spec.sink_topics();
    if (spec.errors.dead_letter_topic) outputs.push_back(*spec.errors.dead_letter_topic);
    for (const auto& t : config::late_topics(spec)) outputs.push_back(t);
    for (const auto& topic : outputs) {
      if (auto n = topic_partitions(options, topic); !n) {
        core::log::error("output topic unavailable", {{"file", file}, {"error", n.err().message}});
        bad = true;
      }
    }
    if (bad) continue;
    // Changelog and repartition topics are weir's own: created when
    // missing, partition for partition with the source.
    if (auto n = topic_partitions(options, spec.source.topics.front()); n) {
      if (auto st = runtime::ensure_internal_topics(*loaded.topology, options.kafka, *n); !st) {
        core::log::error("internal topics unavailable",
                         {{"file", file}, {"error", st.err().message}});
        bad = true;
        continue;
      }
    }
    topologies.push_back(std::move(loaded.topology));
  }
  if (bad) return 1;

  if (options.memory_limit != 0 && options.memory_limit < smallest_memory_limit) {
    core::log::error(
        "--memory-limit is too small",
        {{"limit", std::to_string(options.memory_limit)}, {"minimum", mib(smallest_memory_limit)}});
    return 1;
  }
  const auto memory = split_memory(options.memory_limit,
                                   topologies.size() * static_cast<std::size_t>(options.threads));
  kafka::client_settings kafka_settings = options.kafka;
  kafka_settings.queues = memory.queues;
  core::log::info(
      "memory budget",
      {{"limit", options.memory_limit ? mib(options.memory_limit) : "none"},
       {"state_block_cache", mib(memory.rocksdb.block_cache_bytes)},
       {"state_memtables", mib(memory.rocksdb.write_buffer_bytes)},
       {"window_state", options.memory_limit ? mib(memory.rocksdb.state_cache_bytes) : "unbounded"},
       {"consumer_queue_per_worker", mib(memory.queues.consumer_queue_bytes)},
       {"producer_queue_per_worker", mib(memory.queues.producer_queue_bytes)}});

  auto opened = state::open_rocksdb(options.state_dir, memory.rocksdb);
  if (!opened) {
    core::log::error("cannot open state", {{"error", opened.err().message}});
    return 1;
  }
  // Shared with the scrape-time gauges below, which may outlive run's locals.
  std::shared_ptr<state::database> db = std::move(*opened);
  registry
      .add_gauge("weir_memory_limit_bytes",
                 "The process's memory budget (--memory-limit); 0 if none")
      .set(static_cast<double>(options.memory_limit));
  registry.add_callback_gauge(
      "weir_state_block_cache_usage_bytes",
      "Bytes in RocksDB's shared block cache, memtable reservations included", {},
      [db] { return static_cast<double>(db->memory().block_cache_bytes); });
  registry.add_callback_gauge("weir_state_memtable_bytes",
                              "Bytes in RocksDB's memtables (all stores, not yet flushed)", {},
                              [db] { return static_cast<double>(db->memory().memtable_bytes); });
  registry.add_callback_gauge("weir_state_cache_bytes",
                              "Estimated bytes of window state held in memory (all window tasks)",
                              {}, [db] { return static_cast<double>(db->cache().used()); });
  registry.add_callback_gauge("weir_state_keys",
                              "Estimated keys in the state (all stores, checkpointed state)", {},
                              [db] { return static_cast<double>(db->size().keys); });
  registry.add_callback_gauge("weir_state_live_bytes",
                              "Estimated bytes of live state data (all stores)", {},
                              [db] { return static_cast<double>(db->size().live_bytes); });
  registry.add_callback_gauge("weir_state_disk_bytes",
                              "Bytes of the state's files on disk (all stores)", {},
                              [db] { return static_cast<double>(db->size().disk_bytes); });

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<runtime::worker>> workers;
  for (const auto& t : topologies) {
    for (int i = 0; i < options.threads; ++i) {
      std::string name = t->spec.name + "-" +
                         (options.instance_id.empty() ? "weir" : options.instance_id) + "-" +
                         std::to_string(i);
      std::optional<std::string> member;
      if (!options.instance_id.empty()) member = options.instance_id + "-" + std::to_string(i);
      workers.push_back(std::make_unique<runtime::worker>(*t, kafka_settings, *db, name, member));
    }
  }

  // Tables read their topics to the end before any worker starts.
  auto ready = [&]() -> std::string {
    for (const auto& t : topologies) {
      if (auto b = t->tables->bootstrapping(); !b.empty()) return b;
    }
    for (const auto& w : workers) {
      switch (w->current_phase()) {
        case runtime::worker::phase::starting:
          return "starting";
        case runtime::worker::phase::stopped:
          return "stopped";
        case runtime::worker::phase::failed:
          return "failed: " + w->failure();
        case runtime::worker::phase::running:
          break;
      }
      if (int n = w->restoring(); n > 0) return "restoring " + std::to_string(n) + " partition(s)";
    }
    return {};
  };
  std::unique_ptr<metrics::http_server> http;
  if (!options.metrics_listen.empty()) {
    auto s = metrics::http_server::start(options.metrics_listen, registry, ready);
    if (!s) {
      core::log::error("cannot serve metrics", {{"error", s.err().message}});
      return 1;
    }
    http = std::move(*s);
    core::log::info("serving metrics",
                    {{"listen", options.metrics_listen}, {"port", std::to_string(http->port())}});
  }

  // Stops every table's threads; they use the database, which goes first.
  auto stop_tables = [&] {
    for (auto& t : topologies) t->tables->stop();
  };
  for (const auto& t : topologies) {
    tables::run_settings ts;
    ts.pipeline = t->spec.name;
    ts.db = db.get();
    ts.kafka = kafka_settings;
    ts.metrics = &registry;
    if (auto st = t->tables->start(ts); !st) {
      core::log::error("cannot start tables",
                       {{"pipeline", t->spec.name}, {"error", st.err().message}});
      stop_tables();
      return 1;
    }
  }
  for (;;) {
    bool bootstrapped = true;
    for (const auto& t : topologies) {
      if (auto f = t->tables->failure()) {
        core::log::error("table failed", {{"pipeline", t->spec.name}, {"error", *f}});
        stop_tables();
        return 1;
      }
      bootstrapped = bootstrapped && t->tables->bootstrapping().empty();
    }
    if (bootstrapped) break;
    timespec wait{0, 100'000'000};
    if (int sig = sigtimedwait(&signals, nullptr, &wait); sig > 0) {
      core::log::info("signal received while bootstrapping tables: stopping",
                      {{"signal", strsignal(sig)}});
      stop_tables();
      return 0;
    }
  }

  for (auto& w : workers) w->start(stop);

  int exit_code = 0;
  bool stopping = false;
  for (;;) {
    timespec wait{0, 200'000'000};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig > 0) {
      if (stopping) {
        core::log::warn("second signal: exiting without a checkpoint");
        std::_Exit(130);
      }
      core::log::info("signal received: checkpointing and stopping", {{"signal", strsignal(sig)}});
      stopping = true;
      stop = true;
    }
    for (const auto& t : topologies) {
      if (auto f = t->tables->failure(); f && !stopping) {
        core::log::error("table failed", {{"pipeline", t->spec.name}, {"error", *f}});
        stopping = true;
        stop = true;
        exit_code = 1;
      }
    }
    bool all_done = true;
    for (const auto& w : workers) {
      auto ph = w->current_phase();
      if (ph == runtime::worker::phase::failed && !stopping) {
        // One failed worker stops the process: a supervisor restarts it from
        // the last checkpoint.
        stopping = true;
        stop = true;
        exit_code = 1;
      }
      if (ph != runtime::worker::phase::stopped && ph != runtime::worker::phase::failed) {
        all_done = false;
      }
    }
    if (all_done) break;
  }
  for (auto& w : workers) {
    w->join();
    if (w->current_phase() == runtime::worker::phase::failed) exit_code = 1;
  }
  workers.clear();
  stop_tables();
  core::log::info("stopped", {{"exit_code", std::to_string(exit_code)}});
  return exit_code;
}

}  // namespace weir::app

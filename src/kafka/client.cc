#include "weir/kafka/client.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string_view>
#include <thread>

#include "weir/core/log.h"

namespace weir::kafka {
namespace {

core::error kafka_error(const std::string& what, const std::string& detail) {
  return core::error{core::errc::kafka, what + ": " + detail};
}

// A transactional producer fenced by a newer one with the same
// transactional.id: fatal for this handle, and for the worker.
bool producer_fenced(RdKafka::ErrorCode e) {
  return e == RdKafka::ERR__FENCED || e == RdKafka::ERR_PRODUCER_FENCED ||
         e == RdKafka::ERR_INVALID_PRODUCER_EPOCH;
}

core::error fenced_producer_error(const std::string& transactional_id, const std::string& detail) {
  return core::error{
      core::errc::kafka,
      "fenced: another producer took over transactional.id " + transactional_id +
          " (is a second process running with the same --instance-id?); the open transaction "
          "is aborted, nothing written since the last commit will be visible to read_committed "
          "consumers, and this worker stops (" +
          detail + ")"};
}

// Routes the client library's logs and errors into weir's log, and its
// statistics to `on_stats`.
class event_logger final : public RdKafka::EventCb {
 public:
  std::function<void(const std::string&)> on_stats;

  void event_cb(RdKafka::Event& e) override {
    switch (e.type()) {
      case RdKafka::Event::EVENT_STATS:
        if (on_stats) on_stats(e.str());
        break;
      case RdKafka::Event::EVENT_ERROR: {
        std::string err = RdKafka::err2str(e.err());
        core::log::write(e.fatal() ? core::log::level::error : core::log::level::warn,
                         "kafka client error", {{"error", err}, {"detail", e.str()}});
        break;
      }
      case RdKafka::Event::EVENT_LOG: {
        auto l = e.severity() <= RdKafka::Event::EVENT_SEVERITY_ERROR     ? core::log::level::error
                 : e.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING ? core::log::level::warn
                                                                          : core::log::level::debug;
        core::log::write(l, "kafka client", {{"facility", e.fac()}, {"detail", e.str()}});
        break;
      }
      default:
        break;
    }
  }
};

// Which client a configuration is for: a passthrough property prefixed
// `consumer.` or `producer.` applies to that kind of client only, without its
// prefix (as Kafka Streams scopes its client properties).
enum class client_role { consumer, producer };

// `key` as it applies to a client of `role`, or nullopt when it is scoped to
// the other kind. librdkafka has no property named consumer.* or producer.*.
std::optional<std::string_view> scoped_key(std::string_view key, client_role role) {
  constexpr std::string_view consumer_prefix = "consumer.", producer_prefix = "producer.";
  if (key.starts_with(consumer_prefix)) {
    if (role != client_role::consumer) return std::nullopt;
    return key.substr(consumer_prefix.size());
  }
  if (key.starts_with(producer_prefix)) {
    if (role != client_role::producer) return std::nullopt;
    return key.substr(producer_prefix.size());
  }
  return key;
}

core::result<std::unique_ptr<RdKafka::Conf>> make_conf(
    const client_settings& s, client_role role,
    std::initializer_list<std::pair<const char*, std::string>> defaults, RdKafka::EventCb* events,
    const std::vector<std::pair<std::string, std::string>>& bounds = {}) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  auto set = [&](const std::string& k, const std::string& v) -> core::status {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      // The library's message may quote the value, which can be a secret
      // given to the wrong key: never repeat it.
      for (auto at = err.find(v); !v.empty() && at != std::string::npos; at = err.find(v)) {
        err.replace(at, v.size(), "<value>");
      }
      return core::error{core::errc::invalid_config, "kafka property " + k + ": " + err};
    }
    return {};
  };
  if (auto st = set("bootstrap.servers", s.bootstrap_servers); !st) return st.err();
  if (auto st = set("client.id", s.client_id); !st) return st.err();
  for (const auto& [k, v] : defaults) {
    if (auto st = set(k, v); !st) return st.err();
  }
  for (const auto& [k, v] : bounds) {
    if (auto st = set(k, v); !st) return st.err();
  }
  // Passthrough properties come last so that an operator can override.
  for (const auto& [k, v] : s.properties) {
    auto key = scoped_key(k, role);
    if (!key) continue;
    if (auto st = set(std::string(*key), v); !st) return st.err();
  }
  if (events && conf->set("event_cb", events, err) != RdKafka::Conf::CONF_OK) {
    return core::error{core::errc::internal, err};
  }
  return conf;
}

class rdkafka_message final : public message {
 public:
  explicit rdkafka_message(std::unique_ptr<RdKafka::Message> m)
      : m_(std::move(m)), topic_(m_->topic_name()) {
    // Message::topic_name() returns a string by value: the view points into
    // the copy kept here, never into that temporary.
    view_.topic = topic_;
    view_.partition = m_->partition();
    view_.offset = m_->offset();
    view_.timestamp_ms = m_->timestamp().timestamp;
    if (m_->key_pointer()) {
      view_.key = std::string_view(static_cast<const char*>(m_->key_pointer()), m_->key_len());
    }
    if (m_->payload()) {
      view_.value = std::string_view(static_cast<const char*>(m_->payload()), m_->len());
    }
    if (RdKafka::Headers* h = m_->headers()) {
      headers_ = h->get_all();
      // Header::key() returns a string by value: keep the names alive here,
      // for the views below.
      keys_.reserve(headers_.size());
      for (const auto& hd : headers_) keys_.push_back(hd.key());
      for (std::size_t i = 0; i < headers_.size(); ++i) {
        const auto& hd = headers_[i];
        core::header_view hv{keys_[i], std::nullopt};
        if (hd.value())
          hv.value = std::string_view(static_cast<const char*>(hd.value()), hd.value_size());
        view_.headers.push_back(hv);
      }
    }
  }
  const core::record_view& view() const noexcept override { return view_; }

 private:
  std::unique_ptr<RdKafka::Message> m_;
  std::string topic_;
  std::vector<RdKafka::Headers::Header> headers_;
  std::vector<std::string> keys_;
  core::record_view view_;
};

std::vector<topic_partition> to_tps(const std::vector<RdKafka::TopicPartition*>& parts) {
  std::vector<topic_partition> out;
  out.reserve(parts.size());
  for (const auto* p : parts) out.push_back({p->topic(), p->partition()});
  return out;
}

class rebalance_handler final : public RdKafka::RebalanceCb {
 public:
  explicit rebalance_handler(rebalance_listener l) : listener_(std::move(l)) {}

  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    const bool cooperative = c->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      auto starts = listener_.assigned(to_tps(parts));
      std::vector<RdKafka::TopicPartition*> held_parts;
      for (auto* p : parts) {
        p->set_offset(use_committed);
        for (const auto& s : starts) {
          if (s.tp.topic != p->topic() || s.tp.partition != p->partition()) continue;
          if (s.offset == held)
            held_parts.push_back(p);
          else
            p->set_offset(s.offset);
        }
      }
      if (cooperative) {
        std::unique_ptr<RdKafka::Error> e(c->incremental_assign(parts));
        if (e) core::log::error("incremental assign failed", {{"error", e->str()}});
      } else {
        c->assign(parts);
      }
      // Before any fetch: nothing of them is read until resume().
      if (!held_parts.empty()) {
        if (auto e = c->pause(held_parts); e != RdKafka::ERR_NO_ERROR) {
          core::log::error("pausing partitions failed", {{"error", RdKafka::err2str(e)}});
        }
      }
    } else {
      listener_.revoked(to_tps(parts), c->assignment_lost());
      if (cooperative) {
        std::unique_ptr<RdKafka::Error> e(c->incremental_unassign(parts));
        if (e) core::log::error("incremental unassign failed", {{"error", e->str()}});
      } else {
        c->unassign();
      }
    }
  }

 private:
  rebalance_listener listener_;
};

// Logs failed asynchronous offset commits. They are not fatal: the local
// checkpoint is what a restart trusts.
class commit_logger final : public RdKafka::OffsetCommitCb {
 public:
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>&) override {
    if (err != RdKafka::ERR_NO_ERROR && err != RdKafka::ERR__NO_OFFSET) {
      core::log::warn("offset commit failed", {{"error", RdKafka::err2str(err)}});
    }
  }
};

class rdkafka_consumer final : public consumer {
 public:
  explicit rdkafka_consumer(rebalance_listener l) : rebalance_(l) {
    events_.on_stats = l.statistics;
  }
  ~rdkafka_consumer() override {
    if (c_ && !closed_) c_->close();
  }
  rdkafka_consumer(const rdkafka_consumer&) = delete;
  rdkafka_consumer& operator=(const rdkafka_consumer&) = delete;

  core::status init(const client_settings& s, const std::string& group) {
    group_ = group;
    instance_ = s.group_instance_id.value_or("");
    auto conf = make_conf(s, client_role::consumer,
                          {{"group.id", group},
                           {"enable.auto.commit", "false"},
                           {"enable.auto.offset.store", "false"},
                           {"auto.offset.reset", "earliest"},
                           {"partition.assignment.strategy", "cooperative-sticky"},
                           {"isolation.level", "read_committed"},
                           {"enable.partition.eof", "false"},
                           {"statistics.interval.ms", "5000"}},
                          &events_, memory_properties(s.queues, true));
    if (!conf) return conf.err();
    std::string err;
    if (s.group_instance_id &&
        (*conf)->set("group.instance.id", *s.group_instance_id, err) != RdKafka::Conf::CONF_OK) {
      return core::error{core::errc::invalid_config, err};
    }
    if ((*conf)->set("offset_commit_cb", &commits_, err) != RdKafka::Conf::CONF_OK) {
      return core::error{core::errc::internal, err};
    }
    if ((*conf)->set("rebalance_cb", &rebalance_, err) != RdKafka::Conf::CONF_OK) {
      return core::error{core::errc::internal, err};
    }
    c_.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
    if (!c_) return kafka_error("creating consumer", err);
    return {};
  }

  core::status subscribe(const std::vector<std::string>& topics) override {
    auto e = c_->subscribe(topics);
    if (e != RdKafka::ERR_NO_ERROR) return kafka_error("subscribe", RdKafka::err2str(e));
    return {};
  }

  core::result<std::unique_ptr<message>> poll(std::chrono::milliseconds timeout) override {
    std::unique_ptr<RdKafka::Message> m(c_->consume(static_cast<int>(timeout.count())));
    switch (m->err()) {
      case RdKafka::ERR_NO_ERROR:
        return std::unique_ptr<message>(std::make_unique<rdkafka_message>(std::move(m)));
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        return std::unique_ptr<message>();
      default:
        if (m->err() == RdKafka::ERR__FATAL) return fatal_error(m->errstr());
        core::log::warn("consumer error", {{"error", m->errstr()}});
        return std::unique_ptr<message>();
    }
  }

  // The consumer's fatal error, named plainly when it is a static member
  // replaced by another with the same group.instance.id.
  core::error fatal_error(const std::string& fallback) {
    std::string detail;
    if (c_->fatal_error(detail) == RdKafka::ERR_FENCED_INSTANCE_ID) {
      return core::error{
          core::errc::kafka,
          "fenced: another consumer joined group " + group_ + " as group.instance.id " + instance_ +
              " (is a second process running with the same --instance-id?); this worker's "
              "partitions are its now, and this worker stops (" +
              detail + ")"};
    }
    return kafka_error("consumer", detail.empty() ? fallback : detail);
  }

  core::result<std::vector<partition_offset>> committed(
      const std::vector<topic_partition>& tps) override {
    std::vector<RdKafka::TopicPartition*> parts;
    for (const auto& tp : tps)
      parts.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
    auto e = c_->committed(parts, 30000);
    std::vector<partition_offset> out;
    for (auto* p : parts) {
      std::int64_t o = p->offset() >= 0 ? p->offset() : use_committed;
      out.push_back({{p->topic(), p->partition()}, o});
    }
    RdKafka::TopicPartition::destroy(parts);
    if (e != RdKafka::ERR_NO_ERROR)
      return kafka_error("reading committed offsets", RdKafka::err2str(e));
    return out;
  }

  RdKafka::KafkaConsumer* handle() noexcept { return c_.get(); }

  core::status commit(const std::vector<partition_offset>& offsets) override {
    if (offsets.empty()) return {};
    std::vector<RdKafka::TopicPartition*> parts;
    for (const auto& o : offsets) {
      parts.push_back(RdKafka::TopicPartition::create(o.tp.topic, o.tp.partition, o.offset));
    }
    auto e = c_->commitAsync(parts);
    RdKafka::TopicPartition::destroy(parts);
    if (e != RdKafka::ERR_NO_ERROR && e != RdKafka::ERR__NO_OFFSET) {
      return kafka_error("committing offsets", RdKafka::err2str(e));
    }
    return {};
  }

  core::status resume(const std::vector<partition_offset>& starts) override {
    if (starts.empty()) return {};
    std::vector<RdKafka::TopicPartition*> parts;
    std::string problem;
    for (const auto& s : starts) {
      auto* p = RdKafka::TopicPartition::create(s.tp.topic, s.tp.partition);
      parts.push_back(p);
      if (s.offset == use_committed) continue;
      std::unique_ptr<RdKafka::TopicPartition> at(
          RdKafka::TopicPartition::create(s.tp.topic, s.tp.partition, s.offset));
      if (auto e = c_->seek(*at, 10000); e != RdKafka::ERR_NO_ERROR) {
        problem = s.tp.topic + "/" + std::to_string(s.tp.partition) + ": " + RdKafka::err2str(e);
      }
    }
    auto e = c_->resume(parts);
    RdKafka::TopicPartition::destroy(parts);
    if (!problem.empty()) return kafka_error("seeking to the restored offset", problem);
    if (e != RdKafka::ERR_NO_ERROR) return kafka_error("resuming partitions", RdKafka::err2str(e));
    return {};
  }

  void close() override {
    if (!closed_) c_->close();
    closed_ = true;
  }

 private:
  event_logger events_;
  commit_logger commits_;
  rebalance_handler rebalance_;
  std::unique_ptr<RdKafka::KafkaConsumer> c_;
  std::string group_;
  std::string instance_;  // group.instance.id, empty if none
  bool closed_ = false;
};

class rdkafka_partition_reader final : public partition_reader {
 public:
  rdkafka_partition_reader() = default;
  ~rdkafka_partition_reader() override {
    if (c_) c_->close();
  }
  rdkafka_partition_reader(const rdkafka_partition_reader&) = delete;
  rdkafka_partition_reader& operator=(const rdkafka_partition_reader&) = delete;

  // The first and end offsets of `tp`. A broker that does not lead the
  // partition yet (a topic created a moment ago, a leader moving) is asked
  // again until `timeout`: librdkafka returns that answer as it is.
  RdKafka::ErrorCode watermarks(const topic_partition& tp, std::int64_t& low, std::int64_t& high,
                                std::chrono::milliseconds timeout) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    for (;;) {
      const auto left = std::max<std::int64_t>(
          1,
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count());
      auto e =
          c_->query_watermark_offsets(tp.topic, tp.partition, &low, &high, static_cast<int>(left));
      const bool leader_not_ready =
          e == RdKafka::ERR_NOT_LEADER_FOR_PARTITION || e == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
          e == RdKafka::ERR_OFFSET_NOT_AVAILABLE || e == RdKafka::ERR_FENCED_LEADER_EPOCH ||
          e == RdKafka::ERR_UNKNOWN_LEADER_EPOCH;
      if (!leader_not_ready || clock::now() + std::chrono::milliseconds(100) >= deadline) return e;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  core::status init(const client_settings& s) {
    // The high-level consumer needs a group id, but a reader never
    // subscribes: it never joins the group and commits nothing.
    auto conf = make_conf(s, client_role::consumer,
                          {{"group.id", s.client_id},
                           {"enable.auto.commit", "false"},
                           {"enable.auto.offset.store", "false"},
                           {"auto.offset.reset", "earliest"},
                           {"isolation.level", "read_committed"},
                           {"enable.partition.eof", "true"}},
                          &events_, memory_properties(s.queues, true));
    if (!conf) return conf.err();
    std::string err;
    c_.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
    if (!c_) return kafka_error("creating table reader", err);
    return {};
  }

  core::status assign(const std::vector<partition_offset>& starts) override {
    std::vector<RdKafka::TopicPartition*> parts;
    for (const auto& o : starts) {
      parts.push_back(RdKafka::TopicPartition::create(o.tp.topic, o.tp.partition, o.offset));
    }
    auto e = c_->assign(parts);
    RdKafka::TopicPartition::destroy(parts);
    if (e != RdKafka::ERR_NO_ERROR) return kafka_error("assigning partitions", RdKafka::err2str(e));
    return {};
  }

  core::result<std::vector<partition_bounds>> bounds(const std::vector<topic_partition>& tps,
                                                     std::chrono::milliseconds timeout) override {
    std::vector<partition_bounds> out;
    for (const auto& tp : tps) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      auto e = watermarks(tp, low, high, timeout);
      if (e != RdKafka::ERR_NO_ERROR) {
        return kafka_error(
            "reading the offsets of " + tp.topic + "/" + std::to_string(tp.partition),
            RdKafka::err2str(e));
      }
      out.push_back({tp, low, high});
    }
    return out;
  }

  core::result<item> poll(std::chrono::milliseconds timeout) override {
    std::unique_ptr<RdKafka::Message> m(c_->consume(static_cast<int>(timeout.count())));
    item out;
    switch (m->err()) {
      case RdKafka::ERR_NO_ERROR:
        out.record = std::make_unique<rdkafka_message>(std::move(m));
        return out;
      case RdKafka::ERR__PARTITION_EOF:
        out.end_of_partition = topic_partition{m->topic_name(), m->partition()};
        return out;
      case RdKafka::ERR__TIMED_OUT:
        return out;
      default:
        if (m->err() == RdKafka::ERR__FATAL) return kafka_error("table reader", m->errstr());
        core::log::warn("table reader error", {{"error", m->errstr()}});
        return out;
    }
  }

 private:
  event_logger events_;
  std::unique_ptr<RdKafka::KafkaConsumer> c_;
};

// Remembers the first permanent delivery failure since the last flush.
class delivery_tracker final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR && first_error_.empty()) {
      first_error_ = m.topic_name() + ": " + m.errstr();
    }
  }
  std::string take_error() { return std::exchange(first_error_, {}); }

 private:
  std::string first_error_;
};

class rdkafka_producer final : public producer {
 public:
  ~rdkafka_producer() override {
    if (p_) p_->flush(5000);
  }

  core::status init(const client_settings& s) {
    auto conf = make_conf(s, client_role::producer,
                          {{"enable.idempotence", "true"},
                           {"message.timeout.ms", "0"},  // never expire: outages are waited out
                           {"linger.ms", "5"}},
                          &events_, memory_properties(s.queues, false));
    if (!conf) return conf.err();
    std::string err;
    if ((*conf)->set("dr_cb", &delivery_, err) != RdKafka::Conf::CONF_OK) {
      return core::error{core::errc::internal, err};
    }
    if (s.transactional_id) {
      // 60 s unless --kafka-property sets it, like every other default here.
      const bool timeout_given =
          std::any_of(s.properties.begin(), s.properties.end(), [](const auto& p) {
            return scoped_key(p.first, client_role::producer) ==
                   std::optional<std::string_view>("transaction.timeout.ms");
          });
      if ((*conf)->set("transactional.id", *s.transactional_id, err) != RdKafka::Conf::CONF_OK ||
          (!timeout_given &&
           (*conf)->set("transaction.timeout.ms", "60000", err) != RdKafka::Conf::CONF_OK)) {
        return core::error{core::errc::invalid_config, err};
      }
    }
    p_.reset(RdKafka::Producer::create(conf->get(), err));
    if (!p_) return kafka_error("creating producer", err);
    if (s.transactional_id) {
      transactional_ = true;
      transactional_id_ = *s.transactional_id;
      // Fences any earlier producer with the same id and finishes its
      // transaction; retried while the coordinator is not ready.
      for (int attempt = 0;; ++attempt) {
        std::unique_ptr<RdKafka::Error> e(p_->init_transactions(60000));
        if (!e) break;
        if (!e->is_retriable() || attempt >= 5) {
          return kafka_error("initialising transactions", e->str());
        }
      }
    }
    return {};
  }

  core::status begin_transaction() override {
    if (!transactional_ || open_) return {};
    std::unique_ptr<RdKafka::Error> e(p_->begin_transaction());
    if (e) return error("beginning a transaction", e->str());
    open_ = true;
    return {};
  }
  bool in_transaction() const noexcept override { return open_; }

  core::status commit_transaction(const std::vector<partition_offset>& offsets,
                                  consumer& c) override {
    if (auto st = begin_transaction(); !st) return st;
    auto* rc = static_cast<rdkafka_consumer&>(c).handle();
    std::vector<RdKafka::TopicPartition*> parts;
    for (const auto& o : offsets) {
      parts.push_back(RdKafka::TopicPartition::create(o.tp.topic, o.tp.partition, o.offset));
    }
    std::unique_ptr<RdKafka::ConsumerGroupMetadata> group(rc->groupMetadata());
    std::unique_ptr<RdKafka::Error> e;
    for (;;) {
      e.reset(p_->send_offsets_to_transaction(parts, group.get(), 60000));
      if (!e || !e->is_retriable()) break;
    }
    RdKafka::TopicPartition::destroy(parts);
    if (!e) {
      for (;;) {
        e.reset(p_->commit_transaction(60000));
        if (!e || !e->is_retriable()) break;
      }
    }
    if (!e) {
      open_ = false;
      return {};
    }
    std::string why = e->str();
    if (e->txn_requires_abort()) {
      std::unique_ptr<RdKafka::Error> a(p_->abort_transaction(60000));
      open_ = false;
      if (a) return error("transaction abort failed", why + "; then " + a->str());
      return core::error{core::errc::aborted, "transaction aborted: " + why};
    }
    return error("transaction failed", why);
  }

  core::status abort_transaction() override {
    if (!transactional_ || !open_) return {};
    std::unique_ptr<RdKafka::Error> e(p_->abort_transaction(60000));
    open_ = false;
    if (e) return error("aborting a transaction", e->str());
    return {};
  }

  core::status produce(core::output_record&& r) override {
    for (;;) {
      RdKafka::Headers* headers = nullptr;
      if (!r.headers.empty()) {
        headers = RdKafka::Headers::create();
        for (const auto& h : r.headers) {
          if (h.value)
            headers->add(h.key, h.value->data(), h.value->size());
          else
            headers->add(h.key, nullptr, 0);
        }
      }
      auto e = p_->produce(r.topic, r.partition.value_or(RdKafka::Topic::PARTITION_UA),
                           RdKafka::Producer::RK_MSG_COPY, r.value.data(), r.value.size(),
                           r.key ? r.key->data() : nullptr, r.key ? r.key->size() : 0,
                           r.timestamp_ms, headers, nullptr);
      if (e == RdKafka::ERR_NO_ERROR) return {};
      delete headers;  // ownership passes to the library only on success
      if (e != RdKafka::ERR__QUEUE_FULL)
        return error("producing to " + r.topic, RdKafka::err2str(e));
      p_->poll(50);
    }
  }

  core::status produce_to(const std::string& topic, std::int32_t partition, std::string_view key,
                          std::optional<std::string_view> value) override {
    for (;;) {
      auto e = p_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                           value ? const_cast<char*>(value->data()) : nullptr,
                           value ? value->size() : 0, key.data(), key.size(), 0, nullptr);
      if (e == RdKafka::ERR_NO_ERROR) return {};
      if (e != RdKafka::ERR__QUEUE_FULL)
        return error("producing to " + topic + "/" + std::to_string(partition),
                     RdKafka::err2str(e));
      p_->poll(50);
    }
  }

  core::status flush(std::optional<std::chrono::milliseconds> limit) override {
    auto started = std::chrono::steady_clock::now();
    auto next_report = started + std::chrono::seconds(10);
    while (p_->outq_len() > 0) {
      p_->flush(500);
      if (limit && std::chrono::steady_clock::now() - started >= *limit && p_->outq_len() > 0) {
        return kafka_error("flush", std::to_string(p_->outq_len()) +
                                        " records not delivered within " +
                                        std::to_string(limit->count()) + " ms");
      }
      if (auto now = std::chrono::steady_clock::now(); now >= next_report && p_->outq_len() > 0) {
        core::log::warn("waiting for the broker to take produced records",
                        {{"queued", std::to_string(p_->outq_len())}});
        next_report = now + std::chrono::seconds(10);
      }
    }
    if (auto err = delivery_.take_error(); !err.empty()) return kafka_error("delivery failed", err);
    return {};
  }

  void poll() override { p_->poll(0); }

  core::status delete_records(const std::vector<partition_offset>& before,
                              std::chrono::milliseconds timeout) override {
    if (before.empty()) return {};
    rd_kafka_t* rk = p_->c_ptr();
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(before.size()));
    for (const auto& o : before) {
      rd_kafka_topic_partition_list_add(list, o.tp.topic.c_str(), o.tp.partition)->offset =
          o.offset;
    }
    rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(list);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS);
    char errstr[512];
    rd_kafka_AdminOptions_set_operation_timeout(opts, static_cast<int>(timeout.count()), errstr,
                                                sizeof errstr);
    rd_kafka_DeleteRecords(rk, &del, 1, opts, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(timeout.count()) + 1000);
    std::string problem;
    if (!ev) {
      problem = "no answer from the broker";
    } else if (rd_kafka_event_error(ev)) {
      problem = rd_kafka_event_error_string(ev);
    } else if (const auto* res = rd_kafka_event_DeleteRecords_result(ev)) {
      const auto* offsets = rd_kafka_DeleteRecords_result_offsets(res);
      for (int i = 0; offsets && i < offsets->cnt; ++i) {
        const auto& e = offsets->elems[i];
        if (e.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
        problem += std::string(problem.empty() ? "" : "; ") + e.topic + "/" +
                   std::to_string(e.partition) + ": " + rd_kafka_err2str(e.err);
        if (e.err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
          problem += " (this principal needs Delete on the topic)";
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteRecords_destroy(del);
    if (!problem.empty()) return kafka_error("deleting records", problem);
    return {};
  }

 private:
  // `what` failed with `detail`; when the producer was fenced, says that
  // instead, which is what the operator needs to know.
  core::error error(const std::string& what, const std::string& detail) const {
    std::string fatal;
    if (transactional_ && producer_fenced(p_->fatal_error(fatal))) {
      return fenced_producer_error(transactional_id_, what + ": " + detail);
    }
    return kafka_error(what, detail);
  }

  event_logger events_;
  delivery_tracker delivery_;
  std::unique_ptr<RdKafka::Producer> p_;
  std::string transactional_id_;
  bool transactional_ = false;
  bool open_ = false;  // a transaction is open
};

}  // namespace

queue_limits queue_limits_for(std::size_t bytes) {
  constexpr std::size_t mib = std::size_t{1} << 20;
  queue_limits q;
  // 1 GiB caps: queued.max.messages.kbytes allows at most 2097151 KiB, and
  // librdkafka's own producer default is 1 GiB.
  q.consumer_queue_bytes = std::clamp(bytes / 2, 2 * mib, 1024 * mib);
  q.producer_queue_bytes = std::clamp(bytes / 2, 2 * mib, 1024 * mib);
  q.fetch_bytes = std::clamp(q.consumer_queue_bytes / 4, mib, 50 * mib);
  q.partition_fetch_bytes = std::min(mib, q.fetch_bytes);
  // What a queued message costs beyond its key and value (librdkafka's
  // structures; a consumed one keeps its share of the decompressed fetch
  // buffer alive too): about 500 bytes measured with 60-byte records.
  constexpr std::size_t consumed_message_cost = 512, produced_message_cost = 512;
  q.consumer_queue_messages =
      std::clamp<std::size_t>(q.consumer_queue_bytes / consumed_message_cost, 1000, 100000);
  q.producer_queue_messages =
      std::clamp<std::size_t>(q.producer_queue_bytes / produced_message_cost, 1000, 100000);
  return q;
}

std::vector<std::pair<std::string, std::string>> memory_properties(const queue_limits& q,
                                                                   bool consumer) {
  auto kib = [](std::size_t bytes) {
    return std::to_string(std::max<std::size_t>(bytes / 1024, 1));
  };
  if (consumer) {
    return {{"queued.max.messages.kbytes", kib(q.consumer_queue_bytes)},
            {"queued.min.messages", std::to_string(q.consumer_queue_messages)},
            {"fetch.max.bytes", std::to_string(q.fetch_bytes)},
            {"max.partition.fetch.bytes", std::to_string(q.partition_fetch_bytes)}};
  }
  return {{"queue.buffering.max.kbytes", kib(q.producer_queue_bytes)},
          {"queue.buffering.max.messages", std::to_string(q.producer_queue_messages)}};
}

core::result<std::unique_ptr<consumer>> make_consumer(const client_settings& s,
                                                      const std::string& group_id,
                                                      rebalance_listener listener) {
  auto c = std::make_unique<rdkafka_consumer>(std::move(listener));
  if (auto st = c->init(s, group_id); !st) return st.err();
  return std::unique_ptr<consumer>(std::move(c));
}

core::result<std::unique_ptr<producer>> make_producer(const client_settings& s) {
  auto p = std::make_unique<rdkafka_producer>();
  if (auto st = p->init(s); !st) return st.err();
  return std::unique_ptr<producer>(std::move(p));
}

core::result<std::unique_ptr<partition_reader>> make_partition_reader(const client_settings& s) {
  auto r = std::make_unique<rdkafka_partition_reader>();
  if (auto st = r->init(s); !st) return st.err();
  return std::unique_ptr<partition_reader>(std::move(r));
}

namespace {

// Partition counts of every topic in the cluster (a metadata request for all
// topics, which never auto-creates one).
core::result<std::map<std::string, int>> all_topics(RdKafka::Producer& p, const client_settings& s,
                                                    std::chrono::milliseconds timeout) {
  RdKafka::Metadata* md = nullptr;
  auto e = p.metadata(true, nullptr, &md, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> owned(md);
  if (e != RdKafka::ERR_NO_ERROR) {
    return kafka_error("reading metadata from " + s.bootstrap_servers, RdKafka::err2str(e));
  }
  std::map<std::string, int> out;
  for (const auto* tm : *md->topics()) {
    if (tm->err() != RdKafka::ERR_NO_ERROR) continue;
    bool led = true;
    for (const auto* pm : *tm->partitions()) led = led && pm->leader() >= 0;
    out[tm->topic()] = led ? static_cast<int>(tm->partitions()->size()) : 0;
  }
  return out;
}

std::string describe(const topic_spec& t) {
  std::string out = t.name + " (partitions=" + std::to_string(t.partitions);
  for (const auto& [k, v] : t.config) out += ", " + k + "=" + v;
  return out + ")";
}

// `t` as an operator must create it for weir: settings, then the operations
// weir's principal needs on it.
std::string describe_for_operator(const topic_spec& t) {
  std::string out = describe(t);
  if (t.operations.empty()) return out;
  out.pop_back();
  out += "; weir needs ";
  for (std::size_t i = 0; i < t.operations.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == t.operations.size() ? " and " : ", ") + t.operations[i];
  }
  return out + ")";
}

// The configs of `names` (DescribeConfigs). Topics the broker would not
// describe (not allowed) are left out; the error is for the request.
core::result<std::map<std::string, std::map<std::string, std::string>>> topic_configs(
    rd_kafka_t* rk, const std::vector<std::string>& names, std::chrono::milliseconds timeout) {
  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (const auto& n : names) {
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, n.c_str()));
  }
  char errstr[512];
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(timeout.count()), errstr,
                                            sizeof errstr);
  rd_kafka_DescribeConfigs(rk, resources.data(), resources.size(), opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(timeout.count()) + 5000);
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string problem;
  if (!ev) {
    problem = "no answer from the broker";
  } else if (rd_kafka_event_error(ev)) {
    problem = rd_kafka_event_error_string(ev);
  } else {
    const auto* res = rd_kafka_event_DescribeConfigs_result(ev);
    std::size_t n = 0;
    const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(res, &n);
    for (std::size_t i = 0; i < n; ++i) {
      if (rd_kafka_ConfigResource_error(rs[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      auto& configs = out[rd_kafka_ConfigResource_name(rs[i])];
      std::size_t m = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &m);
      for (std::size_t j = 0; j < m; ++j) {
        const char* v = rd_kafka_ConfigEntry_value(entries[j]);
        configs[rd_kafka_ConfigEntry_name(entries[j])] = v ? v : "";
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_queue_destroy(q);
  for (auto* r : resources) rd_kafka_ConfigResource_destroy(r);
  if (!problem.empty()) return kafka_error("describing topic configs", problem);
  return out;
}

// Topics that existed before weir started keep the settings it needs.
core::status check_settings(rd_kafka_t* rk, const std::vector<const topic_spec*>& existing,
                            std::chrono::milliseconds timeout) {
  std::vector<std::string> names;
  for (const auto* t : existing) {
    if (!t->required.empty()) names.push_back(t->name);
  }
  if (names.empty()) return {};
  auto configs = topic_configs(rk, names, timeout);
  if (!configs) {
    core::log::warn("cannot check the settings of existing internal topics",
                    {{"error", configs.err().message}});
    return {};
  }
  std::string wrong, fix, unchecked;
  for (const auto* t : existing) {
    if (t->required.empty()) continue;
    auto it = configs->find(t->name);
    if (it == configs->end()) {
      unchecked += (unchecked.empty() ? "" : ", ") + t->name;
      continue;
    }
    std::string mine;
    for (const auto& [k, v] : t->required) {
      auto c = it->second.find(k);
      const std::string have = c == it->second.end() ? "" : c->second;
      if (have == v) continue;  // so "compact,delete" is not "compact"
      wrong += std::string(wrong.empty() ? "" : "; ") + t->name + " has " + k + "=" + have +
               ", weir needs " + k + "=" + v;
      mine += (mine.empty() ? "" : ",") + k + "=" + v;
    }
    if (!mine.empty()) {
      fix += (fix.empty() ? "" : "; ") + std::string("kafka-configs.sh --alter --entity-type ") +
             "topics --entity-name " + t->name + " --add-config " +
             (mine.find(',') != std::string::npos ? "'" + mine + "'" : mine);
    }
  }
  if (!unchecked.empty()) {
    core::log::warn(
        "cannot check the settings of existing internal topics (not allowed to "
        "describe their configs)",
        {{"topics", unchecked}});
  }
  if (wrong.empty()) return {};
  return core::error{core::errc::kafka,
                     "internal topics with settings that lose state or records: " + wrong +
                         " (change them, for example: " + fix + ")"};
}

}  // namespace

core::status ensure_topics(const client_settings& s, const std::vector<topic_spec>& topics,
                           std::chrono::milliseconds timeout) {
  if (topics.empty()) return {};
  event_logger events;
  auto conf = make_conf(s, client_role::producer, {}, &events);
  if (!conf) return conf.err();
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf->get(), err));
  if (!p) return kafka_error("creating admin client", err);
  auto existing = all_topics(*p, s, timeout);
  if (!existing) return existing.err();
  std::vector<const topic_spec*> missing, present;
  for (const auto& t : topics) {
    auto it = existing->find(t.name);
    if (it == existing->end()) {
      missing.push_back(&t);
      continue;
    }
    present.push_back(&t);
    if (it->second != 0 && it->second != t.partitions) {
      return core::error{core::errc::kafka,
                         "topic " + t.name + " has " + std::to_string(it->second) +
                             " partitions, weir needs " + std::to_string(t.partitions) +
                             " (one per partition of the source topic): delete it, or recreate "
                             "it as " +
                             describe(t)};
    }
  }
  if (auto st = check_settings(p->c_ptr(), present, timeout); !st) return st;
  if (!missing.empty()) {
    rd_kafka_t* rk = p->c_ptr();
    std::vector<rd_kafka_NewTopic_t*> news;
    char errstr[512];
    for (const auto* t : missing) {
      auto* nt = rd_kafka_NewTopic_new(t->name.c_str(), t->partitions, -1, errstr, sizeof errstr);
      if (!nt) {
        for (auto* n : news) rd_kafka_NewTopic_destroy(n);
        return kafka_error("topic " + t->name, errstr);
      }
      for (const auto& [k, v] : t->config) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
      news.push_back(nt);
    }
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, static_cast<int>(timeout.count()), errstr,
                                                sizeof errstr);
    rd_kafka_CreateTopics(rk, news.data(), news.size(), opts, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(timeout.count()) + 5000);
    std::string problem;
    bool denied = false;
    if (!ev) {
      problem = "no answer from the broker";
    } else if (rd_kafka_event_error(ev)) {
      problem = rd_kafka_event_error_string(ev);
      auto code = rd_kafka_event_error(ev);
      denied = code == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
               code == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
    } else {
      const auto* res = rd_kafka_event_CreateTopics_result(ev);
      std::size_t n = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
      for (std::size_t i = 0; i < n; ++i) {
        auto code = rd_kafka_topic_result_error(results[i]);
        if (code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
          continue;
        denied = denied || code == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
                 code == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
        const char* msg = rd_kafka_topic_result_error_string(results[i]);
        problem += std::string(problem.empty() ? "" : "; ") +
                   rd_kafka_topic_result_name(results[i]) + ": " +
                   (msg ? msg : rd_kafka_err2str(code));
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    for (auto* n : news) rd_kafka_NewTopic_destroy(n);
    if (!problem.empty()) {
      std::string list;
      for (const auto* t : missing) list += (list.empty() ? "" : "; ") + describe_for_operator(*t);
      return core::error{
          core::errc::kafka,
          denied ? "not allowed to create topics (" + problem +
                       "); have them created with these partition counts and configs (any "
                       "replication factor), or grant this principal Create on them: " +
                       list
                 : "cannot create topics (" + problem +
                       "); create them by hand with these partition counts and configs (any "
                       "replication factor): " +
                       list};
    }
    core::log::info("created internal topics", {{"count", std::to_string(missing.size())}});
  }
  // Every topic with its partitions led, and the right count (another
  // process may have created one a moment before).
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto now = all_topics(*p, s, timeout);
    if (!now) return now.err();
    std::string waiting;
    for (const auto& t : topics) {
      auto it = now->find(t.name);
      if (it == now->end() || it->second == 0) {
        waiting = t.name;
        break;
      }
      if (it->second != t.partitions) {
        return core::error{core::errc::kafka,
                           "topic " + t.name + " has " + std::to_string(it->second) +
                               " partitions, weir needs " + std::to_string(t.partitions)};
      }
    }
    if (waiting.empty()) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      return kafka_error("topic " + waiting, "not ready (no leader) in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

core::result<int> partition_count(const client_settings& s, const std::string& topic,
                                  std::chrono::milliseconds timeout) {
  event_logger events;
  // Metadata only, through a producer handle.
  auto conf = make_conf(s, client_role::producer, {}, &events);
  if (!conf) return conf.err();
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf->get(), err));
  if (!p) return kafka_error("creating metadata client", err);
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(p.get(), topic, nullptr, err));
  if (!t) return kafka_error("topic " + topic, err);
  RdKafka::Metadata* md = nullptr;
  auto e = p->metadata(false, t.get(), &md, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> owned(md);
  if (e != RdKafka::ERR_NO_ERROR) {
    return kafka_error("reading metadata of " + topic + " from " + s.bootstrap_servers,
                       RdKafka::err2str(e));
  }
  for (const auto* tm : *md->topics()) {
    if (tm->topic() != topic) continue;
    if (tm->err() != RdKafka::ERR_NO_ERROR) {
      return kafka_error("topic " + topic, RdKafka::err2str(tm->err()));
    }
    return static_cast<int>(tm->partitions()->size());
  }
  return kafka_error("topic " + topic, "not in the cluster metadata");
}

}  // namespace weir::kafka

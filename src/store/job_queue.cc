#include "store/job_queue.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/soci_row.h"
#include "store/system_path.h"

namespace sinyal::store {
namespace {

constexpr size_t kMaxPayload = 1u << 20;

bool ValidKind(std::string_view k) {
  return !k.empty() && k.size() <= 64 && std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Result<JobStatus> ParseStatus(const std::string& s) {
  if (s == "queued") return JobStatus::kQueued;
  if (s == "running") return JobStatus::kRunning;
  if (s == "succeeded") return JobStatus::kSucceeded;
  if (s == "failed") return JobStatus::kFailed;
  return Status::DataLoss("unknown job status '" + s + "'");
}

constexpr const char* kColumns =
    "id, tenant_id, kind, status, payload, progress, stage, result, error, attempts, "
    "max_attempts, worker, lease_expires_at, created_at, started_at, finished_at, updated_at, "
    "run_after";

// Reads one row of kColumns (WHERE/ORDER given by `tail`) into *job. false when no row.
Result<bool> ReadJob(soci::session& sql, const std::string& tail, int64_t id, Job* job) {
  soci::row row;
  sql << std::string("SELECT ") + kColumns + " FROM jobs " + tail, soci::use(id, "id"),
      soci::into(row);
  if (!sql.got_data()) return false;
  auto i64 = [&](size_t i) { return RowInt64(row, i); };
  auto str = [&](size_t i) { return RowText(row, i); };
  job->id = i64(0);
  if (row.get_indicator(1) == soci::i_null) {
    job->tenant.reset();
  } else {
    job->tenant = TenantId(i64(1));
  }
  job->kind = str(2);
  SINYAL_ASSIGN_OR_RETURN(job->status, ParseStatus(str(3)));
  job->payload = str(4);
  job->progress = row.get_properties(5).get_data_type() == soci::dt_double
                      ? row.get<double>(5)
                      : static_cast<double>(i64(5));
  job->stage = str(6);
  job->result = str(7);
  job->error = str(8);
  job->attempts = static_cast<int>(i64(9));
  job->max_attempts = static_cast<int>(i64(10));
  job->worker = str(11);
  job->lease_expires_at = i64(12);
  job->created_at = i64(13);
  job->started_at = i64(14);
  job->finished_at = i64(15);
  job->updated_at = i64(16);
  job->run_after = i64(17);
  return true;
}

// Runs an UPDATE and returns the number of rows it changed.
template <typename... Uses>
long long Exec(soci::session& sql, const std::string& q, Uses&&... uses) {
  soci::statement st = (sql.prepare << q, ..., std::forward<Uses>(uses));
  st.execute(true);
  return st.get_affected_rows();
}

Status LeaseLost(int64_t id) {
  return Status::FailedPrecondition(
      "job " + std::to_string(id) + " is no longer held by this worker (lease expired or finished)",
      "lease");
}

}  // namespace

std::string_view JobStatusName(JobStatus s) {
  switch (s) {
    case JobStatus::kQueued:
      return "queued";
    case JobStatus::kRunning:
      return "running";
    case JobStatus::kSucceeded:
      return "succeeded";
    case JobStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

JobQueue::JobQueue(Database& db, const Clock& clock, JobQueueOptions options)
    : db_(db), clock_(clock), options_(options) {}

Result<int64_t> JobQueue::Enqueue(const JobSpec& spec) {
  if (!ValidKind(spec.kind)) {
    return Status::InvalidArgument("kind must be 1-64 characters of a-z, 0-9 or '_'", "kind");
  }
  if (spec.payload.size() > kMaxPayload) {
    return Status::InvalidArgument("payload is larger than 1 MiB", "payload");
  }
  if (spec.dedupe_key.size() > 200) {
    return Status::InvalidArgument("dedupe_key is longer than 200 characters", "dedupe_key");
  }
  if (spec.max_attempts < 1 || spec.max_attempts > 10) {
    return Status::InvalidArgument("max_attempts must be 1..10", "max_attempts");
  }
  if (spec.tenant && !spec.tenant->valid()) return Status::InvalidArgument("bad tenant", "tenant");
  const UnixNanos now = clock_.Now();
  int64_t id = 0;
  int64_t existing = 0;
  auto body = [&](soci::session& sql) -> Status {
    const bool has_key = !spec.dedupe_key.empty();
    if (has_key) {
      // Friendly check first; the partial unique index is the guarantee under races.
      soci::indicator ind = soci::i_null;
      std::string q =
          "SELECT id FROM jobs WHERE dedupe_key = :k AND status IN ('queued', 'running') AND ";
      q +=
          spec.tenant ? "tenant_id = " + std::to_string(spec.tenant->value()) : "tenant_id IS NULL";
      sql << q, soci::use(spec.dedupe_key, "k"), soci::into(existing, ind);
      if (sql.got_data() && ind == soci::i_ok) {
        return Status::Conflict("job " + std::to_string(existing) +
                                    " for the same work is already " + "queued or running",
                                "dedupe_key");
      }
    }
    long long tenant = spec.tenant ? spec.tenant->value() : 0;
    soci::indicator tenant_ind = spec.tenant ? soci::i_ok : soci::i_null;
    std::string key = spec.dedupe_key;
    soci::indicator key_ind = has_key ? soci::i_ok : soci::i_null;
    long long now_ll = now;
    int max_attempts = spec.max_attempts;
    const std::string insert =
        "INSERT INTO jobs (tenant_id, kind, status, dedupe_key, payload, max_attempts, created_at, "
        "updated_at) VALUES (:t, :kind, 'queued', :k, :p, :m, :now, :now2)";
    if (db_.dialect() == Dialect::kPostgres) {
      long long new_id = 0;
      sql << insert + " RETURNING id", soci::use(tenant, tenant_ind, "t"),
          soci::use(spec.kind, "kind"), soci::use(key, key_ind, "k"), soci::use(spec.payload, "p"),
          soci::use(max_attempts, "m"), soci::use(now_ll, "now"), soci::use(now_ll, "now2"),
          soci::into(new_id);
      id = new_id;
    } else {
      sql << insert, soci::use(tenant, tenant_ind, "t"), soci::use(spec.kind, "kind"),
          soci::use(key, key_ind, "k"), soci::use(spec.payload, "p"), soci::use(max_attempts, "m"),
          soci::use(now_ll, "now"), soci::use(now_ll, "now2");
      long long new_id = 0;
      sql << "SELECT last_insert_rowid()", soci::into(new_id);
      id = new_id;
    }
    return Status::Ok();
  };
  Status s = spec.tenant ? db_.WithTenantTx(*spec.tenant, body)
                         : WithSystemTx(db_, SystemPath::kJobQueue, body);
  if (s.code() == StatusCode::kAlreadyExists) {
    return Status::Conflict("a job for the same work is already queued or running", "dedupe_key");
  }
  if (!s.ok()) return s;
  return id;
}

Result<std::optional<Job>> JobQueue::Claim(std::string_view worker_view,
                                           std::span<const std::string> kinds) {
  if (worker_view.empty() || worker_view.size() > 100) {
    return Status::InvalidArgument("worker id must be 1-100 characters", "worker");
  }
  if (kinds.empty()) return std::optional<Job>();
  std::string kind_list;
  for (const auto& k : kinds) {
    if (!ValidKind(k)) return Status::InvalidArgument("bad job kind '" + k + "'", "kind");
    kind_list += (kind_list.empty() ? "'" : ", '") + k + "'";  // validated: [a-z0-9_] only
  }
  const std::string worker(worker_view);
  const bool pg = db_.dialect() == Dialect::kPostgres;
  std::optional<Job> claimed;
  Status s = WithSystemTx(db_, SystemPath::kJobQueue, [&](soci::session& sql) -> Status {
    claimed.reset();
    const long long now = clock_.Now();
    for (int guard = 0; guard < 100; ++guard) {
      long long id = 0;
      std::string status;
      int attempts = 0, max_attempts = 0;
      sql << "SELECT id, status, attempts, max_attempts FROM jobs WHERE kind IN (" + kind_list +
                 ") AND ((status = 'queued' AND run_after <= :now) OR "
                 "(status = 'running' AND lease_expires_at < :now2)) ORDER BY id LIMIT 1" +
                 (pg ? " FOR UPDATE SKIP LOCKED" : ""),
          soci::use(now, "now"), soci::use(now, "now2"), soci::into(id), soci::into(status),
          soci::into(attempts), soci::into(max_attempts);
      if (!sql.got_data()) return Status::Ok();
      if (status == "running" && attempts >= max_attempts) {
        const std::string error = nlohmann::json{
            {"code", "worker_lost"},
            {"message",
             "the worker running this job stopped (lease expired) after " +
                 std::to_string(attempts) +
                 " attempt(s)"}}.dump();
        Exec(sql,
             "UPDATE jobs SET status = 'failed', error = :e, finished_at = :now, "
             "updated_at = :now2 WHERE id = :id",
             soci::use(error, "e"), soci::use(now, "now"), soci::use(now, "now2"),
             soci::use(id, "id"));
        LogEvent(spdlog::level::warn, "job_worker_lost", {{"job", id}, {"attempts", attempts}});
        continue;
      }
      if (status == "running") {
        LogEvent(spdlog::level::warn, "job_retry_after_lost_lease",
                 {{"job", id}, {"attempts", attempts}});
      }
      const long long lease = now + options_.lease_ns;
      Exec(sql,
           "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = :w, "
           "lease_expires_at = :lease, started_at = :now, updated_at = :now2, progress = 0, "
           "stage = 'claimed' WHERE id = :id",
           soci::use(worker, "w"), soci::use(lease, "lease"), soci::use(now, "now"),
           soci::use(now, "now2"), soci::use(id, "id"));
      Job job;
      int64_t id64 = id;
      SINYAL_ASSIGN_OR_RETURN(bool found, ReadJob(sql, "WHERE id = :id", id64, &job));
      if (!found) return Status::Internal("claimed job vanished");
      claimed = std::move(job);
      return Status::Ok();
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return claimed;
}

Status JobQueue::Heartbeat(int64_t id, std::string_view worker) {
  const std::string w(worker);
  return WithSystemTx(db_, SystemPath::kJobQueue, [&](soci::session& sql) -> Status {
    const long long now = clock_.Now(), lease = now + options_.lease_ns;
    long long id_ll = id;
    if (Exec(sql,
             "UPDATE jobs SET lease_expires_at = :lease, updated_at = :now WHERE id = :id AND "
             "status = 'running' AND worker = :w",
             soci::use(lease, "lease"), soci::use(now, "now"), soci::use(id_ll, "id"),
             soci::use(w, "w")) != 1) {
      return LeaseLost(id);
    }
    return Status::Ok();
  });
}

Status JobQueue::Progress(int64_t id, std::string_view worker, double fraction,
                          std::string_view stage) {
  const std::string w(worker);
  std::string st(stage.substr(0, 200));
  double p = std::isnan(fraction) ? 0 : std::clamp(fraction, 0.0, 1.0);
  return WithSystemTx(db_, SystemPath::kJobQueue, [&](soci::session& sql) -> Status {
    const long long now = clock_.Now(), lease = now + options_.lease_ns;
    long long id_ll = id;
    if (Exec(sql,
             "UPDATE jobs SET progress = :p, stage = :s, lease_expires_at = :lease, "
             "updated_at = :now WHERE id = :id AND status = 'running' AND worker = :w",
             soci::use(p, "p"), soci::use(st, "s"), soci::use(lease, "lease"),
             soci::use(now, "now"), soci::use(id_ll, "id"), soci::use(w, "w")) != 1) {
      return LeaseLost(id);
    }
    return Status::Ok();
  });
}

Status JobQueue::Succeed(int64_t id, std::string_view worker, std::string_view result) {
  const std::string w(worker), r(result);
  return WithSystemTx(db_, SystemPath::kJobQueue, [&](soci::session& sql) -> Status {
    const long long now = clock_.Now();
    long long id_ll = id;
    if (Exec(sql,
             "UPDATE jobs SET status = 'succeeded', progress = 1, stage = 'done', result = :r, "
             "error = NULL, finished_at = :now, updated_at = :now2 WHERE id = :id AND status = "
             "'running' AND "
             "worker = :w",
             soci::use(r, "r"), soci::use(now, "now"), soci::use(now, "now2"),
             soci::use(id_ll, "id"), soci::use(w, "w")) != 1) {
      return LeaseLost(id);
    }
    return Status::Ok();
  });
}

Status JobQueue::Fail(int64_t id, std::string_view worker, std::string_view error) {
  const std::string w(worker), e(error);
  return WithSystemTx(db_, SystemPath::kJobQueue, [&](soci::session& sql) -> Status {
    const long long now = clock_.Now();
    long long id_ll = id;
    if (Exec(sql,
             "UPDATE jobs SET status = 'failed', stage = 'failed', error = :e, finished_at = :now, "
             "updated_at = :now2 WHERE id = :id AND status = 'running' AND worker = :w",
             soci::use(e, "e"), soci::use(now, "now"), soci::use(now, "now2"),
             soci::use(id_ll, "id"), soci::use(w, "w")) != 1) {
      return LeaseLost(id);
    }
    return Status::Ok();
  });
}

Result<bool> JobQueue::Retry(int64_t id, std::string_view worker, std::string_view error) {
  const std::string w(worker), e(error);
  bool retry = false;
  Status s = WithSystemTx(db_, SystemPath::kJobQueue, [&](soci::session& sql) -> Status {
    const long long now = clock_.Now();
    long long id_ll = id;
    int attempts = 0, max_attempts = 0;
    sql << "SELECT attempts, max_attempts FROM jobs WHERE id = :id AND status = 'running' AND "
           "worker = :w",
        soci::use(id_ll, "id"), soci::use(w, "w"), soci::into(attempts), soci::into(max_attempts);
    if (!sql.got_data()) return LeaseLost(id);
    retry = attempts < max_attempts;
    if (!retry) {
      Exec(sql,
           "UPDATE jobs SET status = 'failed', stage = 'failed', error = :e, finished_at = :now, "
           "updated_at = :now2 WHERE id = :id",
           soci::use(e, "e"), soci::use(now, "now"), soci::use(now, "now2"),
           soci::use(id_ll, "id"));
      return Status::Ok();
    }
    // retry_backoff_ns doubled per attempt after the first, capped (no overflow: shift <= 9).
    int64_t backoff = options_.retry_backoff_ns;
    for (int i = 1; i < attempts && backoff < options_.max_retry_backoff_ns; ++i) backoff *= 2;
    const long long run_after = now + std::min(backoff, options_.max_retry_backoff_ns);
    Exec(sql,
         "UPDATE jobs SET status = 'queued', stage = 'retry scheduled', progress = 0, error = :e, "
         "lease_expires_at = NULL, run_after = :ra, updated_at = :now WHERE id = :id",
         soci::use(e, "e"), soci::use(run_after, "ra"), soci::use(now, "now"),
         soci::use(id_ll, "id"));
    LogEvent(spdlog::level::warn, "job_retry_scheduled",
             {{"job", id}, {"attempts", attempts}, {"run_after", run_after}});
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return retry;
}

Result<Job> JobQueue::Get(std::optional<TenantId> viewer, int64_t id) {
  Job job;
  bool found = false;
  auto body = [&](soci::session& sql) -> Status {
    std::string tail = "WHERE id = :id";
    if (viewer) tail += " AND tenant_id = " + std::to_string(viewer->value());
    SINYAL_ASSIGN_OR_RETURN(found, ReadJob(sql, tail, id, &job));
    return Status::Ok();
  };
  Status s = viewer ? db_.WithTenantReadTx(*viewer, body)
                    : WithSystemReadTx(db_, SystemPath::kJobQueue, body);
  if (!s.ok()) return s;
  if (!found) return Status::NotFound("no job " + std::to_string(id), "id");
  return job;
}

// ---------------------------------------------------------------------------------------------
// JobWorker

JobWorker::JobWorker(JobQueue& queue, Options options)
    : queue_(queue), options_(std::move(options)) {}

JobWorker::~JobWorker() { Stop(); }

void JobWorker::Register(std::string kind, Handler handler) {
  kinds_.push_back(kind);
  handlers_[std::move(kind)] = std::move(handler);
}

void JobWorker::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void JobWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobWorker::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

Result<bool> JobWorker::RunOnce() { return RunOne(/*heartbeat=*/false); }

void JobWorker::Loop() {
  int64_t backoff_ns = options_.poll_interval_ns;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    auto ran = RunOne(/*heartbeat=*/true);
    if (!ran.ok()) {
      LogEvent(spdlog::level::warn, "job_claim_failed", {{"error", ran.error().ToString()}});
    }
    if (ran.ok() && *ran) continue;  // more work may be waiting
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::nanoseconds(backoff_ns), [this] { return stop_ || wake_; });
    wake_ = false;
    if (stop_) return;
  }
}

Result<bool> JobWorker::RunOne(bool heartbeat) {
  SINYAL_ASSIGN_OR_RETURN(std::optional<Job> job, queue_.Claim(options_.worker_id, kinds_));
  if (!job) return false;
  LogEvent(spdlog::level::info, "job_started",
           {{"job", job->id}, {"kind", job->kind}, {"attempt", job->attempts}});
  // Heartbeats keep the lease while the handler runs (handlers may not report progress often).
  std::mutex hb_mu;
  std::condition_variable hb_cv;
  bool hb_stop = false;
  std::thread hb;
  if (heartbeat) {
    hb = std::thread([&] {
      std::unique_lock<std::mutex> lock(hb_mu);
      while (!hb_cv.wait_for(lock, std::chrono::nanoseconds(options_.heartbeat_interval_ns),
                             [&] { return hb_stop; })) {
        lock.unlock();
        Status s = queue_.Heartbeat(job->id, options_.worker_id);
        if (!s.ok())
          LogEvent(spdlog::level::warn, "job_heartbeat_failed",
                   {{"job", job->id}, {"error", s.ToString()}});
        lock.lock();
      }
    });
  }
  const ProgressFn progress = [&](double f, std::string_view stage) {
    Status s = queue_.Progress(job->id, options_.worker_id, f, stage);
    if (!s.ok())
      LogEvent(spdlog::level::warn, "job_progress_failed",
               {{"job", job->id}, {"error", s.ToString()}});
  };
  Result<std::string> out = Status::Internal("no handler");
  auto it = handlers_.find(job->kind);
  try {
    if (it != handlers_.end()) out = it->second(*job, progress);
  } catch (const std::exception& e) {
    LogEvent(spdlog::level::err, "job_handler_threw", {{"job", job->id}, {"error", e.what()}});
    out = Status::Internal("job handler failed");
  }
  if (hb.joinable()) {
    {
      std::lock_guard<std::mutex> lock(hb_mu);
      hb_stop = true;
    }
    hb_cv.notify_all();
    hb.join();
  }
  Status done;
  if (out.ok()) {
    done = queue_.Succeed(job->id, options_.worker_id, *out);
    LogEvent(spdlog::level::info, "job_succeeded", {{"job", job->id}, {"kind", job->kind}});
  } else {
    const Status& e = out.error();
    // Server errors are logged in full; the job keeps only a generic message for them.
    const bool client = e.code() < StatusCode::kInternal;
    nlohmann::json err = {
        {"code", std::string(StatusCodeName(e.code()))},
        {"message", client ? e.message() : "internal error (see the worker log)"}};
    if (!e.field().empty()) err["field"] = e.field();
    if (e.code() == StatusCode::kUnavailable) {  // transient: retried with back-off
      auto retried = queue_.Retry(job->id, options_.worker_id, err.dump());
      done = retried.status();
      LogEvent(spdlog::level::warn,
               retried.ok() && *retried ? "job_attempt_failed_will_retry" : "job_failed",
               {{"job", job->id},
                {"kind", job->kind},
                {"attempt", job->attempts},
                {"error", e.ToString()}});
    } else {
      done = queue_.Fail(job->id, options_.worker_id, err.dump());
      LogEvent(client ? spdlog::level::info : spdlog::level::err, "job_failed",
               {{"job", job->id}, {"kind", job->kind}, {"error", e.ToString()}});
    }
  }
  jobs_run_.fetch_add(1);
  if (!done.ok()) return done;
  return true;
}

}  // namespace sinyal::store

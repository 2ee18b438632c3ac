// JobQueue: background work (model training, later backtests) queued in the database and run by
// workers, in the same process as `sinyal serve` or in `sinyal worker` processes.
//
// Lifecycle: Enqueue -> queued -> Claim -> running (with a lease) -> Succeed / Fail / Retry.
// Retry (a transient failure: JobWorker uses it for kUnavailable, a dependency that was down)
// puts the job back in the queue, claimable after a back-off that doubles per attempt, while it
// has attempts left; otherwise it fails as Fail does. A running job's lease is extended by Heartbeat and Progress; a worker that crashes stops
// extending it, and once the lease has expired the next Claim takes the job again (a retry,
// counted in `attempts`) or, when `max_attempts` is used up, marks it failed with the error
// {"code":"worker_lost"}. Calls made by a worker whose lease was lost (another worker now owns
// the job, or it was failed) return FailedPrecondition, so a slow worker can't overwrite the
// result of the retry.
//
// Claiming is safe with many workers in many processes: PostgreSQL takes the row with
// SELECT ... FOR UPDATE SKIP LOCKED; SQLite runs the claim inside BEGIN IMMEDIATE (one writer at
// a time). The queue stores payload/result/error as opaque text (JSON by convention); callers
// own their meaning.
//
// Tenancy: a job belongs to a tenant or to the platform (no tenant). Tenant reads
// (Get with a viewer) run in tenant scope and see only that tenant's jobs: another tenant's job
// id is NotFound. Claim/Heartbeat/Progress/Succeed/Fail are worker operations in system scope.
// At most one queued or running job may hold a given (owner, dedupe_key): Enqueue returns
// Conflict("dedupe_key") naming the existing job otherwise.
//
// Thread safety: JobQueue and JobWorker are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"

namespace sinyal::store {

class Database;

enum class JobStatus { kQueued, kRunning, kSucceeded, kFailed };
// "queued", "running", "succeeded", "failed".
std::string_view JobStatusName(JobStatus s);

struct JobSpec {
  std::optional<TenantId> tenant;  // nullopt: a platform job
  std::string kind;                // 1..64 chars of [a-z0-9_], e.g. "train_model"
  std::string payload;             // opaque (JSON by convention), <= 1 MiB
  std::string dedupe_key;          // empty: none. <= 200 chars.
  int max_attempts = 2;            // runs allowed (first + retries: lost leases, transient
                                   // failures). [1, 10]
};

struct Job {
  int64_t id = 0;
  std::optional<TenantId> tenant;
  std::string kind;
  JobStatus status = JobStatus::kQueued;
  std::string payload;
  double progress = 0;  // 0..1, set by the worker
  std::string stage;    // the worker's latest stage text
  std::string result;   // set on success
  std::string error;    // set on failure; while a retry waits: the failed attempt's error
  int attempts = 0;     // claims so far
  int max_attempts = 1;
  std::string worker;  // current/last worker id
  UnixNanos lease_expires_at = 0;
  UnixNanos run_after = 0;  // queued after a failed attempt: not claimed before this; 0 = at once
  UnixNanos created_at = 0, started_at = 0, finished_at = 0, updated_at = 0;  // 0 = not yet
};

struct JobQueueOptions {
  // How long a claim (or the latest heartbeat) keeps a job owned. Default: 60 s. >= 1 ms.
  int64_t lease_ns = 60 * kNanosPerSecond;
  // Back-off before a retry: retry_backoff_ns after the first attempt, doubled per further
  // attempt, at most max_retry_backoff_ns. Defaults: 5 s, 5 min.
  int64_t retry_backoff_ns = 5 * kNanosPerSecond;
  int64_t max_retry_backoff_ns = 300 * kNanosPerSecond;
};

class JobQueue {
 public:
  // REQUIRES: db and clock outlive the queue; db is migrated.
  JobQueue(Database& db, const Clock& clock, JobQueueOptions options = {});

  // Adds a queued job; returns its id. InvalidArgument naming "kind"/"payload"/"dedupe_key"/
  // "max_attempts"; Conflict("dedupe_key") when a queued/running job holds the key.
  [[nodiscard]] Result<int64_t> Enqueue(const JobSpec& spec);

  // Takes the oldest claimable job whose kind is in `kinds` (queued and past its run_after, or
  // running with an expired lease) for `worker` (1..100 chars): status running, attempts + 1, lease now + lease_ns.
  // Expired jobs without attempts left are failed ("worker_lost") on the way. nullopt when
  // there is nothing to do.
  [[nodiscard]] Result<std::optional<Job>> Claim(std::string_view worker,
                                                 std::span<const std::string> kinds);

  // Extends the lease of a job `worker` holds. FailedPrecondition("lease") when it no longer
  // holds it (expired and claimed by another worker, or finished).
  [[nodiscard]] Status Heartbeat(int64_t id, std::string_view worker);
  // Records progress (clamped to [0, 1]) and a stage text (<= 200 chars); extends the lease.
  [[nodiscard]] Status Progress(int64_t id, std::string_view worker, double fraction,
                                std::string_view stage);
  // Finishes the job: succeeded with `result`, or failed with `error`. FailedPrecondition
  // ("lease") as for Heartbeat.
  [[nodiscard]] Status Succeed(int64_t id, std::string_view worker, std::string_view result);
  [[nodiscard]] Status Fail(int64_t id, std::string_view worker, std::string_view error);
  // Ends this attempt with `error`: with attempts left the job is queued again, claimable from
  // now + the back-off (JobQueueOptions), keeping `error` as the last attempt's; otherwise it
  // is failed as Fail does. Returns whether a retry was scheduled. FailedPrecondition("lease")
  // as for Heartbeat.
  [[nodiscard]] Result<bool> Retry(int64_t id, std::string_view worker, std::string_view error);

  // One job. viewer = a tenant: only that tenant's jobs (NotFound("id") otherwise, tenant
  // scope); nullopt: any job (operators, workers; system scope).
  [[nodiscard]] Result<Job> Get(std::optional<TenantId> viewer, int64_t id);

 private:
  Database& db_;
  const Clock& clock_;
  const JobQueueOptions options_;
};

// Runs claimed jobs on one thread: claims a job of a registered kind, calls its handler with a
// progress callback, heartbeats the lease from a second thread while the handler runs, and
// records the handler's result or error. Polls every `poll_interval` when idle; Wake() makes
// it look at once (e.g. after an in-process Enqueue).
class JobWorker {
 public:
  // Progress callback for handlers: fraction 0..1 and a stage text. Never throws.
  using ProgressFn = std::function<void(double, std::string_view)>;
  // A handler returns the result text, or a Status whose message (with code and field) becomes
  // the job's error JSON: {"code":..., "message":..., "field":...}. kUnavailable (a dependency
  // was down) is retried with back-off while attempts are left (JobQueue::Retry); every other
  // error fails the job at once.
  using Handler = std::function<Result<std::string>(const Job&, const ProgressFn&)>;

  struct Options {
    std::string worker_id;                                 // unique per worker, e.g. "host:pid:1"
    int64_t poll_interval_ns = kNanosPerSecond;            // Default: 1 s.
    int64_t heartbeat_interval_ns = 10 * kNanosPerSecond;  // Default: 10 s (< lease).
  };

  // REQUIRES: queue outlives the worker.
  JobWorker(JobQueue& queue, Options options);
  ~JobWorker();  // Stop()s
  JobWorker(const JobWorker&) = delete;
  JobWorker& operator=(const JobWorker&) = delete;

  // REQUIRES: before Start().
  void Register(std::string kind, Handler handler);
  // Starts the worker thread. Idempotent.
  void Start();
  // Asks the thread to stop after the current job, and joins it. Idempotent.
  void Stop();
  void Wake();

  // Claims and runs at most one job on the caller's thread (no heartbeat thread). Returns
  // whether a job was run. For `sinyal worker --once` and tests.
  [[nodiscard]] Result<bool> RunOnce();

  int64_t jobs_run() const { return jobs_run_.load(); }

 private:
  void Loop();
  Result<bool> RunOne(bool heartbeat);

  JobQueue& queue_;
  const Options options_;
  std::map<std::string, Handler> handlers_;
  std::vector<std::string> kinds_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  bool wake_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
  std::atomic<int64_t> jobs_run_{0};
};

}  // namespace sinyal::store

// JobQueue on SQLite and PostgreSQL: lifecycle, dedupe, lease expiry and retry, lease-lost
// writes refused, tenant-scoped reads, concurrent claims from two database handles, JobWorker.
#include "store/job_queue.h"

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::store {
namespace {

constexpr UnixNanos kT0 = 1'700'000'000 * kNanosPerSecond;

using ::sinyal::store::testing::CreateTenant;

class JobQueueTest : public testing::DbTest {
 protected:
  ManualClock clock_{kT0};
  const std::vector<std::string> kinds_ = {"train_model"};
};

TEST_P(JobQueueTest, EnqueueClaimProgressSucceed) {
  TenantId a = CreateTenant(db(), "a");
  JobQueue q(db(), clock_, {.lease_ns = 30 * kNanosPerSecond});
  auto id = q.Enqueue({.tenant = a, .kind = "train_model", .payload = R"({"symbol":"EURUSD"})"});
  ASSERT_OK(id);
  auto queued = q.Get(a, *id);
  ASSERT_OK(queued);
  EXPECT_EQ(queued->status, JobStatus::kQueued);
  EXPECT_EQ(queued->attempts, 0);
  EXPECT_EQ(queued->created_at, kT0);

  // A worker for other kinds sees nothing.
  const std::vector<std::string> other = {"backtest"};
  auto none = q.Claim("w1", other);
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());

  clock_.Advance(kNanosPerSecond);
  auto job = q.Claim("w1", kinds_);
  ASSERT_OK(job);
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->id, *id);
  EXPECT_EQ((*job)->status, JobStatus::kRunning);
  EXPECT_EQ((*job)->attempts, 1);
  EXPECT_EQ((*job)->payload, R"({"symbol":"EURUSD"})");
  EXPECT_EQ((*job)->tenant, a);
  EXPECT_EQ((*job)->lease_expires_at, kT0 + 31 * kNanosPerSecond);
  // Nothing else to claim while it runs with a live lease.
  auto again = q.Claim("w2", kinds_);
  ASSERT_OK(again);
  EXPECT_FALSE(again->has_value());

  ASSERT_OK(q.Progress(*id, "w1", 0.25, "member 1/4"));
  ASSERT_OK(q.Progress(*id, "w1", 7.0, "clamped"));
  auto mid = q.Get(a, *id);
  ASSERT_OK(mid);
  EXPECT_DOUBLE_EQ(mid->progress, 1.0);
  EXPECT_EQ(mid->stage, "clamped");
  // Another worker can't report on it.
  EXPECT_EQ(q.Progress(*id, "w2", 0.5, "x").code(), StatusCode::kFailedPrecondition);

  ASSERT_OK(q.Succeed(*id, "w1", R"({"version":1})"));
  auto done = q.Get(a, *id);
  ASSERT_OK(done);
  EXPECT_EQ(done->status, JobStatus::kSucceeded);
  EXPECT_EQ(done->result, R"({"version":1})");
  EXPECT_EQ(done->finished_at, kT0 + kNanosPerSecond);
  // Finished jobs can't be finished again.
  EXPECT_EQ(q.Fail(*id, "w1", "{}").code(), StatusCode::kFailedPrecondition);
}

TEST_P(JobQueueTest, BadSpecsNameTheField) {
  JobQueue q(db(), clock_);
  EXPECT_EQ(q.Enqueue({.kind = "Train Model"}).error().field(), "kind");
  EXPECT_EQ(q.Enqueue({.kind = ""}).error().field(), "kind");
  EXPECT_EQ(q.Enqueue({.kind = "k", .payload = std::string((1 << 20) + 1, 'x')}).error().field(),
            "payload");
  EXPECT_EQ(q.Enqueue({.kind = "k", .max_attempts = 0}).error().field(), "max_attempts");
  EXPECT_EQ(q.Enqueue({.kind = "k", .dedupe_key = std::string(201, 'k')}).error().field(),
            "dedupe_key");
}

TEST_P(JobQueueTest, DedupeKeyAllowsOneActiveJobPerOwner) {
  TenantId a = CreateTenant(db(), "a"), b = CreateTenant(db(), "b");
  JobQueue q(db(), clock_);
  auto first = q.Enqueue({.tenant = a, .kind = "train_model", .dedupe_key = "EURUSD/H1"});
  ASSERT_OK(first);
  auto dup = q.Enqueue({.tenant = a, .kind = "train_model", .dedupe_key = "EURUSD/H1"});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), StatusCode::kConflict);
  EXPECT_EQ(dup.error().field(), "dedupe_key");
  // Another owner (tenant or platform) is independent.
  ASSERT_OK(q.Enqueue({.tenant = b, .kind = "train_model", .dedupe_key = "EURUSD/H1"}));
  ASSERT_OK(q.Enqueue({.kind = "train_model", .dedupe_key = "EURUSD/H1"}));
  // Once finished, the key is free again.
  auto job = q.Claim("w", kinds_);
  ASSERT_OK(job);
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->id, *first);
  ASSERT_OK(q.Fail(*first, "w", R"({"code":"x"})"));
  ASSERT_OK(q.Enqueue({.tenant = a, .kind = "train_model", .dedupe_key = "EURUSD/H1"}));
}

TEST_P(JobQueueTest, ExpiredLeaseIsRetriedThenFailedWhenAttemptsRunOut) {
  JobQueue q(db(), clock_, {.lease_ns = 10 * kNanosPerSecond});
  auto id = q.Enqueue({.kind = "train_model", .payload = "{}", .max_attempts = 2});
  ASSERT_OK(id);
  auto first = q.Claim("crashed-worker", kinds_);
  ASSERT_OK(first);
  ASSERT_TRUE(first->has_value());
  // A heartbeat keeps it; then the worker "crashes" and the lease runs out.
  clock_.Advance(8 * kNanosPerSecond);
  ASSERT_OK(q.Heartbeat(*id, "crashed-worker"));
  clock_.Advance(8 * kNanosPerSecond);
  auto not_yet = q.Claim("w2", kinds_);
  ASSERT_OK(not_yet);
  EXPECT_FALSE(not_yet->has_value()) << "lease was extended by the heartbeat";
  clock_.Advance(3 * kNanosPerSecond);
  auto retry = q.Claim("w2", kinds_);
  ASSERT_OK(retry);
  ASSERT_TRUE(retry->has_value());
  EXPECT_EQ((*retry)->id, *id);
  EXPECT_EQ((*retry)->attempts, 2);
  EXPECT_EQ((*retry)->worker, "w2");
  // The old worker comes back: its writes are refused.
  EXPECT_EQ(q.Succeed(*id, "crashed-worker", "{}").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(q.Heartbeat(*id, "crashed-worker").code(), StatusCode::kFailedPrecondition);
  // w2 dies too: no attempts left, the next claim fails the job and finds nothing else.
  clock_.Advance(11 * kNanosPerSecond);
  auto after = q.Claim("w3", kinds_);
  ASSERT_OK(after);
  EXPECT_FALSE(after->has_value());
  auto failed = q.Get(std::nullopt, *id);
  ASSERT_OK(failed);
  EXPECT_EQ(failed->status, JobStatus::kFailed);
  auto err = nlohmann::json::parse(failed->error);
  EXPECT_EQ(err["code"], "worker_lost");
}

TEST_P(JobQueueTest, TenantsSeeOnlyTheirOwnJobs) {
  TenantId a = CreateTenant(db(), "a"), b = CreateTenant(db(), "b");
  JobQueue q(db(), clock_);
  auto ja = q.Enqueue({.tenant = a, .kind = "train_model"});
  auto jp = q.Enqueue({.kind = "train_model"});
  ASSERT_OK(ja);
  ASSERT_OK(jp);
  ASSERT_OK(q.Get(a, *ja));
  auto other = q.Get(b, *ja);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(other.error().field(), "id");
  EXPECT_EQ(q.Get(a, *jp).error().code(), StatusCode::kNotFound);  // platform job
  ASSERT_OK(q.Get(std::nullopt, *jp));
  ASSERT_OK(q.Get(std::nullopt, *ja));  // operators/workers see everything
  EXPECT_EQ(q.Get(a, 999999).error().code(), StatusCode::kNotFound);
}

TEST_P(JobQueueTest, ConcurrentWorkersOnTwoHandlesClaimEachJobOnce) {
  JobQueue q1(db(), clock_);
  auto other_db = test_db().OpenAnother();
  ASSERT_OK(other_db);
  JobQueue q2(**other_db, clock_);
  constexpr int kJobs = 24;
  for (int i = 0; i < kJobs; ++i)
    ASSERT_OK(q1.Enqueue({.kind = "train_model", .payload = std::to_string(i)}));
  std::mutex mu;
  std::multiset<int64_t> seen;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      JobQueue& q = t % 2 ? q2 : q1;
      const std::string w = "w" + std::to_string(t);
      for (;;) {
        auto job = q.Claim(w, kinds_);
        if (!job.ok()) {
          ++errors;
          return;
        }
        if (!job->has_value()) return;
        if (!q.Succeed((*job)->id, w, "{}").ok()) ++errors;
        std::lock_guard<std::mutex> lock(mu);
        seen.insert((*job)->id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), static_cast<size_t>(kJobs));
  (*other_db)->Close();
}

TEST_P(JobQueueTest, WorkerRecordsResultsAndErrors) {
  TenantId a = CreateTenant(db(), "a");
  JobQueue q(db(), clock_);
  JobWorker worker(q, {.worker_id = "test-worker"});
  worker.Register("train_model",
                  [](const Job& job, const JobWorker::ProgressFn& progress) -> Result<std::string> {
                    progress(0.5, "half");
                    if (job.payload == "bad")
                      return Status::InvalidArgument("horizon must be 1..48", "horizon");
                    if (job.payload == "boom") return Status::Internal("secret internal detail");
                    return std::string(R"({"ok":true})");
                  });
  auto ok_id = q.Enqueue({.tenant = a, .kind = "train_model", .payload = "good"});
  auto bad_id = q.Enqueue({.tenant = a, .kind = "train_model", .payload = "bad"});
  auto boom_id = q.Enqueue({.tenant = a, .kind = "train_model", .payload = "boom"});
  ASSERT_OK(ok_id);
  ASSERT_OK(bad_id);
  ASSERT_OK(boom_id);
  for (int i = 0; i < 3; ++i) {
    auto ran = worker.RunOnce();
    ASSERT_OK(ran);
    EXPECT_TRUE(*ran);
  }
  auto idle = worker.RunOnce();
  ASSERT_OK(idle);
  EXPECT_FALSE(*idle);
  EXPECT_EQ(q.Get(a, *ok_id)->status, JobStatus::kSucceeded);
  EXPECT_EQ(q.Get(a, *ok_id)->result, R"({"ok":true})");
  auto bad = q.Get(a, *bad_id);
  ASSERT_OK(bad);
  EXPECT_EQ(bad->status, JobStatus::kFailed);
  auto err = nlohmann::json::parse(bad->error);
  EXPECT_EQ(err["code"], "invalid_argument");
  EXPECT_EQ(err["field"], "horizon");
  EXPECT_EQ(err["message"], "horizon must be 1..48");
  auto boom = nlohmann::json::parse(q.Get(a, *boom_id)->error);
  EXPECT_EQ(boom["code"], "internal");
  EXPECT_EQ(boom["message"].get<std::string>().find("secret"), std::string::npos);
}

// A transient failure (kUnavailable: a dependency was down) is retried after a back-off that
// doubles per attempt; every other error fails at once; the last attempt's failure is final.
TEST_P(JobQueueTest, TransientFailuresAreRetriedWithBackoffUntilAttemptsRunOut) {
  TenantId a = CreateTenant(db(), "a");
  JobQueue q(
      db(), clock_,
      {.retry_backoff_ns = 5 * kNanosPerSecond, .max_retry_backoff_ns = 8 * kNanosPerSecond});
  JobWorker worker(q, {.worker_id = "w1"});
  int runs = 0;
  worker.Register("train_model",
                  [&](const Job& job, const JobWorker::ProgressFn&) -> Result<std::string> {
                    ++runs;
                    if (job.payload == "flaky" && job.attempts < 3)
                      return Status::Unavailable("database unavailable");
                    if (job.payload == "down") return Status::Unavailable("database unavailable");
                    if (job.payload == "bad")
                      return Status::InvalidArgument("no such symbol", "symbol");
                    return std::string(R"({"ok":true})");
                  });
  auto flaky =
      q.Enqueue({.tenant = a, .kind = "train_model", .payload = "flaky", .max_attempts = 3});
  auto bad = q.Enqueue({.tenant = a, .kind = "train_model", .payload = "bad", .max_attempts = 3});
  ASSERT_OK(flaky);
  ASSERT_OK(bad);

  // Attempt 1 fails transiently: queued again, not claimable for 5 s, the error kept.
  ASSERT_TRUE(*worker.RunOnce());
  Job j = *q.Get(a, *flaky);
  EXPECT_EQ(j.status, JobStatus::kQueued);
  EXPECT_EQ(j.attempts, 1);
  EXPECT_EQ(j.run_after, kT0 + 5 * kNanosPerSecond);
  EXPECT_EQ(j.stage, "retry scheduled");
  EXPECT_EQ(nlohmann::json::parse(j.error)["code"], "unavailable");
  // The permanent error is not retried, though attempts are left.
  ASSERT_TRUE(*worker.RunOnce());
  EXPECT_EQ(q.Get(a, *bad)->status, JobStatus::kFailed);
  EXPECT_EQ(q.Get(a, *bad)->attempts, 1);
  EXPECT_FALSE(*worker.RunOnce()) << "the retry waits for its back-off";
  clock_.Advance(5 * kNanosPerSecond - 1);
  EXPECT_FALSE(*worker.RunOnce());

  // Attempt 2 fails too: the back-off doubles (10 s), capped at 8 s.
  clock_.Advance(1);
  ASSERT_TRUE(*worker.RunOnce());
  j = *q.Get(a, *flaky);
  EXPECT_EQ(j.status, JobStatus::kQueued);
  EXPECT_EQ(j.attempts, 2);
  EXPECT_EQ(j.run_after, clock_.Now() + 8 * kNanosPerSecond);
  clock_.Advance(8 * kNanosPerSecond);
  // Attempt 3 succeeds: the earlier attempts' error is cleared.
  ASSERT_TRUE(*worker.RunOnce());
  j = *q.Get(a, *flaky);
  EXPECT_EQ(j.status, JobStatus::kSucceeded);
  EXPECT_EQ(j.attempts, 3);
  EXPECT_TRUE(j.error.empty()) << j.error;
  EXPECT_EQ(runs, 4);

  // A dependency that stays down: the failure of the last attempt is final.
  auto down = q.Enqueue({.tenant = a, .kind = "train_model", .payload = "down", .max_attempts = 2});
  ASSERT_OK(down);
  ASSERT_TRUE(*worker.RunOnce());
  EXPECT_EQ(q.Get(a, *down)->status, JobStatus::kQueued);
  clock_.Advance(5 * kNanosPerSecond);
  ASSERT_TRUE(*worker.RunOnce());
  j = *q.Get(a, *down);
  EXPECT_EQ(j.status, JobStatus::kFailed);
  EXPECT_EQ(j.attempts, 2);
  EXPECT_EQ(nlohmann::json::parse(j.error)["code"], "unavailable");
  EXPECT_NE(j.finished_at, 0);
  // A worker that lost its lease can't schedule a retry over another worker's claim.
  EXPECT_EQ(q.Retry(*down, "w1", "{}").status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(JobQueueTest, BackgroundWorkerRunsJobsAndStops) {
  JobQueue q(db(), SystemClock::Instance());
  JobWorker worker(
      q, {.worker_id = "bg", .poll_interval_ns = 20'000'000, .heartbeat_interval_ns = 5'000'000});
  worker.Register("train_model",
                  [](const Job&, const JobWorker::ProgressFn&) -> Result<std::string> {
                    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // a few heartbeats
                    return std::string("{}");
                  });
  worker.Start();
  auto id = q.Enqueue({.kind = "train_model"});
  ASSERT_OK(id);
  worker.Wake();
  Result<Job> job = Status::Internal("not polled");
  for (int i = 0; i < 500; ++i) {
    job = q.Get(std::nullopt, *id);
    if (job.ok() && job->status == JobStatus::kSucceeded) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_OK(job);
  EXPECT_EQ(job->status, JobStatus::kSucceeded);
  worker.Stop();
  EXPECT_EQ(worker.jobs_run(), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, JobQueueTest, SINYAL_DB_BACKENDS, testing::BackendName);

}  // namespace
}  // namespace sinyal::store

// Forward declarations of store's classes (and soci's session and statement), for headers that
// only name them.
#pragma once

namespace soci {
class session;
class statement;
}  // namespace soci
namespace sinyal::store {
class BarStore;
class Database;
class FeatureSetStore;
class JobQueue;
class JobWorker;
class LiveFeed;
}  // namespace sinyal::store

// Forward declarations of billing's classes, for headers that only name them.
#pragma once

namespace sinyal::billing {
class Analytics;
class Invoices;
class Meter;
class MeteredCall;
class MeteredCalls;
class PlanStore;
class SubscriptionService;
class Subscriptions;
}  // namespace sinyal::billing

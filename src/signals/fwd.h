// Forward declarations of signals' classes, for headers that only name them.
#pragma once

namespace sinyal::signals {
class DbAuditLog;
class DbSignalLog;
class RetrainingService;
class Signal;
class SignalService;
}  // namespace sinyal::signals

// Forward declarations of models' service classes, for headers that only name them.
#pragma once

namespace sinyal::models {
class DbModelRegistry;
class FeatureService;
class ModelService;
}  // namespace sinyal::models

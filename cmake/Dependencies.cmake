# Every third-party dependency is found here, once. Package names and gotchas:
# ../shared/notes/stack-check.md. Each find is guarded so that a module can be built
# alone on a machine that lacks another module's dependency only when the module is absent.
find_package(Threads REQUIRED)
find_package(fmt 9 CONFIG REQUIRED)            # before restinio: its config does not find fmt
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)

if(SINYAL_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(SINYAL_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()

# models/: XGBoost C API (libxgboost-dev). find_package(xgboost CONFIG) also needs the `xgboost`
# CLI package, whose binary the exported targets reference (stack-check.md section 5).
find_package(xgboost CONFIG REQUIRED)
if(NOT OpenSSL_FOUND)
  find_package(OpenSSL REQUIRED)  # models/: SHA-256 content hashes of saved models
endif()

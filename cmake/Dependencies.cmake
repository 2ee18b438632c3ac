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

# store/: SOCI 4.0.3 has no CMake config and no .pc: find the libraries by hand. Its PostgreSQL
# backend header includes <libpq-fe.h>, hence PostgreSQL::PostgreSQL (stack-check.md section 2).
if(NOT TARGET soci::core)
  find_path(SOCI_INCLUDE_DIR soci/soci.h REQUIRED)
  find_library(SOCI_CORE_LIBRARY soci_core REQUIRED)
  find_library(SOCI_SQLITE3_LIBRARY soci_sqlite3 REQUIRED)
  find_library(SOCI_POSTGRESQL_LIBRARY soci_postgresql REQUIRED)
  find_package(PostgreSQL REQUIRED)
  find_package(SQLite3 REQUIRED)
  add_library(soci::core UNKNOWN IMPORTED)
  set_target_properties(soci::core PROPERTIES IMPORTED_LOCATION ${SOCI_CORE_LIBRARY}
                        INTERFACE_INCLUDE_DIRECTORIES ${SOCI_INCLUDE_DIR})
  add_library(soci::sqlite3 UNKNOWN IMPORTED)
  set_target_properties(soci::sqlite3 PROPERTIES IMPORTED_LOCATION ${SOCI_SQLITE3_LIBRARY}
                        INTERFACE_LINK_LIBRARIES "soci::core;SQLite::SQLite3")
  add_library(soci::postgresql UNKNOWN IMPORTED)
  set_target_properties(soci::postgresql PROPERTIES IMPORTED_LOCATION ${SOCI_POSTGRESQL_LIBRARY}
                        INTERFACE_LINK_LIBRARIES "soci::core;PostgreSQL::PostgreSQL")
endif()
# accounts/: libsodium (argon2id, random bytes, base64url); OpenSSL (HMAC-SHA256, SHA-256).
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
if(NOT OpenSSL_FOUND)
  find_package(OpenSSL REQUIRED)
endif()

# http/: RESTinio (header-only; needs standalone asio from libasio-dev, and fmt found first).
find_package(restinio CONFIG REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)  # RESTinio router regex engine

# app/: command line and config file.
find_package(CLI11 CONFIG REQUIRED)
find_package(tomlplusplus CONFIG REQUIRED)

# app/: `sinyal replay` posts ticks over HTTP with libcurl.
find_package(CURL REQUIRED)

# signals/: Boost.Math (header-only; libboost-math1.74-dev) for chi-squared, Student t and normal
# distribution functions behind the Kruskal-Wallis, paired and Fisher-z tests.
find_package(Boost 1.74 REQUIRED)

# billing/ rate limiter: hiredis 0.14.1 (libhiredis-dev). Its CMake config defines no imported
# target and errors without a version (stack-check.md section 3): use pkg-config.
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)

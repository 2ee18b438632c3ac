# sinyal_module(NAME SOURCES a.cc b.cc DEPS sinyal_core ... [PRIVATE_DEPS ...])
#   Declares the static library sinyal_<NAME> from the listed sources. Headers are included as
#   "<module>/<file>.h" from src/.
function(sinyal_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(sinyal_${name} STATIC ${ARG_SOURCES})
  target_include_directories(sinyal_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(sinyal_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# sinyal_test(NAME SOURCES x_test.cc ... DEPS sinyal_x ...)
#   A GoogleTest executable registered with ctest through gtest_discover_tests.
#   Tests get SINYAL_SOURCE_DIR (the repo root) as a compile definition for fixtures.
function(sinyal_test name)
  if(NOT SINYAL_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} sinyal_testing GTest::gtest GTest::gmock)
  target_compile_definitions(${name} PRIVATE SINYAL_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${ARG_LABELS}")
endfunction()

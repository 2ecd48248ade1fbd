# Every tests/test_<suite>.cpp holds TEST_SUITE("<suite>") and becomes one ctest entry.
# Suites named fixture_* read ../shared and are reported as skipped when it is absent.
file(GLOB _suite_files CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/test_*.cpp)
set(HEADSCOPE_TEST_SUITES)
foreach(f ${_suite_files})
  get_filename_component(n ${f} NAME_WE)
  string(REGEX REPLACE "^test_" "" n ${n})
  list(APPEND HEADSCOPE_TEST_SUITES ${n})
endforeach()

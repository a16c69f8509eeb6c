# Unit tests of the configuration loader; include()d from tests/unit/CMakeLists.txt.
add_executable(natter_config_tests ${CMAKE_CURRENT_LIST_DIR}/config_test.cpp)
target_link_libraries(natter_config_tests PRIVATE natter::config GTest::gtest_main)
# The shipped example configuration must parse, and the reference must name only known keys.
cmake_path(SET natter_example_conf NORMALIZE "${CMAKE_CURRENT_LIST_DIR}/../../packaging/natter.conf")
cmake_path(SET natter_config_doc NORMALIZE "${CMAKE_CURRENT_LIST_DIR}/../../docs/configuration.md")
target_compile_definitions(natter_config_tests PRIVATE
  NATTER_EXAMPLE_CONF="${natter_example_conf}"
  NATTER_CONFIG_DOC="${natter_config_doc}")
if(COMMAND natter_warnings)
  natter_warnings(natter_config_tests)
endif()
gtest_discover_tests(natter_config_tests DISCOVERY_TIMEOUT 60)

# Unit tests of the client library (URL parsing, packet ids, backoff, the sans-I/O
# session's QoS logic) and of natter-pub/-sub's option parsing and -F rendering.
# include()d from tests/unit/CMakeLists.txt.
add_executable(natter_client_tests ${CMAKE_CURRENT_LIST_DIR}/client_test.cpp)
target_link_libraries(natter_client_tests PRIVATE natter::client natter_cli_common GTest::gtest_main)
if(COMMAND natter_warnings)
  natter_warnings(natter_client_tests)
endif()
gtest_discover_tests(natter_client_tests DISCOVERY_TIMEOUT 60)

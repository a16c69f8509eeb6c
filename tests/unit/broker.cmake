# The broker core without sockets.
add_executable(natter_broker_tests broker_test.cpp)
target_link_libraries(natter_broker_tests PRIVATE natter::broker GTest::gtest_main)
natter_warnings(natter_broker_tests)
gtest_discover_tests(natter_broker_tests DISCOVERY_TIMEOUT 60)

add_executable(natter_broker_store_tests broker_store_test.cpp)
target_link_libraries(natter_broker_store_tests PRIVATE natter::broker GTest::gtest_main)
natter_warnings(natter_broker_store_tests)
gtest_discover_tests(natter_broker_store_tests DISCOVERY_TIMEOUT 60)

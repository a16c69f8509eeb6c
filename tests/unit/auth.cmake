# Unit tests for server/auth (password files, ACL files). include()d from tests/unit/CMakeLists.txt.
# Some tests run the real /usr/bin/mosquitto_passwd (Debian package mosquitto) and skip without it.
add_executable(natter_auth_tests ${CMAKE_CURRENT_LIST_DIR}/auth_test.cpp)
target_link_libraries(natter_auth_tests PRIVATE natter::auth GTest::gtest_main)
natter_warnings(natter_auth_tests)
gtest_discover_tests(natter_auth_tests DISCOVERY_TIMEOUT 60)

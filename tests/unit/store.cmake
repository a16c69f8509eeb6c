# Unit tests of server/store (sqlite_store against real SQLite files in a temporary directory).
# include()d from tests/unit/CMakeLists.txt.
find_package(SQLite3 REQUIRED)
add_executable(natter_store_tests ${CMAKE_CURRENT_LIST_DIR}/store_test.cpp)
# The tests also open the file directly (a second reader, a competing writer, corruption).
target_link_libraries(natter_store_tests PRIVATE natter::store SQLite::SQLite3 GTest::gtest_main)
if(COMMAND natter_warnings)
  natter_warnings(natter_store_tests)
endif()
gtest_discover_tests(natter_store_tests DISCOVERY_TIMEOUT 60)

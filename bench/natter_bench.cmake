# natter-bench: the load generator of issue #10 (bench/README.md). include()d by the
# top-level CMakeLists.txt, so it is built (and kept compiling by CI) with everything else;
# the test suite runs it only briefly (tests/integration/17_bench_smoke.py).
find_package(CLI11 REQUIRED)
add_executable(natter-bench
  ${CMAKE_CURRENT_LIST_DIR}/natter_bench/main.cpp
  ${CMAKE_CURRENT_LIST_DIR}/natter_bench/chat.cpp
  ${CMAKE_CURRENT_LIST_DIR}/natter_bench/connection.cpp
  ${CMAKE_CURRENT_LIST_DIR}/natter_bench/connections.cpp
  ${CMAKE_CURRENT_LIST_DIR}/natter_bench/flow.cpp
  ${CMAKE_CURRENT_LIST_DIR}/natter_bench/report.cpp
  ${CMAKE_CURRENT_LIST_DIR}/natter_bench/runner.cpp
  ${CMAKE_CURRENT_LIST_DIR}/natter_bench/stored.cpp
  ${CMAKE_CURRENT_LIST_DIR}/natter_bench/wire.cpp
)
target_link_libraries(natter-bench PRIVATE natter_cli_common natter::client natter::mqtt natter::chat_proto
                                           CLI11::CLI11 Threads::Threads)
natter_warnings(natter-bench)

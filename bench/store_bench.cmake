# natter_store_bench: durable-write throughput of the SQLite store under each sync policy.
# include()d by the build; run: natter_store_bench --dir <a directory on the disk to measure>
add_executable(natter_store_bench ${CMAKE_CURRENT_LIST_DIR}/store_bench.cpp)
target_link_libraries(natter_store_bench PRIVATE natter::store Threads::Threads)
if(COMMAND natter_warnings)
  natter_warnings(natter_store_bench)
endif()

# natter-pub / natter-sub against natter-server and Debian's mosquitto (08_natter_pubsub.py).
# include()d from tests/integration/CMakeLists.txt. Registration is deferred to the end of
# the top-level directory, like the broker suite's, so that the natter-pub, natter-sub and
# natter-server targets exist wherever they are defined. Needs Debian's /usr/bin/python3
# (python3-paho-mqtt); the mosquitto parts need the packages mosquitto, mosquitto-clients
# and the openssl CLI, and skip without them.
if(NOT DEFINED NATTER_PYTHON)
  set(NATTER_PYTHON /usr/bin/python3)
endif()
# Without a natter-server target in the build (a partial build), point to a binary.
set(NATTER_SERVER_BINARY "" CACHE FILEPATH "natter-server for 08_natter_pubsub when not built here")

function(natter_register_client_tests)
  if(NOT TARGET natter-pub OR NOT TARGET natter-sub)
    return()
  endif()
  set(dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  set(env "NATTER_PUB=$<TARGET_FILE:natter-pub>;NATTER_SUB=$<TARGET_FILE:natter-sub>;PYTHONDONTWRITEBYTECODE=1")
  if(TARGET natter-server)
    string(APPEND env ";NATTER_SERVER=$<TARGET_FILE:natter-server>")
  elseif(NATTER_SERVER_BINARY)
    string(APPEND env ";NATTER_SERVER=${NATTER_SERVER_BINARY}")
  endif()
  add_test(NAME integration.08_natter_pubsub
           COMMAND ${NATTER_PYTHON} -m unittest -v 08_natter_pubsub
           WORKING_DIRECTORY ${dir})
  set_tests_properties(integration.08_natter_pubsub PROPERTIES ENVIRONMENT "${env}"
                       TIMEOUT 300 LABELS integration)
endfunction()

if(NOT NATTER_NO_INTEGRATION)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL natter_register_client_tests)
endif()

# natter-passwd against the real mosquitto broker and mosquitto_passwd (10_passwd.py). include()d
# from tests/integration/CMakeLists.txt once the natter-passwd target exists. Needs Debian's
# /usr/bin/python3; the broker part needs the packages mosquitto and mosquitto-clients and skips
# without them, the side-by-side comparison needs mosquitto_passwd.
if(NOT DEFINED NATTER_PYTHON)
  set(NATTER_PYTHON /usr/bin/python3)
endif()
add_test(NAME integration.10_passwd
         COMMAND ${NATTER_PYTHON} -m unittest -v 10_passwd
         WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(integration.10_passwd PROPERTIES
  ENVIRONMENT "NATTER_PASSWD=$<TARGET_FILE:natter-passwd>;PYTHONDONTWRITEBYTECODE=1"
  TIMEOUT 300 LABELS integration)

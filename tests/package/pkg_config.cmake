# Builds and runs the consumer with nothing but pkg-config's flags for the installed marl_rec.
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${PREFIX}/share/pkgconfig")
execute_process(COMMAND "${PKG_CONFIG}" --cflags marl_rec
  RESULT_VARIABLE result OUTPUT_VARIABLE cflags ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags marl_rec failed: ${err}")
endif()
separate_arguments(cflags UNIX_COMMAND "${cflags}")
file(MAKE_DIRECTORY "${BINARY_DIR}")
execute_process(
  COMMAND "${CXX_COMPILER}" -std=c++20 ${cflags} "${SOURCE}" -o "${BINARY_DIR}/consumer"
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "compiling with pkg-config's flags (${cflags}) failed:\n${out}${err}")
endif()
execute_process(COMMAND "${BINARY_DIR}/consumer" RESULT_VARIABLE result OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the pkg-config consumer failed")
endif()

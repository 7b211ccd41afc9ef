# Configures the consumer asking for a marl_rec major version that is not installed; passes only
# when configuration fails for exactly that reason.
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
          "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${PREFIX}"
          "-DMARL_REC_REQUESTED_VERSION=${REQUESTED_VERSION}"
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(result EQUAL 0)
  message(FATAL_ERROR "asking for marl_rec ${REQUESTED_VERSION} configured, but must fail")
endif()
if(NOT "${out}${err}" MATCHES "compatible with requested version \"${REQUESTED_VERSION}\"")
  message(FATAL_ERROR "configuration failed for another reason than the version:\n${out}${err}")
endif()
message(STATUS "marl_rec ${REQUESTED_VERSION} was refused, as it should be")

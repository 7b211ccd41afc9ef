# marl_rec_eval ope on a real Open Bandit log: train on the first 70% by time, evaluate the last
# 30%. The uniform policy's IPS must equal the evaluated rows' click rate exactly (every weight is
# 1); every learned policy must produce IPS, SNIPS, DM and DR figures.
#   cmake -DEVAL=<marl_rec_eval> -DLOG=<campaign.csv> -DITEMS=<item_context.csv> -P this
function(ope)
  execute_process(COMMAND "${EVAL}" ope --log "${LOG}" --item-context "${ITEMS}" --train-fraction 0.7
                          --bootstrap 200 ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ope ${ARGN} failed (${rc}):\n${out}${err}")
  endif()
  foreach(estimator IPS SNIPS DM DR)
    if(NOT out MATCHES "\n${estimator} +-?[0-9]+\\.[0-9]+")
      message(FATAL_ERROR "ope ${ARGN}: no ${estimator} line:\n${out}")
    endif()
  endforeach()
  message(STATUS "ope ${ARGN}:\n${out}")
  set(out "${out}" PARENT_SCOPE)
endfunction()

ope(--policy uniform)
string(REGEX MATCH "empirical click rate +([0-9.]+)" _ "${out}")
set(rate "${CMAKE_MATCH_1}")
string(REGEX MATCH "\nIPS +([0-9.]+)" _ "${out}")
if(NOT rate OR NOT CMAKE_MATCH_1 STREQUAL rate)
  message(FATAL_ERROR "uniform IPS '${CMAKE_MATCH_1}' differs from the click rate '${rate}'")
endif()
if(NOT out MATCHES "trained on the first 7000 rows by time; evaluated on the last 3000")
  message(FATAL_ERROR "the 70/30 split by time is not what was reported:\n${out}")
endif()
ope(--policy linucb)
ope(--policy linthompson)
ope(--policy linear --explore epsilon)
ope(--policy mlp --explore softmax)
ope(--policy linucb --param alpha=0.3 --param mode=disjoint --param features=context)
# A parameter the policy does not have is refused, not ignored.
execute_process(COMMAND "${EVAL}" ope --log "${LOG}" --item-context "${ITEMS}" --train-fraction 0.7
                        --policy mlp --explore greedy --param depth=3
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "--policy mlp has no parameter 'depth'")
  message(FATAL_ERROR "an unknown policy parameter was not refused: ${err}")
endif()

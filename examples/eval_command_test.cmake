# End-to-end run of marl_rec_eval: split → recommend → score, checking each step's output.
#   cmake -DEVAL=<marl_rec_eval> -DINPUT=<interactions.csv> -DWORK=<dir> [-DK=10] -P this
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

if(NOT K)
  set(K 10)
endif()
file(MAKE_DIRECTORY "${WORK}")
run("${EVAL}" split --input "${INPUT}" --method random --test-fraction 0.2 --seed 42
    --train-out "${WORK}/train.csv" --test-out "${WORK}/test.csv")
if(NOT err MATCHES "0 skipped")
  message(FATAL_ERROR "the split's reader skipped rows:\n${err}")
endif()
run("${EVAL}" recommend --train "${WORK}/train.csv" --test "${WORK}/test.csv" --model mostpop
    --k ${K} --out "${WORK}/recs.csv")
file(STRINGS "${WORK}/recs.csv" recs LIMIT_COUNT 2)
list(GET recs 0 header)
if(NOT header STREQUAL "user_id,item_id,rank")
  message(FATAL_ERROR "recommendations header is '${header}'")
endif()
run("${EVAL}" score --recs "${WORK}/recs.csv" --test "${WORK}/test.csv" --train "${WORK}/train.csv"
    --k ${K})
message(STATUS "${out}")
if(NOT out MATCHES "ndcg@${K} +[0-9.]+" OR NOT out MATCHES "users evaluated: [1-9]")
  message(FATAL_ERROR "no metric table:\n${out}")
endif()
if(err MATCHES "WARNING")
  message(FATAL_ERROR "recommendations include training items:\n${err}")
endif()
# Misuse is refused with a clear message, not ignored.
execute_process(COMMAND "${EVAL}" recommend --train "${WORK}/train.csv" --model mostpop
                --out "${WORK}/x.csv" --test "${WORK}/test.csv" --kk 3
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "unknown option --kk")
  message(FATAL_ERROR "a misspelt option was not refused: ${err}")
endif()

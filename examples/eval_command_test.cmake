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
if(NOT METHOD)
  set(METHOD random)
endif()
file(MAKE_DIRECTORY "${WORK}")
run("${EVAL}" split --input "${INPUT}" --method ${METHOD} --test-fraction 0.2 --seed 42
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
# The written split reads back: split the train part again.
run("${EVAL}" split --input "${WORK}/train.csv" --method ${METHOD} --test-fraction 0.2 --seed 1
    --train-out "${WORK}/train2.csv" --test-out "${WORK}/test2.csv")

# Misuse is refused with a clear message, not ignored.
function(refused expected)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "${expected}")
    message(FATAL_ERROR "expected a refusal matching '${expected}', got (${rc}): ${err}")
  endif()
endfunction()
refused("--k expects a whole number" "${EVAL}" recommend --train "${WORK}/train.csv" --model mostpop
        --out "${WORK}/x.csv" --test "${WORK}/test.csv" --k 0)
refused("--seed expects a whole number" "${EVAL}" split --input "${INPUT}" --seed -1
        --train-out "${WORK}/a.csv" --test-out "${WORK}/b.csv")
refused("must all be different" "${EVAL}" split --input "${INPUT}"
        --train-out "${WORK}/a.csv" --test-out "${WORK}/a.csv")
file(READ "${WORK}/recs.csv" recs_text)
string(REGEX REPLACE ",1\n" ",999\n" gapped "${recs_text}")
file(WRITE "${WORK}/gapped.csv" "${gapped}")
refused("ranks must be 1, 2" "${EVAL}" score --recs "${WORK}/gapped.csv" --test "${WORK}/test.csv"
        --train "${WORK}/train.csv")
file(WRITE "${WORK}/unknown.csv" "user_id,item_id,rank\nsomeone,no-such-item,1\n")
refused("is in none of the train, test" "${EVAL}" score --recs "${WORK}/unknown.csv"
        --test "${WORK}/test.csv" --train "${WORK}/train.csv")
execute_process(COMMAND "${EVAL}" recommend --train "${WORK}/train.csv" --model mostpop
                --out "${WORK}/x.csv" --test "${WORK}/test.csv" --kk 3
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "unknown option --kk")
  message(FATAL_ERROR "a misspelt option was not refused: ${err}")
endif()

# --tune yes: the grid is tried on a validation part of the train file, the best is refitted.
run("${EVAL}" recommend --train "${WORK}/train.csv" --test "${WORK}/test.csv" --model item2vec
    --tune yes --tune-fraction 0.25 --param epochs=2 --param dim=8 --out "${WORK}/tuned.csv")
if(NOT err MATCHES "tune: 4 settings of item2vec" OR NOT err MATCHES "tune: best [^\n]*dim=8[^\n]*epochs=2")
  message(FATAL_ERROR "--tune did not report its grid and choice:\n${err}")
endif()
# --tune-split leave-last-out: validation on each user's last training row in time.
run("${EVAL}" recommend --train "${WORK}/train.csv" --test "${WORK}/test.csv" --model item2vec
    --tune yes --tune-split leave-last-out --param epochs=2 --param dim=8 --out "${WORK}/tuned_last.csv")
if(NOT err MATCHES "tune: 4 settings of item2vec, validation = each user's last training row in time")
  message(FATAL_ERROR "--tune-split leave-last-out did not say how it validates:\n${err}")
endif()
refused("--tune-fraction and --tune-seed set the random validation split" "${EVAL}" recommend
        --train "${WORK}/train.csv" --model item2vec --out "${WORK}/x.csv" --test "${WORK}/test.csv"
        --tune yes --tune-split leave-last-out --tune-seed 3)
refused("model mostpop has no parameters to tune" "${EVAL}" recommend --train "${WORK}/train.csv"
        --model mostpop --out "${WORK}/x.csv" --test "${WORK}/test.csv" --tune yes)
refused("--tune expects no\\|yes, got 'maybe'" "${EVAL}" recommend --train "${WORK}/train.csv"
        --model mostpop --out "${WORK}/x.csv" --test "${WORK}/test.csv" --tune maybe)

# The restart test: an uninterrupted run of the restart driver, then a run killed mid-way (one
# rank SIGKILLs itself between two checkpoints), then a run resumed from the checkpoints; the
# resumed run must say where it resumed and end with exactly the uninterrupted run's output
# (global parameters, counts, ε, and a digest of every agent's whole state).
#   cmake -DLAUNCH="mpiexec|-n|2|..." -DPOSTFLAGS= -DDRIVER=... -DRANKS=2 -DWORK=dir [-DEXTRA=--noise-before] -P restart_test.cmake
string(REPLACE "|" ";" launch "${LAUNCH}")
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
# 60 steps, a round every 4, a checkpoint every 2 rounds (steps 8, 16, ..., 56); the crash at
# step 37 (after round 9, before round 10's checkpoint) loses the steps since 32.
# EXTRA: more driver arguments (|-separated), e.g. --noise-before.
string(REPLACE "|" ";" extra "${EXTRA}")
set(common --steps 60 --every 4 --checkpoint-rounds 2 --private ${extra})
math(EXPR crash_rank "${RANKS} - 1")

function(run name expect_success)
  execute_process(COMMAND ${launch} "${DRIVER}" ${POSTFLAGS} ${ARGN}
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${name}: exit ${status}\n${out}")
  if(expect_success AND NOT status EQUAL 0)
    message(FATAL_ERROR "${name} failed (exit ${status}):\n${out}\n${err}")
  elseif(NOT expect_success AND status EQUAL 0)
    message(FATAL_ERROR "${name} should have died (a rank killed itself) but exited 0:\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

run("uninterrupted" TRUE --dir "${WORK}/a" --out "${WORK}/a.txt" ${common})
if(NOT run_output MATCHES "fresh start")
  message(FATAL_ERROR "the uninterrupted run did not start fresh:\n${run_output}")
endif()
run("killed at step 37" FALSE --dir "${WORK}/b" --out "${WORK}/b.txt" ${common}
    --crash-at-step 37 --crash-rank ${crash_rank})
if(EXISTS "${WORK}/b.txt")
  message(FATAL_ERROR "the killed run wrote its final output")
endif()
run("resumed" TRUE --dir "${WORK}/b" --out "${WORK}/b.txt" ${common} --resume)
if(NOT run_output MATCHES "resumed from round 8 \\(update 32\\)")
  message(FATAL_ERROR "the resumed run did not resume from round 8 (the last checkpoint before the crash):\n${run_output}")
endif()
file(READ "${WORK}/a.txt" uninterrupted)
file(READ "${WORK}/b.txt" resumed)
if(NOT uninterrupted STREQUAL resumed)
  message(FATAL_ERROR "the resumed run ended elsewhere than the uninterrupted one:\n--- uninterrupted\n${uninterrupted}\n--- resumed\n${resumed}")
endif()
string(LENGTH "${uninterrupted}" length)
message(STATUS "the resumed run ends exactly as the uninterrupted one (${length} bytes of output)")

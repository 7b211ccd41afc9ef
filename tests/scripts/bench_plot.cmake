# Runs scripts/bench_plot.py on tests/data/bench/sample.json (a real Google Benchmark output,
# trimmed: 2 repetitions with their mean and median) and checks what it writes.
#   cmake -DPYTHON=... -DSCRIPT=... -DSAMPLE=... -DOUT_DIR=... -DCASE=plots|bad_pattern -P bench_plot.cmake
# CASE plots: a line plot and a ratio bar chart are written and name the expected series.
# CASE bad_pattern: an invalid regular expression and a pattern that selects nothing both fail
# with exit status 1, a one-line message and no SVG (not a Python traceback).
file(MAKE_DIRECTORY "${OUT_DIR}")

function(run_plot out_var)
  execute_process(COMMAND "${PYTHON}" "${SCRIPT}" ${ARGN}
    RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${out_var}_result "${result}" PARENT_SCOPE)
  set(${out_var}_stdout "${out}" PARENT_SCOPE)
  set(${out_var}_stderr "${err}" PARENT_SCOPE)
endfunction()

# Fails unless `svg` is a whole SVG document whose <text> elements include every name given.
function(expect_svg svg)
  if(NOT EXISTS "${svg}")
    message(FATAL_ERROR "${svg} was not written")
  endif()
  file(READ "${svg}" content)
  if(NOT content MATCHES "^<svg xmlns=\"http://www.w3.org/2000/svg\"" OR
     NOT content MATCHES "</svg>\n$")
    message(FATAL_ERROR "${svg} is not a whole SVG document:\n${content}")
  endif()
  foreach(name IN LISTS ARGN)
    string(FIND "${content}" ">${name}</text>" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${svg} has no text \"${name}\"")
    endif()
  endforeach()
endfunction()

if(CASE STREQUAL "plots")
  # Line: TD update throughput against n, from the aggregates (median).
  set(svg "${OUT_DIR}/td.svg")
  file(REMOVE "${svg}")
  run_plot(line line "${SAMPLE}" --filter "^TdUpdate" --metric items_per_second
           --arg-names n --log-x -o "${svg}")
  if(NOT line_result EQUAL 0)
    message(FATAL_ERROR "line plot failed (${line_result}):\n${line_stderr}")
  endif()
  expect_svg("${svg}" TdUpdate TdUpdateReference "65,536" "items_per_second (G items/s)")

  # Bar: ratios to the baseline with the same arguments, the minimum computed from repetitions.
  set(svg "${OUT_DIR}/top_k.svg")
  file(REMOVE "${svg}")
  run_plot(bar bar "${SAMPLE}" --filter "/100000/64/" --baseline "^NaiveEigen/"
           --metric bytes_per_second --aggregate min --arg-names N,d
           --label "FusedTopK=fused score + top-k" -o "${svg}")
  if(NOT bar_result EQUAL 0)
    message(FATAL_ERROR "bar chart failed (${bar_result}):\n${bar_stderr}")
  endif()
  expect_svg("${svg}" StreamRead "fused score + top-k" "NaiveEigen = 1" "N=100k, d=64")
  # The values plotted are printed too; the baseline is not a bar of its own.
  if(NOT bar_stdout MATCHES "fused score \\+ top-k +N=100k, d=64 +[0-9.]+\n" OR
     bar_stdout MATCHES "NaiveEigen +N=")
    message(FATAL_ERROR "unexpected table:\n${bar_stdout}")
  endif()
elseif(CASE STREQUAL "bad_pattern")
  foreach(pattern "^Td(Update" "^NoSuchBenchmark")
    set(svg "${OUT_DIR}/bad.svg")
    file(REMOVE "${svg}")
    run_plot(bad line "${SAMPLE}" --filter "${pattern}" -o "${svg}")
    if(NOT bad_result EQUAL 1 OR NOT bad_stderr MATCHES "^bench_plot: error: --filter '" OR
       bad_stderr MATCHES "Traceback" OR EXISTS "${svg}")
      message(FATAL_ERROR "--filter '${pattern}' must fail with status 1 and a message, "
                          "writing nothing; got status ${bad_result}:\n${bad_stderr}")
    endif()
    message(STATUS "--filter '${pattern}' refused: ${bad_stderr}")
  endforeach()
else()
  message(FATAL_ERROR "CASE must be plots or bad_pattern, not '${CASE}'")
endif()

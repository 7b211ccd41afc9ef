# Runs the extractor on tests/data/docs/good.md and checks what it wrote.
execute_process(COMMAND "${EXTRACT}" "${OUTPUT}" "${INPUT}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "extractor failed (${rc}): ${err}")
endif()
if(NOT out MATCHES "^3 C\\+\\+ snippets from 1 Markdown files")
  message(FATAL_ERROR "expected 3 snippets, the extractor said: ${out}")
endif()
file(READ "${OUTPUT}" cpp)
foreach(expected
    "#include <vector>"
    "struct Widget { std::vector<int> parts; };"
    "void snippet(const Widget& w,\n     int n)"
    "\nint indented = 2;\n"
    "#line 7 ")
  string(FIND "${cpp}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the extracted file lacks '${expected}':\n${cpp}")
  endif()
endforeach()
string(FIND "${cpp}" "not C++" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "a ```sh block was extracted:\n${cpp}")
endif()

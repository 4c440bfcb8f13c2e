# Runs one example and compares its output with the expected text, byte for
# byte: cmake -DEXE=<program> -DEXPECTED=<file> [-DEMULATOR=<list>]
# [-DARGS=<list>] -P this, ARGS being the program's arguments. Fails when
# the program exits non-zero, writes to stderr, or its stdout differs from
# EXPECTED.
foreach(var EXE EXPECTED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_output.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(COMMAND ${EMULATOR} ${EXE} ${ARGS}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
file(READ "${EXPECTED}" want)

# message(NOTICE) prints the text as it is; FATAL_ERROR would reflow it.
if(NOT rc STREQUAL "0")
  message(NOTICE "${err}")
  message(FATAL_ERROR "${EXE} failed: ${rc}")
endif()
if(NOT err STREQUAL "")
  message(NOTICE "${err}")
  message(FATAL_ERROR "${EXE} wrote to stderr")
endif()
if(NOT out STREQUAL want)
  message(NOTICE "--- expected ---\n${want}--- got ---\n${out}--- end ---")
  message(FATAL_ERROR "${EXE}: output differs from ${EXPECTED}")
endif()

# `ofa config check` through the real binary: the default config passes (exit 0); an unknown key
# exits 2 naming the file, the line and the key path; an unknown carbon region exits 2 at load time.
execute_process(COMMAND ${OFA} config check ${SRC}/configs/fmnist.yaml RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "config check of configs/fmnist.yaml exited ${rc}")
endif()
set(bad ${CMAKE_CURRENT_BINARY_DIR}/bad_config_check.yaml)
file(WRITE ${bad} "include: ${SRC}/configs/fmnist.yaml\ntrain:\n  lrr: 0.1\n")
execute_process(COMMAND ${OFA} config check ${bad} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "unknown key: expected exit 2, got ${rc}: ${err}")
endif()
string(FIND "${err}" "${bad}:3: unknown key 'train.lrr'" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "message does not name file:line and key: ${err}")
endif()
message(STATUS "ok: ${err}")
# A carbon region the table does not know fails when the config is loaded, not after training.
execute_process(COMMAND ${OFA} config check ${SRC}/configs/fmnist.yaml --set energy.region=ATLANTIS
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
string(FIND "${err}" "unknown carbon region 'ATLANTIS'" pos)
if(NOT rc EQUAL 2 OR pos EQUAL -1)
  message(FATAL_ERROR "unknown energy.region: expected exit 2 naming it, got ${rc}: ${err}")
endif()

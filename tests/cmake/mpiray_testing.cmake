# Helpers that define mpiray's tests. Included from tests/CMakeLists.txt; usable in its
# subdirectories.

# Environment for everything launched through mpiexec: allow root (containers, CI) and silence
# the start-up banner.
set(MPIRAY_TEST_MPI_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;MPIRAY_QUIET=1")
set(MPIRAY_EXPECT_FAILURE ${CMAKE_CURRENT_LIST_DIR}/../expect_failure.sh)

# mpiray_add_unit_test(<area>.<name> SOURCES <files...> [TIMEOUT s])
# A plain GoogleTest executable (gtest_main) that links mpiray and sees src/ internals, registered
# as CTest entry unit.<area>.<name>. Unit tests never initialise MPI.
function(mpiray_add_unit_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  string(REPLACE "." "_" target "unit_${name}")
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE mpiray::mpiray GTest::gtest_main mpiray_warnings)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  add_dependencies(unit_tests ${target})
  add_test(NAME unit.${name} COMMAND ${target})
  set_tests_properties(unit.${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS unit)
endfunction()

# add_mpi_test(<name> NP <counts...> SOURCES <files...> [ARGS <program args...>] [TIMEOUT s])
# Builds one GoogleTest executable whose main runs the tests on rank 0 inside mpiray::run (see
# tests/mpi/mpi_test_main.hpp) and registers mpi.<name>.np<N> for every count N:
#   mpiexec -n N --oversubscribe <preflags> <exe> <postflags> <args>
# For N = 1 it also registers mpi.<name>.singleton, which runs <exe> <args> without mpiexec.
function(add_mpi_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "NP;SOURCES;ARGS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(NOT ARG_NP)
    message(FATAL_ERROR "add_mpi_test(${name}): NP <counts...> is required")
  endif()
  set(target mpi_${name})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE mpiray_mpi_test_main mpiray::mpiray GTest::gtest
                                          mpiray_warnings)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  foreach(np IN LISTS ARG_NP)
    set(test mpi.${name}.np${np})
    add_test(NAME ${test}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} --oversubscribe ${MPIEXEC_PREFLAGS}
              $<TARGET_FILE:${target}> ${MPIEXEC_POSTFLAGS} ${ARG_ARGS})
    set_tests_properties(${test} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS mpi
                                            ENVIRONMENT "${MPIRAY_TEST_MPI_ENV}")
    if(np EQUAL 1)
      set(test mpi.${name}.singleton)
      add_test(NAME ${test} COMMAND $<TARGET_FILE:${target}> ${ARG_ARGS})
      set_tests_properties(${test} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS mpi
                                              ENVIRONMENT "${MPIRAY_TEST_MPI_ENV}")
    endif()
  endforeach()
endfunction()

# mpiray_add_failure_test(<name> EXPECT <regex...> [EXPECT_ONCE <regex...>] COMMAND <cmd...>
#                         [ENV <VAR=value...>] [TIMEOUT s])
# Registers failure.<name>: runs <cmd> under tests/expect_failure.sh, which passes only if the
# command exits non-zero (and not by timing out) and its combined output matches every regex
# (each EXPECT_ONCE regex on exactly one line).
function(mpiray_add_failure_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "EXPECT;EXPECT_ONCE;COMMAND;ENV" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  set(patterns)
  foreach(re IN LISTS ARG_EXPECT)
    list(APPEND patterns -e "${re}")
  endforeach()
  foreach(re IN LISTS ARG_EXPECT_ONCE)  # on exactly one line of the output
    list(APPEND patterns -1 "${re}")
  endforeach()
  # The wrapper's own limit is shorter than CTest's, so a hang is reported as such.
  math(EXPR inner "${ARG_TIMEOUT} - 10")
  add_test(NAME failure.${name}
    COMMAND bash ${MPIRAY_EXPECT_FAILURE} --timeout ${inner} ${patterns} -- ${ARG_COMMAND})
  set(env ${MPIRAY_TEST_MPI_ENV} ${ARG_ENV})
  set_tests_properties(failure.${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS failure
                                                  ENVIRONMENT "${env}")
endfunction()

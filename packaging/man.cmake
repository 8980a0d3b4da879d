# One man page from a program's --help text with help2man (Debian package
# help2man), the version taken from the build (gen/VERSION) rather than from
# the program, so every page of one build carries the same version.
#   cmake -DHELP2MAN=... -DPROG=<path> -DNAME=<name> -DSECTION=<1|8>
#         -DDESC=<one line> -DVERSION_FILE=<gen/VERSION> -DOUT=<file> -P man.cmake
file(STRINGS "${VERSION_FILE}" version LIMIT_COUNT 1)
get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
execute_process(COMMAND "${HELP2MAN}" --no-info --no-discard-stderr --section=${SECTION}
                        --name=${DESC} --version-string=${version} --output=${OUT}.tmp ${PROG}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man ${NAME}: exit ${rc}")
endif()
file(RENAME "${OUT}.tmp" "${OUT}")

# Turn a data file into a C array at build time, so the binaries carry the
# shipped calendar and division list and need no install path to find them.
# Usage: cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN}; do not edit */\n#include <stddef.h>\n"
     "const unsigned char ${NAME}[] = {${body}0x00};\n"
     "const size_t ${NAME}_len = ${len};\n")

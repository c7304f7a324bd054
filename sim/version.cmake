# Writes sim/version.h from version.h.in at every build (not only at configure), so that
# `worldloop --version` names the commit the binary was really built from. The file is rewritten
# only when its content changes, so an unchanged tree rebuilds nothing.
# Inputs: SOURCE_DIR, INPUT, OUTPUT, PROJECT_VERSION, WL_BUILD_FLAVOUR, WL_GIT_COMMIT (optional).
if(NOT WL_GIT_COMMIT)
  execute_process(COMMAND git describe --always --dirty --abbrev=12 WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE WL_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(NOT WL_GIT_COMMIT)
  set(WL_GIT_COMMIT unknown)
endif()
configure_file(${INPUT} ${OUTPUT}.new @ONLY)
file(COPY_FILE ${OUTPUT}.new ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.new)

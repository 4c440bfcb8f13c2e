# weft_hook (include/weft/hook.h): libc's blocking calls made cooperative.
# Included from the top-level CMakeLists.txt after the weft target.
#
#   weft_hook        static; a program that links weft::weft_hook gets every
#                    interposer (weft_hook_enable() refers to them all) and
#                    exports them, so that calls from shared libraries reach
#                    them too.
#   weft_hook_shared libweft_hook.so for LD_PRELOAD: the hooks and weft itself,
#                    built position-independent (weft_pic), and the loader of
#                    main (src/hook_main.c).
set(WEFT_HOOK_SOURCES
  src/hook_core.c
  src/hook_dns.c
  src/hook_fd.c
  src/hook_io.c
  src/hook_poll.c
  src/hook_sleep.c
  src/hook_sock.c)
set(WEFT_HOOK_SYMBOLS
  read write readv writev recv recvfrom recvmsg send sendto sendmsg accept accept4
  connect poll ppoll select sleep usleep nanosleep clock_nanosleep close dup dup2 dup3
  fcntl fcntl64 ioctl setsockopt socket socketpair pipe pipe2 eventfd getaddrinfo)

add_library(weft_hook STATIC ${WEFT_HOOK_SOURCES})
add_library(weft::weft_hook ALIAS weft_hook)
target_include_directories(weft_hook PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_options(weft_hook PRIVATE ${WEFT_WARNINGS} -fno-strict-aliasing)
target_link_libraries(weft_hook PUBLIC weft ${CMAKE_DL_LIBS})
list(TRANSFORM WEFT_HOOK_SYMBOLS PREPEND "LINKER:--export-dynamic-symbol="
     OUTPUT_VARIABLE weft_hook_exports)
target_link_options(weft_hook INTERFACE ${weft_hook_exports})

# weft's own sources again, position-independent, for the shared library.
get_target_property(weft_pic_sources weft SOURCES)
add_library(weft_pic OBJECT ${weft_pic_sources})
set_target_properties(weft_pic PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_include_directories(weft_pic PUBLIC ${PROJECT_SOURCE_DIR}/include
                                    PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_options(weft_pic PRIVATE $<$<COMPILE_LANGUAGE:C>:${WEFT_WARNINGS} -fno-strict-aliasing>
                                        $<$<COMPILE_LANGUAGE:ASM>:-Wa,--noexecstack>)
get_target_property(weft_pic_defs weft COMPILE_DEFINITIONS)
if(weft_pic_defs)
  target_compile_definitions(weft_pic PRIVATE ${weft_pic_defs})
endif()

add_library(weft_hook_shared SHARED ${WEFT_HOOK_SOURCES} src/hook_main.c
            $<TARGET_OBJECTS:weft_pic>)
set_target_properties(weft_hook_shared PROPERTIES OUTPUT_NAME weft_hook)
target_include_directories(weft_hook_shared PRIVATE ${PROJECT_SOURCE_DIR}/include
                                                    ${PROJECT_SOURCE_DIR}/src)
target_compile_options(weft_hook_shared PRIVATE ${WEFT_WARNINGS} -fno-strict-aliasing)
target_link_libraries(weft_hook_shared PRIVATE Threads::Threads ${CMAKE_DL_LIBS})

# The launcher: runs a program built without weft with the shared library
# preloaded and its main() in weft tasks (weft-run -n N: N copies at once).
add_executable(weft-run src/hook_launch.c)
target_compile_options(weft-run PRIVATE ${WEFT_WARNINGS})
target_compile_definitions(weft-run PRIVATE
  WEFT_HOOK_LIB="$<TARGET_FILE:weft_hook_shared>")

install(TARGETS weft_hook EXPORT weftTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS weft_hook_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

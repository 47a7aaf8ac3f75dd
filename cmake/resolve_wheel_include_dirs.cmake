# ROS 2 installed from the PyPI wheels: their exported CMake targets list the include folders
# of the machine that built them (its Python headers and numpy's headers, under
# /opt/python/cp311-cp311/...). CMake refuses at generate time to use a target whose include
# folder is missing, so rosidl_generator_py's extension cannot link against them.
#
# fasthmr_resolve_wheel_include_dirs() replaces every missing include folder of the imported
# targets of this directory by this build's own Python / numpy include folder. On a regular ROS 2
# install (apt, source build) every folder exists and nothing changes.
function(fasthmr_resolve_wheel_include_dirs)
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development NumPy)
  get_directory_property(_targets IMPORTED_TARGETS)
  set(_fixed "")
  foreach(_target IN LISTS _targets)
    get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _dirs)
      continue()
    endif()
    set(_resolved "")
    set(_changed FALSE)
    foreach(_dir IN LISTS _dirs)
      if(_dir MATCHES "^/" AND NOT _dir MATCHES "\\$<" AND NOT EXISTS "${_dir}")
        set(_changed TRUE)
        if(_dir MATCHES "numpy")
          list(APPEND _resolved ${Python3_NumPy_INCLUDE_DIRS})
        elseif(_dir MATCHES "include/python[0-9]")
          list(APPEND _resolved ${Python3_INCLUDE_DIRS})
        endif()
      else()
        list(APPEND _resolved "${_dir}")
      endif()
    endforeach()
    if(_changed)
      list(REMOVE_DUPLICATES _resolved)
      list(APPEND _fixed ${_target})
      set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_resolved}")
    endif()
  endforeach()
  if(_fixed)
    list(LENGTH _fixed _count)
    message(STATUS "fasthmr_ros: missing include folders of ${_count} imported targets replaced by "
      "${Python3_INCLUDE_DIRS} ${Python3_NumPy_INCLUDE_DIRS}")
  endif()
endfunction()

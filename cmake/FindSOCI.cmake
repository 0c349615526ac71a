# SOCI 4.0.3 ships no CMake config or .pc file.
# Targets: SOCI::core, SOCI::sqlite3 (required), and SOCI::postgresql / SOCI::mysql when their
# SOCI backend and client library (libpq, libmariadb or libmysqlclient) are installed.
find_path(SOCI_INCLUDE_DIR soci/soci.h)
find_library(SOCI_CORE_LIBRARY soci_core)
find_library(SOCI_SQLITE3_LIBRARY soci_sqlite3)
find_library(SOCI_POSTGRESQL_LIBRARY soci_postgresql)
find_library(SOCI_MYSQL_LIBRARY soci_mysql)
find_package(SQLite3 REQUIRED)
# The backends' headers include the client libraries' headers (libpq-fe.h, mysql.h).
find_path(SOCI_LIBPQ_INCLUDE_DIR libpq-fe.h PATH_SUFFIXES postgresql)
find_library(SOCI_LIBPQ_LIBRARY pq)
# Debian's libsoci_mysql links libmariadb (libmariadb-dev); libmysqlclient works as well.
find_path(SOCI_MYSQL_CLIENT_INCLUDE_DIR mysql.h PATH_SUFFIXES mariadb mysql)
find_library(SOCI_MYSQL_CLIENT_LIBRARY NAMES mariadb mysqlclient)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SOCI DEFAULT_MSG SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY SOCI_SQLITE3_LIBRARY)
if(SOCI_FOUND AND NOT TARGET SOCI::core)
  add_library(SOCI::core UNKNOWN IMPORTED)
  set_target_properties(SOCI::core PROPERTIES IMPORTED_LOCATION ${SOCI_CORE_LIBRARY}
                        INTERFACE_INCLUDE_DIRECTORIES ${SOCI_INCLUDE_DIR}
                        INTERFACE_LINK_LIBRARIES ${CMAKE_DL_LIBS})
  add_library(SOCI::sqlite3 UNKNOWN IMPORTED)
  set_target_properties(SOCI::sqlite3 PROPERTIES IMPORTED_LOCATION ${SOCI_SQLITE3_LIBRARY}
                        INTERFACE_LINK_LIBRARIES "SOCI::core;SQLite::SQLite3")
  if(SOCI_POSTGRESQL_LIBRARY AND SOCI_LIBPQ_INCLUDE_DIR AND SOCI_LIBPQ_LIBRARY)
    add_library(SOCI::postgresql UNKNOWN IMPORTED)
    set_target_properties(SOCI::postgresql PROPERTIES IMPORTED_LOCATION ${SOCI_POSTGRESQL_LIBRARY}
                          INTERFACE_INCLUDE_DIRECTORIES ${SOCI_LIBPQ_INCLUDE_DIR}
                          INTERFACE_LINK_LIBRARIES "SOCI::core;${SOCI_LIBPQ_LIBRARY}")
  else()
    message(STATUS "SOCI: no PostgreSQL backend (need libsoci-dev and libpq-dev)")
  endif()
  if(SOCI_MYSQL_LIBRARY AND SOCI_MYSQL_CLIENT_INCLUDE_DIR AND SOCI_MYSQL_CLIENT_LIBRARY)
    add_library(SOCI::mysql UNKNOWN IMPORTED)
    set_target_properties(SOCI::mysql PROPERTIES IMPORTED_LOCATION ${SOCI_MYSQL_LIBRARY}
                          INTERFACE_INCLUDE_DIRECTORIES ${SOCI_MYSQL_CLIENT_INCLUDE_DIR}
                          INTERFACE_LINK_LIBRARIES "SOCI::core;${SOCI_MYSQL_CLIENT_LIBRARY}")
  else()
    message(STATUS "SOCI: no MySQL backend (need libsoci-dev and libmariadb-dev)")
  endif()
endif()

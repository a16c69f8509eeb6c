# Runs at install time (install(CODE) in install.cmake), for the prefix being installed to:
# writes natter.service and natter.conf with the installed paths into NATTER_GEN_DIR, from
# where the next install() rules copy them. Inputs: NATTER_PREFIX, NATTER_CONFIG_DIR,
# NATTER_BINDIR, NATTER_DATADIR, NATTER_DOCDIR (GNUInstallDirs, relative or absolute),
# NATTER_PKG_DIR (packaging/), NATTER_GEN_DIR.
foreach(dir BINDIR DATADIR DOCDIR)
  if(IS_ABSOLUTE "${NATTER_${dir}}")
    set(NATTER_FULL_${dir} "${NATTER_${dir}}")
  else()
    set(NATTER_FULL_${dir} "${NATTER_PREFIX}/${NATTER_${dir}}")
  endif()
endforeach()

# natter.service.in's placeholders.
set(NATTER_BIN_DIR "${NATTER_FULL_BINDIR}")
set(NATTER_DOC_DIR "${NATTER_FULL_DOCDIR}")
configure_file("${NATTER_PKG_DIR}/natter.service.in" "${NATTER_GEN_DIR}/natter.service" @ONLY)

# packaging/natter.conf is written for a /usr install with the configuration in /etc/natter.
file(READ "${NATTER_PKG_DIR}/natter.conf" conf)
string(REPLACE "/etc/natter" "${NATTER_CONFIG_DIR}" conf "${conf}")
string(REPLACE "/usr/share/natter/www" "${NATTER_FULL_DATADIR}/natter/www" conf "${conf}")
file(WRITE "${NATTER_GEN_DIR}/natter.conf" "${conf}")

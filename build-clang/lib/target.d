build-clang/lib/target.o: lib/target.c lib/target.h lib/error.h \
  lib/util.h

lib/target.h:

lib/error.h:

lib/util.h:

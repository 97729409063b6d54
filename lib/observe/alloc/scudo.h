/* scudo's own statistics, through its mallinfo2() (scudo.c says how, and
 * what is /proc's). */
#ifndef HEAPDOC_OBSERVE_ALLOC_SCUDO_H
#define HEAPDOC_OBSERVE_ALLOC_SCUDO_H

struct alloc_backend;
extern const struct alloc_backend scudo_backend;

#endif

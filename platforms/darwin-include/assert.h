/* A stand-in (see stdlib.h here): ring's debug-build checks. */
#define assert(e) ((void)0)

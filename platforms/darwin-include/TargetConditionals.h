/* A stand-in (see stdlib.h here) for the SDK header that says which Apple OS is the target. */
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0

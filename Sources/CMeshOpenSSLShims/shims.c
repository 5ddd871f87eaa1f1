/* The shims are static inline in the header; this file only gives SwiftPM a source to compile it with. */
#include "CMeshOpenSSLShims.h"

// SPDX-License-Identifier: GPL-2.0
/* alttcp: the tracepoints' definitions; trace.h describes them. */
#include <net/sock.h>

#define CREATE_TRACE_POINTS
#include "trace.h"

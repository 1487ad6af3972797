/* SPDX-License-Identifier: MIT */
#include "tcp_state.h"

const char *const tcs_names[TCS_COUNT] = {
    "",           "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
    "FIN_WAIT1",  "FIN_WAIT2",   "TIME_WAIT", "CLOSED",
    "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING",
};

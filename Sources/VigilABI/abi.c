/* The VigilABI target: the shared header (its static asserts run here) and the syscall
 * table's rows as data for the Swift side. */
#include "vigil_abi.h"

#define VIGIL_EVENT_ROW(ID, value_, name_, x86_64_, i386_, i386_old_, arm64_, socketcall_, capture_, groups_, \
                        state_, arguments_) \
    { .name = name_, .arguments = arguments_, .nr_x86_64 = x86_64_, .nr_i386 = i386_, .nr_i386_old = i386_old_, \
      .nr_arm64 = arm64_, .socketcall = socketcall_, .capture = capture_, .groups = groups_, .state = state_, \
      .id = value_ },

static const struct vigil_event_row rows[] = {
    VIGIL_SYSCALLS(VIGIL_EVENT_ROW)
    VIGIL_RECORD_EVENTS(VIGIL_EVENT_ROW)
};

const struct vigil_event_row *vigil_event_rows(__u32 *count)
{
    *count = (__u32)(sizeof(rows) / sizeof(rows[0]));
    return rows;
}

/* The VigilABI target holds only the shared header; this file gives the
 * target something to compile so that the header's static asserts run. */
#include "vigil_abi.h"

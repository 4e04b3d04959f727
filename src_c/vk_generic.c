/* Hot loops of vk_body.h compiled for the generic path (flags from the file name). */
#define VK_SFX generic
#include "vk_body.h"

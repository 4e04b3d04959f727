/* Hot loops of vk_body.h compiled for the avx2 path (flags from the file name). */
#define VK_SFX avx2
#include "vk_body.h"

/* Hot loops of vk_body.h compiled for the avx512 path (flags from the file name). */
#define VK_SFX avx512
#include "vk_body.h"

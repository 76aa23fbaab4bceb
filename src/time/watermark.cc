#include "weir/time/watermark.h"

#include "mqtt/topic.hpp"

#include "mqtt/error.hpp"

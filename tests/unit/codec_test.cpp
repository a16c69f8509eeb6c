#include <gtest/gtest.h>

#include "mqtt/codec.hpp"

TEST(Placeholder, Builds) { SUCCEED(); }

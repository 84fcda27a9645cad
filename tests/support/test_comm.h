// Access to the test process's communicator (set up by comm_main.cpp).
#pragma once
#include "dist/communicator.h"

ofa::dist::Communicator& test_comm();

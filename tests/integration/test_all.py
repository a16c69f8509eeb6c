"""Lets plain discovery run the whole broker suite from this directory:

    NATTER_BROKER=mosquitto /usr/bin/python3 -m unittest -v

(unittest discovers test*.py; the suite's modules are NN_x.py like mosquitto's
test/broker/, so they are loaded here.) CTest runs each module on its own.
"""

import importlib
import unittest

SUITE = ["01_connect", "02_subscribe", "03_publish", "04_retain", "05_will",
         "06_malformed", "07_mosquitto_clients", "08_persistence", "08_natter_pubsub",
         "09_listeners", "09_websockets", "09_tls", "09_http", "09_config", "10_passwd",
         "11_auth_login", "11_auth_acl", "12_crash", "13_natter_cli", "14_hostile", "15_ops",
         "16_chat", "17_bench_smoke"]


def load_tests(loader, standard_tests, pattern):
    suite = unittest.TestSuite()
    for name in SUITE:
        suite.addTests(loader.loadTestsFromModule(importlib.import_module(name)))
    return suite

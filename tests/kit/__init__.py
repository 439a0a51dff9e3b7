"""The test kit: builders, fakes, loopback servers and real-process helpers that every test uses."""

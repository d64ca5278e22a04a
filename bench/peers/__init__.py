"""The peers `make bench` measures the hub against: a few dozen lines each, as in their docs."""

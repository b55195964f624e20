"""`python -m orgo_operator run ...` is `orgo-operator run ...`."""
from orgo_operator.cli import main

main()

"""`python -m stylegan.cli` runs the command line."""
from . import main

main()

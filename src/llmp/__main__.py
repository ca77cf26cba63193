"""`python -m llmp`."""

from llmp.entry import main

main()

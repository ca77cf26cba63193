"""PyInstaller's entry script: the same entry point as the `llmp` console script."""

from llmp.entry import main

if __name__ == "__main__":
    main()

"""The kit's own tests run the contract inside pytester sessions, against fake providers."""

pytest_plugins = ["pytester"]

"""Domain actions shared by the API, the CLI and the tests."""

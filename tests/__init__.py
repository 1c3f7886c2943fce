"""headcheck's test suite (a package, so that every test imports helpers as `tests.x`)."""

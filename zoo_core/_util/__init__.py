"""Small helpers every layer of zoo_core may use: text, hashing, TOML. No third-party heavy imports."""

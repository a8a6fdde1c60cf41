"""DCS mission files (.miz) read safely: checked as archives, their Lua read as data only."""

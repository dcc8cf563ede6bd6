"""Test support: real servers speaking real protocols on 127.0.0.1, shared by test packages."""

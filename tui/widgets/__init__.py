"""Widgets of the mlgate TUI: evidence views and text charts."""

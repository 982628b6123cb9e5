"""The screens of the mlgate TUI, one module per screen (dialogs together)."""

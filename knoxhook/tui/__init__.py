"""The ``knoxhook ui`` terminal UI (Textual). Imported only by that command."""

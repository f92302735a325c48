"""``python -m knoxhook``."""

from knoxhook.cli.main import main

if __name__ == "__main__":
    main()

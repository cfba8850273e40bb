"""pledgewatch: track signed commitments, their deadlines and the news that follows them."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/pledgewatch/pledgewatch"
USER_AGENT = f"pledgewatch/{__version__} (+{PROJECT_URL})"
